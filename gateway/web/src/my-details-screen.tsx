// "My details" (issue 21): a patient sees their own record (GetPatient with their own id, the
// token's subject; never anyone else's) and changes what a patient may change: phone numbers, email,
// preferred language and contact consents. UpdatePatient sends the version read and only the fields
// changed (a consent left alone keeps when it was given); a VERSION_MISMATCH (the record changed
// meanwhile, at the desk or in another tab) says so and offers to reload, never overwrites.
import { useEffect, useState } from "react";
import { ContactChannel, type Consent, type Patient } from "../../../gen/medschedule/patient/v1/patient_pb.js";
import { api, newRequestId, type Session } from "./api.js";
import { PatientErrorBox } from "./patient-finder.js";
import { fullName } from "./patient-names.js";
import { explainPatientError, languageName, patientLang, text } from "./patient-text.js";
import { fmtBirthDate } from "./time-format.js";
import { FieldError, fieldProps, useAction, useAsync } from "./ui.js";

/** Draft is what the form edits. */
interface Draft {
  phones: string[];
  email: string;
  preferredLanguage: string;
  sms: boolean;
  emailConsent: boolean;
}

/** granted reads a channel's consent. */
function granted(p: Patient, channel: ContactChannel): boolean {
  return p.consents.find((c) => c.channel === channel)?.granted ?? false;
}

/** draftOf is the form's starting point: the record as read. */
function draftOf(p: Patient): Draft {
  return {
    phones: p.phones.length ? [...p.phones] : [""],
    email: p.email,
    // The language as stored: one other than Turkish or English ("de", "en-GB") is shown as itself
    // and kept until the patient picks another, never saved as a language they did not choose.
    preferredLanguage: p.preferredLanguage,
    sms: granted(p, ContactChannel.SMS),
    emailConsent: granted(p, ContactChannel.EMAIL),
  };
}

/** languageChoices are the languages a patient may pick (Turkish, English) and the one stored, when it is neither. */
function languageChoices(stored: string): string[] {
  return stored === "" || stored === "tr" || stored === "en" ? ["tr", "en"] : [stored, "tr", "en"];
}

/** changes lists the update_mask paths and values a draft changes in the record. */
function changes(p: Patient, d: Draft): { paths: string[]; patient: Partial<Pick<Patient, "phones" | "email" | "preferredLanguage" | "consents">> } {
  const paths: string[] = [];
  const patient: Partial<Pick<Patient, "phones" | "email" | "preferredLanguage" | "consents">> = {};
  const phones = d.phones.map((x) => x.trim()).filter(Boolean);
  if (phones.join("\n") !== p.phones.join("\n")) (paths.push("phones"), (patient.phones = phones));
  if (d.email.trim() !== p.email) (paths.push("email"), (patient.email = d.email.trim()));
  if (d.preferredLanguage !== p.preferredLanguage) (paths.push("preferred_language"), (patient.preferredLanguage = d.preferredLanguage));
  const want = new Map([
    [ContactChannel.SMS, d.sms],
    [ContactChannel.EMAIL, d.emailConsent],
  ]);
  if ([...want].some(([ch, g]) => granted(p, ch) !== g)) {
    paths.push("consents");
    // An unchanged channel is sent as it was read (with when it was recorded); a changed one without, so the server records now.
    patient.consents = [...want].map(([channel, g]) => {
      const old = p.consents.find((c) => c.channel === channel);
      return (old && old.granted === g ? old : { channel, granted: g }) as Consent;
    });
  }
  return { paths, patient };
}

