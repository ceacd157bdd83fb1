// Synthetic patient records written straight into the patient schema, sealed with the test keys as
// the service seals them: for tests of what uses the directory (the patient check, merges) without
// going through CreatePatient. Made-up people only.
import type { Kysely } from "kysely";
import type { Config } from "../../services/runtime/config.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";

/** seedPatient inserts a synthetic record with `patientId`, registered at `locationId` (default `default`). */
export async function seedPatient(db: Kysely<any>, config: Config, patientId: string, opts: { locationId?: string; givenName?: string; familyName?: string } = {}): Promise<void> {
  const vault = vaultFromConfig(config);
  const now = new Date();
  const sealed = vault.seal(patientId, {
    givenName: opts.givenName ?? "Deneme",
    familyName: opts.familyName ?? `Hasta-${patientId}`,
    birthDate: "1980-01-01",
    phones: [],
    email: "",
    medicalRecordNumber: "",
    nationalId: "",
    relatedPersons: [],
    notes: "",
  });
  await db
    .insertInto("patient.patients")
    .values({ patient_id: patientId, location_id: opts.locationId ?? "default", ...sealed, gender: "UNKNOWN", preferred_language: "tr", consents: "[]", version: 1, created_at: now, updated_at: now })
    .execute();
}
