// Patient names for the staff lists (today's appointments, the queue, upcoming appointments): one
// GetPatient per distinct patientId, kept for as long as the screen is open (PatientNamesScope: one
// cache shared by the screen's panels), four at a time. Only staff whom the role table lets read
// any patient record ask at all (a patient's own screens never show other patients, and the display
// board never imports this module). A lookup that fails or is
// refused (another location, an old id without a record, the service down) leaves the id shown:
// a name is a help, never a reason for a list to break.
import { createContext, createElement, useContext, useEffect, useState, type ReactNode } from "react";
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

/** NameCache is one screen's names: null for an id whose lookup failed or was refused (not asked again). */
class NameCache {
  readonly names = new Map<string, string | null>();
  readonly asked = new Set<string>();
  readonly listeners = new Set<() => void>();
  /** set records a name and tells the panels that show it. */
  set(id: string, name: string | null): void {
    if (this.names.get(id) === name) return;
    this.names.set(id, name);
    for (const l of this.listeners) l();
  }
}

const NameScope = createContext<NameCache | undefined>(undefined);

/** PatientNamesScope gives the panels of one screen one cache of names: each patient is read once per screen. */
export function PatientNamesScope({ children }: { children: ReactNode }) {
  const [cache] = useState(() => new NameCache());
  return createElement(NameScope.Provider, { value: cache }, children);
}

/** usePatientNames looks up the names of `patientIds` for a staff screen (nothing for other sessions). */
export function usePatientNames(session: Session, patientIds: readonly string[]): PatientNames {
  const enabled = mayReadPatients(session);
  const scoped = useContext(NameScope);
  const [own] = useState(() => new NameCache());
  const cache = scoped ?? own;
  const [, setVersion] = useState(0);
  useEffect(() => {
    const l = () => setVersion((v) => v + 1);
    cache.listeners.add(l);
    return () => void cache.listeners.delete(l);
  }, [cache]);
  const wanted = enabled ? [...new Set(patientIds.filter(Boolean))].sort() : [];
  const key = wanted.join("\n");
  useEffect(() => {
    const missing = wanted.filter((id) => !cache.asked.has(id));
    if (missing.length === 0) return;
    for (const id of missing) cache.asked.add(id);
    void mapLimit(missing, 4, async (patientId) => {
      const name = await api.patient.getPatient({ patientId }).then(
        (r) => (r.patient ? fullName(r.patient) || null : null),
        () => null,
      );
      cache.set(patientId, name);
    });
  }, [key, cache]);
  return {
    name: (id) => cache.names.get(id) ?? undefined,
    remember: (id, name) => {
      cache.asked.add(id);
      cache.set(id, name);
    },
  };
}
