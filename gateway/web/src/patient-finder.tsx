// Finding and registering patients at the desk (issue 21): one search box whose input is read by its
// shape (a name fragment, a date of birth, a phone, a T.C. Kimlik No or a medical record number:
// patient-text.ts's detectQuery), at most 20 results as a list of buttons (names, date of birth and
// medical record number only, as SearchPatients answers), and the registration form whose field
// errors from the service are shown next to their inputs. PatientField puts both in front of the
// booking and walk-in forms; a typed patient id stays possible for older ids.
import { useEffect, useId, useState, type InputHTMLAttributes, type ReactNode } from "react";
import { ContactChannel, Gender, type Patient, type PatientSummary } from "../../../gen/medschedule/patient/v1/patient_pb.js";
import type { SearchPatientsRequest } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { api, newRequestId, type Session } from "./api.js";
import { listAll } from "./paging.js";
import { fullName, mayReadPatients, usePatientNames } from "./patient-names.js";
import { detectQuery, explainPatientError, patientLang, text, type Lang } from "./patient-text.js";
import { fmtBirthDate } from "./time-format.js";
import { ErrorBox, FieldError, fieldProps, useAction, useAsync } from "./ui.js";

/** PAGE_SIZE is the most results a search shows (SearchPatients answers at most 20). */
const PAGE_SIZE = 20;

/** Picked is a patient chosen at the desk: the id and the name to show. */
export interface Picked {
  /** patientId is the record's id. */
  patientId: string;
  /** name is the patient's full name. */
  name: string;
  /** searchReason is the break-the-glass reason of the search that found them (offered again, never sent unasked, when their record is opened). */
  searchReason?: string;
}

/** PatientErrorBox shows a patient service error in the screen's language; `withFields` adds the field errors (for a form without those inputs). */
export function PatientErrorBox({ error, lang, onRetry, withFields, children }: { error: unknown; lang: Lang; onRetry?: () => void; withFields?: boolean; children?: ReactNode }) {
  const e = explainPatientError(error, lang);
  const shown = withFields && Object.keys(e.fields).length ? { ...e, action: Object.values(e.fields).join(" ") } : e;
  return (
    <ErrorBox error={error} explained={shown} labels={text(lang)} onRetry={onRetry}>
      {children}
    </ErrorBox>
  );
}

/**
 * needsAccessReason tells whether an error of a record call asks for a break-the-glass reason: the
 * record is outside the caller's locations (ACCESS_REASON_REQUIRED), or the reason sent was refused.
 */
export function needsAccessReason(error: unknown, lang: Lang): { serverError?: string } | undefined {
  if (error === undefined) return undefined;
  const e = explainPatientError(error, lang);
  if (e.fields.accessReason) return { serverError: e.fields.accessReason };
  return e.reason === "ACCESS_REASON_REQUIRED" ? {} : undefined;
}

/** ACCESS_REASON_MIN and ACCESS_REASON_MAX bound a break-the-glass reason, as the patient service does (patient-fields.validation.ts). */
const ACCESS_REASON_MIN = 10;
const ACCESS_REASON_MAX = 500;

/** accessReasonProblem says what is wrong with a typed break-the-glass reason, or undefined when it may be sent. */
export function accessReasonProblem(reason: string, lang: Lang): string | undefined {
  const w = text(lang);
  const n = [...reason.trim()].length;
  return n < ACCESS_REASON_MIN ? w.accessReasonShort : n > ACCESS_REASON_MAX ? w.accessReasonLong : undefined;
}

/**
 * AccessReasonForm asks staff why they need a record outside their locations (break-the-glass):
 * `explain` says what happens, a labelled box takes the reason (10-500 characters, checked here
 * before anything is sent, and the server's own refusal of it shown under the box), and `onSubmit`
 * gets it trimmed to retry the very call it is for. `initial` prefills the box; it is still sent
 * only when staff press the button.
 */