/** MyDetailsScreen is the patient's own record. */
export function MyDetailsScreen({ session }: { session: Session }) {
  const lang = patientLang();
  const w = text(lang);
  const me = useAsync((signal) => api.patient.getPatient({ patientId: session.subject }, { signal }).then((r) => r.patient!), [session.subject]);
  const [draft, setDraft] = useState<Draft | undefined>();
  const [saved, setSaved] = useState("");
  useEffect(() => {
    if (me.data) setDraft(draftOf(me.data));
  }, [me.data]);
  const save = useAction(async () => {
    const p = me.data!;
    const { paths, patient } = changes(p, draft!);
    if (paths.length === 0) return setSaved(w.nothingChanged);
    await api.patient.updatePatient({ requestId: newRequestId(), patient: { ...patient, patientId: p.patientId, version: p.version }, updateMask: { paths } });
    setSaved(w.saved);
    me.reload();
  });
  const explained = save.error !== undefined ? explainPatientError(save.error, lang) : undefined;
  const stale = explained?.reason === "VERSION_MISMATCH";
  const reload = () => {
    save.clear();
    setSaved("");
    me.reload();
  };
  const p = me.data;
  const set = (patch: Partial<Draft>) => {
    setSaved("");
    setDraft((d) => (d ? { ...d, ...patch } : d));
  };
  const phonesError = explained?.fields.phones;
  const emailError = explained?.fields.email;
  const langError = explained?.fields.preferredLanguage;
  const consentError = explained?.fields.consents;
  return (
    <section className="my-details" lang={lang}>
      <h1>{w.myDetailsHeading}</h1>
      {me.loading && !p && (
        <p className="loading" role="status">
          {w.loading}
        </p>
      )}
      {me.error !== undefined && <PatientErrorBox error={me.error} lang={lang} onRetry={me.reload} />}
      {p && draft && (
        <form
          className="panel"
          onSubmit={(e) => {
            e.preventDefault();
            void save.run();
          }}
        >
          <p className="lead" data-testid="my-name">
            {fullName(p)}
          </p>
          <p className="muted small" data-testid="my-birth-date">
            {w.birthDate}: {fmtBirthDate(p.birthDate)}
          </p>
          <fieldset className="phones" aria-describedby={phonesError ? "my-phones-error" : undefined}>
            <legend>{w.phones}</legend>
            {draft.phones.map((ph, i) => (
              <div className="row nowrap" key={i}>
                <label className="grow">
                  {`${w.phone} ${i + 1}`}
                  <input
                    id={`my-phone-${i}`}
                    type="tel"
                    inputMode="tel"
                    value={ph}
                    onChange={(e) => set({ phones: draft.phones.map((x, j) => (j === i ? e.target.value : x)) })}
                    {...fieldProps(phonesError, "my-phones-error")}
                  />
                </label>
                {draft.phones.length > 1 && (
                  <button type="button" className="link danger" onClick={() => set({ phones: draft.phones.filter((_, j) => j !== i) })}>
                    {w.removePhone({ n: i + 1 })}
                  </button>
                )}
              </div>
            ))}
            <FieldError id="my-phones-error" message={phonesError} />
            {draft.phones.length < 5 && (
              <button type="button" onClick={() => set({ phones: [...draft.phones, ""] })}>
                {w.addPhone}
              </button>
            )}
          </fieldset>
          <label>
            <span id="my-email-label">{w.email}</span>
            <input id="my-email" aria-labelledby="my-email-label" type="email" value={draft.email} onChange={(e) => set({ email: e.target.value })} {...fieldProps(emailError, "my-email-error")} />
            <FieldError id="my-email-error" message={emailError} />
          </label>
          <label>
            <span id="my-language-label">{w.language}</span>
            <select id="my-language" aria-labelledby="my-language-label" value={draft.preferredLanguage} onChange={(e) => set({ preferredLanguage: e.target.value })} {...fieldProps(langError, "my-language-error")}>
              {p.preferredLanguage === "" && <option value="">—</option>}
              {languageChoices(p.preferredLanguage).map((tag) => (
                <option key={tag} value={tag}>
                  {languageName(tag, lang)}
                </option>
              ))}
            </select>
            <FieldError id="my-language-error" message={langError} />
          </label>
          <fieldset className="consents">
            <legend>{w.consents}</legend>
            <label className="check">
              <input type="checkbox" id="my-sms" checked={draft.sms} onChange={(e) => set({ sms: e.target.checked })} />
              {w.consentSms}
            </label>
            <label className="check">
              <input type="checkbox" id="my-email-consent" checked={draft.emailConsent} onChange={(e) => set({ emailConsent: e.target.checked })} />
              {w.consentEmail}
            </label>
            <FieldError id="my-consents-error" message={consentError} />
          </fieldset>
          <div className="row">
            <button type="submit" className="primary" id="my-save" disabled={save.pending || stale}>
              {w.save}
            </button>
          </div>
          {save.error !== undefined && (
            <PatientErrorBox error={save.error} lang={lang}>
              {stale && (
                <button type="button" id="my-reload" onClick={reload}>
                  {w.reload}
                </button>
              )}
            </PatientErrorBox>
          )}
          {saved && save.error === undefined && (
            <p className="notice" role="status" data-testid="my-saved">
              {saved}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
