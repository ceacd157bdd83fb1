// Patients (issue 21): reception finds a patient (or registers a new one), sees who they are, and
// goes on to book for them. The record shown is what the desk needs to tell the patient apart and
// reach them (phones as dialled: phone-format.ts), with the notes for staff and the related persons
// (guardian, emergency contact); a patient's own screen never shows those. A record outside the
// caller's locations (ACCESS_REASON_REQUIRED) is opened only with a reason staff type for that
// record (break-the-glass, audited by the service): the reason belongs to that one patient, is
// forgotten when another is picked, and is never sent by the name look-ups of other screens.
import { useState } from "react";
import { Relationship, type Patient } from "../../../gen/medschedule/patient/v1/patient_pb.js";
import { api, type Session } from "./api.js";
import { navigate } from "./app.js";
import { AccessReasonForm, needsAccessReason, PatientErrorBox, PatientFinder, type Picked } from "./patient-finder.js";
import { fullName } from "./patient-names.js";
import { patientLang, text, type Lang, type PatientText } from "./patient-text.js";
import { usePhoneFormat } from "./phone-format.js";
import { fmtBirthDate } from "./time-format.js";
import { useAsync } from "./ui.js";

/** RELATIONSHIP_KEYS names each Relationship in the dictionaries. */
const RELATIONSHIP_KEYS: Record<Relationship, keyof PatientText["relationships"]> = {
  [Relationship.UNSPECIFIED]: "unspecified",
  [Relationship.GUARDIAN]: "guardian",
  [Relationship.EMERGENCY_CONTACT]: "emergencyContact",
  [Relationship.PARENT]: "parent",
  [Relationship.SPOUSE]: "spouse",
  [Relationship.CHILD]: "child",
  [Relationship.SIBLING]: "sibling",
  [Relationship.OTHER]: "other",
};

/** PatientsScreen is the desk's patient directory. */
export function PatientsScreen({ session }: { session: Session }) {
  const lang = patientLang();
  const w = text(lang);
  const [picked, setPickedState] = useState<Picked | undefined>();
  // The break-the-glass reason given for one record: sent for that record only.
  const [reason, setReason] = useState<{ patientId: string; text: string } | undefined>();
  const setPicked = (p: Picked) => {
    setReason(undefined);
    setPickedState(p);
  };
  const accessReason = picked && reason?.patientId === picked.patientId ? reason.text : "";
  const record = useAsync(
    (signal) => api.patient.getPatient({ patientId: picked!.patientId, accessReason }, { signal }).then((r) => r.patient!),
    [picked?.patientId, accessReason],
    { enabled: Boolean(picked) },
  );
  const p = record.data?.patientId === picked?.patientId ? record.data : undefined;
  const ask = needsAccessReason(record.error, lang);
  return (
    <section className="patients" lang={lang}>
      <h1>{w.searchHeading}</h1>
      <div className="grid">
        <div className="panel">
          <PatientFinder session={session} lang={lang} idPrefix="directory" onPick={setPicked} />
        </div>
        {picked && (
          <section className="panel" aria-labelledby="picked-h" data-testid="picked-patient" data-patient={picked.patientId}>
            <h2 id="picked-h">{p ? fullName(p) : picked.name}</h2>
            {record.error !== undefined && (
              <PatientErrorBox error={record.error} lang={lang} onRetry={ask ? undefined : record.reload}>
                {ask && (
                  <AccessReasonForm
                    key={picked.patientId}
                    lang={lang}
                    idPrefix="record"
                    submitLabel={w.openWithReason}
                    initial={picked.searchReason}
                    pending={record.loading}
                    serverError={ask.serverError}
                    onSubmit={(text) => (text === accessReason ? record.reload() : setReason({ patientId: picked.patientId, text }))}
                  />
                )}
              </PatientErrorBox>
            )}
            {p && <PatientFacts p={p} lang={lang} />}
            <a
              className="button primary"
              id="book-for"
              href={`/booking?patient=${encodeURIComponent(picked.patientId)}`}
              onClick={(e) => {
                e.preventDefault();
                navigate(`/booking?patient=${encodeURIComponent(picked.patientId)}`);
              }}
            >
              {w.bookFor}
            </a>
          </section>
        )}
      </div>
    </section>
  );
}

/** PatientFacts is the record as staff read it: date of birth, record number, phones as dialled, email, related persons and notes. */
function PatientFacts({ p, lang }: { p: Patient; lang: Lang }) {
  const w = text(lang);
  const fmtPhone = usePhoneFormat();
  return (
    <dl className="facts" data-testid="patient-facts">
      <dt>{w.birthDate}</dt>
      <dd>{fmtBirthDate(p.birthDate)}</dd>
      {p.medicalRecordNumber && (
        <>
          <dt>{w.medicalRecordNumber}</dt>
          <dd>{p.medicalRecordNumber}</dd>
        </>
      )}
      {p.phones.length > 0 && (
        <>
          <dt>{w.phones}</dt>
          <dd data-testid="patient-phones">
            {p.phones.map((ph, i) => (
              <span key={i}>
                {i > 0 && ", "}
                <a href={`tel:${ph}`}>{fmtPhone(ph)}</a>
              </span>
            ))}
          </dd>
        </>
      )}
      {p.email && (
        <>
          <dt>{w.email}</dt>
          <dd>{p.email}</dd>
        </>
      )}
      {p.relatedPersons.length > 0 && (
        <>
          <dt>{w.relatedPersons}</dt>
          <dd>
            <ul className="plain" data-testid="patient-related">
              {p.relatedPersons.map((r, i) => (
                <li key={i}>
                  <span className="muted small">{w.relationships[RELATIONSHIP_KEYS[r.relationship] ?? "other"]}: </span>
                  {fullName(r)}
                  {r.phone && (
                    <>
                      {" · "}
                      <a href={`tel:${r.phone}`}>{fmtPhone(r.phone)}</a>
                    </>
                  )}
                </li>
              ))}
            </ul>
          </dd>
        </>
      )}
      {p.notes && (
        <>
          <dt>{w.notes}</dt>
          <dd className="notes" data-testid="patient-notes">
            {p.notes}
          </dd>
        </>
      )}
    </dl>
  );
}
