// Patients (issue 21): reception finds a patient (or registers a new one), sees who they are, and
// goes on to book for them. The record shown is what the desk needs to tell the patient apart and
// reach them; notes and related persons stay for a later screen.
import { useState } from "react";
import { api, type Session } from "./api.js";
import { navigate } from "./app.js";
import { PatientErrorBox, PatientFinder, type Picked } from "./patient-finder.js";
import { fullName } from "./patient-names.js";
import { patientLang, text } from "./patient-text.js";
import { fmtBirthDate } from "./time-format.js";
import { useAsync } from "./ui.js";

/** PatientsScreen is the desk's patient directory. */
export function PatientsScreen({ session }: { session: Session }) {
  const lang = patientLang();
  const w = text(lang);
  const [picked, setPicked] = useState<Picked | undefined>();
  const record = useAsync((signal) => api.patient.getPatient({ patientId: picked!.patientId }, { signal }).then((r) => r.patient!), [picked?.patientId], {
    enabled: Boolean(picked),
  });
  const p = record.data?.patientId === picked?.patientId ? record.data : undefined;
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
            {record.error !== undefined && <PatientErrorBox error={record.error} lang={lang} onRetry={record.reload} />}
            {p && (
              <dl className="facts">
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
                    <dd>{p.phones.join(", ")}</dd>
                  </>
                )}
                {p.email && (
                  <>
                    <dt>{w.email}</dt>
                    <dd>{p.email}</dd>
                  </>
                )}
              </dl>
            )}
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
