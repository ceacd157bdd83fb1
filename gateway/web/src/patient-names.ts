// Patient names for the staff lists (today's appointments, the queue, upcoming appointments): one
// GetPatient per distinct patientId, kept for as long as the screen is open, four at a time. Only
// staff whom the role table lets read any patient record ask at all (a patient's own screens never
// show other patients, and the display board never imports this module). A lookup that fails or is
// refused (another location, an old id without a record, the service down) leaves the id shown:
// a name is a help, never a reason for a list to break.
import { useEffect, useRef, useState } from "react";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { api } from "./api.js";
import { mapLimit } from "./paging.js";
import { access, type Session } from "./permissions.js";

/** fullName joins a patient's given and family names. */
export function fullName(p: { givenName: string; familyName: string }): string {
  return `${p.givenName} ${p.familyName}`.trim();
}

/** mayReadPatients tells whether a session reads patient records of others (staff), not only its own. */
export function mayReadPatients(session: Session): boolean {
  return access(session, PatientService.method.getPatient) === "yes";
}

/** PatientNames answers the name of a patient id once known; `remember` adds a name the screen already has (a patient just picked). */
export interface PatientNames {
  /** name is the patient's name, or undefined while unknown or when it cannot be read. */
  name(patientId: string): string | undefined;
  /** remember records a name the screen already knows. */
  remember(patientId: string, name: string): void;
}

/** usePatientNames looks up the names of `patientIds` for a staff screen (nothing for other sessions). */
export function usePatientNames(session: Session, patientIds: readonly string[]): PatientNames {
  const enabled = mayReadPatients(session);
  const [names, setNames] = useState<ReadonlyMap<string, string | null>>(new Map());
  const asked = useRef(new Set<string>());
  const wanted = enabled ? [...new Set(patientIds.filter(Boolean))].sort() : [];
  const key = wanted.join("\n");
  useEffect(() => {
    const missing = wanted.filter((id) => !asked.current.has(id));
    if (missing.length === 0) return;
    for (const id of missing) asked.current.add(id);
    void mapLimit(missing, 4, async (patientId) => {
      const name = await api.patient.getPatient({ patientId }).then(
        (r) => (r.patient ? fullName(r.patient) || null : null),
        () => null,
      );
      setNames((m) => new Map(m).set(patientId, name));
    });
  }, [key]);
  return {
    name: (id) => names.get(id) ?? undefined,
    remember: (id, name) => {
      asked.current.add(id);
      setNames((m) => (m.get(id) === name ? m : new Map(m).set(id, name)));
    },
  };
}