export function AccessReasonForm({
  lang,
  idPrefix,
  explain,
  submitLabel,
  initial = "",
  pending,
  serverError,
  onSubmit,
}: {
  lang: Lang;
  idPrefix: string;
  explain?: string;
  submitLabel: string;
  initial?: string;
  pending?: boolean;
  serverError?: string;
  onSubmit(reason: string): void;
}) {
  const w = text(lang);
  const [reason, setReason] = useState(initial);
  const [problem, setProblem] = useState<string | undefined>();
  const id = `${idPrefix}-access-reason`;
  const message = problem ?? serverError;
  return (
    <form
      className="access-reason"
      data-testid={id}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const p = accessReasonProblem(reason, lang);
        setProblem(p);
        if (!p) onSubmit(reason.trim());
      }}
    >
      {explain && <p>{explain}</p>}
      <label htmlFor={id}>{w.accessReasonLabel}</label>
      <textarea
        id={id}
        rows={3}
        maxLength={ACCESS_REASON_MAX}
        value={reason}
        onChange={(e) => (setReason(e.target.value), setProblem(undefined))}
        aria-describedby={message ? `${id}-hint ${id}-error` : `${id}-hint`}
        aria-invalid={message ? true : undefined}
      />
      <p className="muted small" id={`${id}-hint`}>
        {w.accessReasonHint}
      </p>
      <FieldError id={`${id}-error`} message={message} />
      <button type="submit" id={`${id}-go`} disabled={pending}>
        {submitLabel}
      </button>
    </form>
  );
}

/** PatientSearch is the search box and its results; choosing a result calls onPick. */
export function PatientSearch({ session, lang, onPick, idPrefix = "patient" }: { session?: Session; lang: Lang; onPick(p: Picked): void; idPrefix?: string }) {
  const w = text(lang);
  const [input, setInput] = useState("");
  const [shown, setShown] = useState<ReturnType<typeof detectQuery> | undefined>();
  // A search of every location (break-the-glass) carries the reason given for that one search; the
  // next search asks again.
  const [askReason, setAskReason] = useState(false);
  const search = useAction(async (q: ReturnType<typeof detectQuery>, reason?: string) => {
    const accessReason = reason ?? "";
    const req: Omit<Partial<SearchPatientsRequest>, "$typeName"> = { pageSize: PAGE_SIZE, accessReason };
    if (q.kind === "name") req.query = q.value;
    else if (q.kind === "birthDate") req.birthDate = q.value;
    else if (q.kind === "phone") req.phone = q.value;
    else if (q.kind === "nationalId") req.nationalId = q.value;
    else if (q.kind === "medicalRecordNumber") req.medicalRecordNumber = q.value;
    const res = await api.patient.searchPatients(req);
    return { patients: res.patients.slice(0, PAGE_SIZE), more: Boolean(res.nextPageToken) || res.patients.length > PAGE_SIZE, accessReason };
  });
  const submit = () => {
    const q = detectQuery(input);
    setShown(q);
    setAskReason(false);
    if (q.kind === "empty" || q.kind === "tooShort") return search.clear();
    void search.run(q);
  };
  const hintId = `${idPrefix}-search-hint`;
  const statusId = `${idPrefix}-search-status`;
  const searchable = shown && shown.kind !== "empty" && shown.kind !== "tooShort";
  const found = search.result;
  const reasoned = found?.accessReason ?? "";
  // Staff bound to locations may look beyond them with a reason; staff of every location need none.
  const mayBreakGlass = Boolean(session?.locations);
  return (
    <div className="patient-search">
      <form
        className="row wrap"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label className="grow">
          {w.searchLabel}
          <input id={`${idPrefix}-search`} type="search" value={input} onChange={(e) => setInput(e.target.value)} autoComplete="off" aria-describedby={hintId} />
        </label>
        <button type="submit" id={`${idPrefix}-search-go`} disabled={search.pending}>
          {w.searchButton}
        </button>
      </form>
      <p className="muted small" id={hintId}>
        {w.searchHint}
      </p>
      <p className="small" id={statusId} role="status" aria-live="polite" data-testid={`${idPrefix}-search-status`} data-kind={shown?.kind}>
        {shown?.kind === "tooShort" ? w.tooShort : searchable ? (search.pending ? w.searching : w.searchingBy[shown.kind as keyof typeof w.searchingBy]) : ""}
      </p>
      {search.error !== undefined && <PatientErrorBox error={search.error} lang={lang} onRetry={submit} withFields />}
      {found && found.patients.length === 0 && <p data-testid={`${idPrefix}-no-matches`}>{w.noMatches}</p>}
      {found && !reasoned && !askReason && mayBreakGlass && (
        <button type="button" className="link" id={`${idPrefix}-search-all`} onClick={() => setAskReason(true)}>
          {w.searchAllLocations}
        </button>
      )}
      {askReason && shown && searchable && (
        <AccessReasonForm
          lang={lang}
          idPrefix={`${idPrefix}-search`}
          explain={w.searchAllExplain}
          submitLabel={w.searchAllLocations}
          pending={search.pending}
          onSubmit={(reason) => {
            setAskReason(false);
            void search.run(shown, reason);
          }}
        />
      )}
      {found && found.patients.length > 0 && (
        <ul className="cards patient-results" aria-label={w.resultsLabel} data-testid={`${idPrefix}-results`}>
          {found.patients.map((p) => (
            <li key={p.patientId}>
              <PatientButton p={p} lang={lang} onPick={(picked) => onPick(reasoned ? { ...picked, searchReason: reasoned } : picked)} />
            </li>
          ))}
        </ul>
      )}
      {found?.more && <p className="muted small">{w.moreMatches}</p>}
    </div>
  );
}

