import type { Kysely, Transaction } from "kysely";
import type { AuditLogTable } from "../../runtime/audit.js";
import type { RequestKeyTable } from "../../runtime/idempotency.js";
import type { LookupTable, MergeTable, PatientLocationTable, PatientTable } from "./patient.table.js";

/** PatientAuditLogTable is the record audit log with the break-the-glass reason (sealed: it is free text). */
export interface PatientAuditLogTable extends AuditLogTable {
  /** access_reason is the sealed accessReason of a read outside the caller's locations (FieldCipher, aad "patient-audit"), or null. */
  access_reason: string | null;
}

/** Database is the patient service's schema as Kysely sees it (tables qualified with "patient."). */
export interface Database {
  /** patient.patients: one row per record. */
  "patient.patients": PatientTable;
  /** patient.lookups: blind-index digests for search. */
  "patient.lookups": LookupTable;
  /** patient.patient_locations: where a patient may be read by location-limited staff. */
  "patient.patient_locations": PatientLocationTable;
  /** patient.merges: pending and done reassignments of merged records. */
  "patient.merges": MergeTable;
  /** patient.request_keys: requestId replay. */
  "patient.request_keys": RequestKeyTable;
  /** patient.audit_log: append-only, who read or changed which record. */
  "patient.audit_log": PatientAuditLogTable;
}

/** Db is a handle repositories accept: the database or a transaction, as the caller decides. */
export type Db = Kysely<Database> | Transaction<Database>;
