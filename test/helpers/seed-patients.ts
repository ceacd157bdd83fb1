// One synthetic patient record at a time, written as CreatePatient stores it (insertPatients of
// patients.ts: sealed data, lookups, its patient_locations row), with the test keys: for tests of
// what uses the directory (the patient check, merges). Made-up people only.
import type { Kysely } from "kysely";
import type { Config } from "../../services/runtime/config.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";
import { insertPatients } from "./patients.js";

/** seedPatient inserts a synthetic record with `patientId`, registered at `locationId` (default `default`). */
export async function seedPatient(db: Kysely<any>, config: Config, patientId: string, opts: { locationId?: string } = {}): Promise<void> {
  const data = { givenName: "Deneme", familyName: `Hasta ${patientId}`, birthDate: "1980-01-01", phones: [], email: "", medicalRecordNumber: "", nationalId: "", relatedPersons: [], notes: "" };
  await insertPatients(db, vaultFromConfig(config), [{ patientId, locationId: opts.locationId ?? "default", data }]);
}