/** PatientButton is one search result: names, date of birth and medical record number. */
function PatientButton({ p, lang, onPick }: { p: PatientSummary; lang: Lang; onPick(p: Picked): void }) {
  const w = text(lang);
  const name = fullName(p);
  return (
    <button type="button" className="patient-result" data-patient={p.patientId} onClick={() => onPick({ patientId: p.patientId, name })}>
      <strong>{name}</strong>
      <span className="muted small">
        {w.dob} {fmtBirthDate(p.birthDate)}
        {p.medicalRecordNumber ? ` · ${w.mrn} ${p.medicalRecordNumber}` : ""}
      </span>
    </button>
  );
}

/** RegisterPatient is the registration form; `onRegistered` gets the new record. */
export function RegisterPatient({ session, lang, onRegistered, onCancel }: { session: Session; lang: Lang; onRegistered(p: Patient): void; onCancel?: () => void }) {
  const w = text(lang);
  const uid = useId().replace(/:/g, "");
  const [f, setF] = useState({
    givenName: "",
    familyName: "",
    birthDate: "",
    gender: Gender.UNSPECIFIED,
    phone: "",
    email: "",
    preferredLanguage: lang as string,
    sms: false,
    emailConsent: false,
    nationalId: "",
    medicalRecordNumber: "",
    locationId: session.locations?.[0] ?? "",
  });
  const set = <K extends keyof typeof f>(k: K, v: (typeof f)[K]) => setF((old) => ({ ...old, [k]: v }));
  // The receptionist registers at their own location: the token's, or (for staff of every location) one they choose.
  const locations = useAsync(
    (signal) => listAll((pageToken) => api.scheduling.listLocations({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.locations, nextPageToken: r.nextPageToken }))),
    [],
  );
  const mine = (locations.data?.items ?? []).filter((l) => !session.locations || session.locations.includes(l.locationId));
  useEffect(() => {
    if (!f.locationId && mine[0]) set("locationId", mine.find((l) => l.locationId === "default")?.locationId ?? mine[0].locationId);
  }, [mine.length]);
  const create = useAction(async () => {
    const res = await api.patient.createPatient({
      requestId: newRequestId(),
      givenName: f.givenName.trim(),
      familyName: f.familyName.trim(),
      birthDate: f.birthDate,
      gender: f.gender,
      phones: f.phone.trim() ? [f.phone.trim()] : [],
      email: f.email.trim(),
      preferredLanguage: f.preferredLanguage,
      consents: [
        { channel: ContactChannel.SMS, granted: f.sms },
        { channel: ContactChannel.EMAIL, granted: f.emailConsent },
      ],
      locationId: f.locationId,
      nationalId: f.nationalId.replace(/\s/g, ""),
      medicalRecordNumber: f.medicalRecordNumber.trim(),
    });
    onRegistered(res.patient!);
    return res.patient;
  });
  const explained = create.error !== undefined ? explainPatientError(create.error, lang) : undefined;
  const err = (field: string) => explained?.fields[field];
  const input = (field: keyof typeof f & string, label: string, props: InputHTMLAttributes<HTMLInputElement> = {}) => {
    const id = `${uid}-${field}`;
    const message = err(field === "phone" ? "phones" : field);
    return (
      <label>
        <span id={`${id}-label`}>{label}</span>
        <input id={id} name={field} aria-labelledby={`${id}-label`} value={String(f[field])} onChange={(e) => set(field, e.target.value as never)} {...props} {...fieldProps(message, `${id}-error`)} />
        <FieldError id={`${id}-error`} message={message} />
      </label>
    );
  };
  const genderError = err("gender");
  const langError = err("preferredLanguage");
  const consentError = err("consents");
  const locationError = err("locationId");
  return (
    <form
      className="panel register-patient"
      aria-labelledby={`${uid}-h`}
      data-testid="register-patient"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2 id={`${uid}-h`}>{w.registerHeading}</h2>
      <div className="form-grid">
        {input("givenName", w.givenName, { required: true, maxLength: 100, autoComplete: "off" })}
        {input("familyName", w.familyName, { required: true, maxLength: 100, autoComplete: "off" })}
        {input("birthDate", w.birthDate, { type: "date", required: true })}
        <label>
          <span id={`${uid}-gender-label`}>{w.gender}</span>
          <select id={`${uid}-gender`} aria-labelledby={`${uid}-gender-label`} value={f.gender} onChange={(e) => set("gender", Number(e.target.value) as Gender)} {...fieldProps(genderError, `${uid}-gender-error`)}>
            <option value={Gender.UNSPECIFIED}>{w.genders.unspecified}</option>
            <option value={Gender.FEMALE}>{w.genders.female}</option>
            <option value={Gender.MALE}>{w.genders.male}</option>
            <option value={Gender.OTHER}>{w.genders.other}</option>
            <option value={Gender.UNKNOWN}>{w.genders.unknown}</option>
          </select>
          <FieldError id={`${uid}-gender-error`} message={genderError} />
        </label>
        {input("phone", w.phone, { type: "tel", autoComplete: "off", inputMode: "tel" })}
        {input("email", w.email, { type: "email", autoComplete: "off" })}
        <label>
          <span id={`${uid}-language-label`}>{w.language}</span>
          <select id={`${uid}-language`} aria-labelledby={`${uid}-language-label`} value={f.preferredLanguage} onChange={(e) => set("preferredLanguage", e.target.value)} {...fieldProps(langError, `${uid}-language-error`)}>
            <option value="tr">{w.languages.tr}</option>
            <option value="en">{w.languages.en}</option>
          </select>
          <FieldError id={`${uid}-language-error`} message={langError} />
        </label>
        {input("nationalId", `${w.nationalId} (${w.optional})`, { inputMode: "numeric", autoComplete: "off", maxLength: 11 })}
        {input("medicalRecordNumber", `${w.medicalRecordNumber} (${w.optional})`, { autoComplete: "off", maxLength: 32 })}
        {mine.length > 1 ? (
          <label>
            <span id={`${uid}-location-label`}>{w.location}</span>
            <select id={`${uid}-location`} aria-labelledby={`${uid}-location-label`} value={f.locationId} onChange={(e) => set("locationId", e.target.value)} {...fieldProps(locationError, `${uid}-location-error`)}>
              {mine.map((l) => (
                <option key={l.locationId} value={l.locationId}>
                  {l.displayName}
                </option>
              ))}
            </select>
            <FieldError id={`${uid}-location-error`} message={locationError} />
          </label>
        ) : (
          <p className="muted small">
            {w.location}: {mine[0]?.displayName ?? f.locationId}
            <FieldError id={`${uid}-location-error`} message={locationError} />
          </p>
        )}
      </div>
      <fieldset className="consents" aria-describedby={consentError ? `${uid}-consents-error` : undefined}>
        <legend>{w.consents}</legend>
        <label className="check">
          <input type="checkbox" id={`${uid}-sms`} checked={f.sms} onChange={(e) => set("sms", e.target.checked)} />
          {w.consentSms}
        </label>
        <label className="check">
          <input type="checkbox" id={`${uid}-email-consent`} checked={f.emailConsent} onChange={(e) => set("emailConsent", e.target.checked)} />
          {w.consentEmail}
        </label>
        <FieldError id={`${uid}-consents-error`} message={consentError} />
      </fieldset>
      <div className="row">
        <button type="submit" className="primary" id="register-save" disabled={create.pending}>
          {w.save}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            {w.cancel}
          </button>
        )}
      </div>
      {create.error !== undefined && <PatientErrorBox error={create.error} lang={lang} />}
    </form>
  );
}

