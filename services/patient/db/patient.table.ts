import type { ColumnType, Insertable, Selectable, Updateable } from "kysely";

/** GenderName is a Gender value name without its prefix. */
export type GenderName = "UNSPECIFIED" | "MALE" | "FEMALE" | "OTHER" | "UNKNOWN";

/** StoredConsent is one entry of patients.consents (plain JSON: no personal data). */
export interface StoredConsent {
  /** channel is a ContactChannel name without its prefix: "EMAIL", "SMS". */
  channel: "EMAIL" | "SMS";
  /** granted is the patient's answer. */
  granted: boolean;
  /** recordedAt is when it was given or withdrawn (ISO 8601). */
  recordedAt: string;
}

/** PatientTable is a row of patient.patients (migration 2026-12-08T1000-init says what each column holds). */
export interface PatientTable {
  patient_id: string;
  location_id: string;
  /** data is the sealed PatientData (FieldCipher, aad "patient/<id>/data"). */
  data: string;
  /** key_id is the id of the key `data` is sealed with. */
  key_id: string;
  gender: GenderName;
  preferred_language: string;
  consents: ColumnType<StoredConsent[], string, string>;
  /** national_id_digest is BlindIndex.digest("national_id", id), null when none. */
  national_id_digest: string | null;
  /** mrn_digest is BlindIndex.digest("mrn", location + "\0" + mrn), null when none. */
  mrn_digest: string | null;
  /** version is int8: a string when read. */
  version: ColumnType<string, number | string, number | string>;
  merged_into: string | null;
  created_at: Date;
  updated_at: Date;
}

/** PatientRow is a patients row as read. */
export type PatientRow = Selectable<PatientTable>;
/** NewPatientRow is a patients row to insert. */
export type NewPatientRow = Insertable<PatientTable>;
/** PatientUpdate is a change of a patients row. */
export type PatientUpdate = Updateable<PatientTable>;

/** LookupKind is what a lookups digest was made of. */
export type LookupKind = "phone" | "birth_date" | "name" | "name_prefix" | "name_edit";

/** LookupTable is a row of patient.lookups: one blind-index digest of one patient. */
export interface LookupTable {
  kind: LookupKind;
  /** digest is BlindIndex.digest64(kind, value): int8, a string when read. */
  digest: ColumnType<string, bigint | string, bigint | string>;
  patient_id: string;
}

/** PatientLocationTable is a row of patient.patient_locations. */
export interface PatientLocationTable {
  patient_id: string;
  location_id: string;
  since: Date;
}

/** MergeTable is a row of patient.merges: the reassignment of a merged record, until both services did it. */
export interface MergeTable {
  merged_patient_id: string;
  survivor_patient_id: string;
  merged_at: Date;
  scheduling_done_at: Date | null;
  queue_done_at: Date | null;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date;
  /** last_error is the gRPC code and reason of the last failed attempt (never patient data). */
  last_error: string | null;
}