/** PatientFinder is search plus registration: what the desk uses to choose the patient. */
export function PatientFinder({ session, lang, onPick, idPrefix = "patient" }: { session: Session; lang: Lang; onPick(p: Picked): void; idPrefix?: string }) {
  const w = text(lang);
  const [registering, setRegistering] = useState(false);
  const [registered, setRegistered] = useState("");
  return (
    <div className="patient-finder">
      <PatientSearch session={session} lang={lang} idPrefix={idPrefix} onPick={(p) => (setRegistered(""), onPick(p))} />
      {!registering && (
        <button type="button" id={`${idPrefix}-new`} onClick={() => (setRegistering(true), setRegistered(""))}>
          {w.newPatient}
        </button>
      )}
      {registering && (
        <RegisterPatient
          session={session}
          lang={lang}
          onCancel={() => setRegistering(false)}
          onRegistered={(p) => {
            setRegistering(false);
            const name = fullName(p);
            setRegistered(w.registered({ name }));
            onPick({ patientId: p.patientId, name });
          }}
        />
      )}
      {registered && (
        <p className="notice" role="status" data-testid={`${idPrefix}-registered`}>
          {registered}
        </p>
      )}
    </div>
  );
}

/**
 * PatientField is how staff name the patient of a booking or a ticket: the chosen patient's name,
 * "Change" to search again (or register), and the patient id input kept for older ids (`id` is that
 * input's id; the server's field error for patientId is shown under it).
 */
export function PatientField({
  session,
  id,
  value,
  onChange,
  error,
  optional = false,
}: {
  session: Session;
  id: string;
  value: string;
  onChange(patientId: string): void;
  error: string | undefined;
  optional?: boolean;
}) {
  const lang = patientLang();
  const w = text(lang);
  // The name of the id the field starts with (from Patients' "Book an appointment") is read once; a
  // typed id is not looked up on each keystroke (every read of a record is audited).
  const [initial] = useState(value.trim());
  const names = usePatientNames(session, initial ? [initial] : []);
  const name = value.trim() ? names.name(value.trim()) : undefined;
  const [searching, setSearching] = useState(!value.trim());
  const directory = mayReadPatients(session);
  // After a pick the search is gone: the keyboard's focus goes to the chosen patient's "Change".
  const [justPicked, setJustPicked] = useState(false);
  useEffect(() => {
    if (justPicked && name) {
      setJustPicked(false);
      document.getElementById(`${id}-change`)?.focus();
    }
  }, [justPicked, name]);
  return (
    <div className="patient-field" data-testid={`${id}-field`}>
      {name && !searching && (
        <p className="picked" data-testid={`${id}-picked`} data-patient={value.trim()}>
          <span className="muted small">{w.picked}: </span>
          <strong>{name}</strong>{" "}
          <button type="button" className="link" id={`${id}-change`} onClick={() => setSearching(true)}>
            {w.change}
          </button>
        </p>
      )}
      {directory && (searching || !name) && (
        <PatientFinder
          session={session}
          lang={lang}
          idPrefix={id}
          onPick={(p) => {
            names.remember(p.patientId, p.name);
            onChange(p.patientId);
            setSearching(false);
            setJustPicked(true);
          }}
        />
      )}
      <label>
        {directory ? `${w.orTypeId}${optional ? ` (${w.optional})` : ""}` : `Patient id${optional ? " (optional)" : ""}`}
        <input id={id} value={value} onChange={(e) => onChange(e.target.value)} placeholder="e.g. p-1234" autoComplete="off" {...fieldProps(error, `${id}-error`)} />
        <FieldError id={`${id}-error`} message={error} />
      </label>
    </div>
  );
}
