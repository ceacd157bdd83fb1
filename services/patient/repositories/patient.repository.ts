// The patient records' tables: patients, their lookups and locations, requestId keys and the audit
// log. Plain functions taking the database or a transaction, as the caller decides. The unique
// indexes of the schema are the guarantee that a national id is used once in the directory and a
// medical record number once per location; uniqueViolation names the one a write ran into.
import { sql } from "kysely";
import { AuditLog, type NewAuditLogRow } from "../../runtime/audit.js";
import { isUniqueViolation } from "../../runtime/db/pg-errors.js";
import { RequestKeys, type RequestKey } from "../../runtime/idempotency.js";
import type { Db } from "../db/database.js";
import type { NewPatientRow, PatientRow, PatientUpdate } from "../db/patient.table.js";
import type { LookupTerm } from "../search-terms.js";

/** REQUEST_KEYS is patient.request_keys: requestId replay (runtime/idempotency.ts); responses are stored sealed. */
export const REQUEST_KEYS = new RequestKeys("patient.request_keys");

/** AUDIT_LOG is patient.audit_log: who read or changed which patient record (runtime/audit.ts). */
export const AUDIT_LOG = new AuditLog("patient.audit_log");

/** withAccessReason marks audit entries with a sealed break-the-glass reason or purpose (patient.audit_log.access_reason); unchanged for none. */
export function withAccessReason(entries: readonly NewAuditLogRow[], sealedReason: string | undefined): NewAuditLogRow[] {
  return sealedReason === undefined ? [...entries] : entries.map((e) => ({ ...e, access_reason: sealedReason }) as NewAuditLogRow);
}

/** UniqueConflict is which unique rule of the patients table a write broke. */
export type UniqueConflict = "patient_id" | "national_id" | "medical_record_number" | "request_key";

/** uniqueViolation names the unique rule a database error broke, if it is one of the patient schema's. */
export function uniqueViolation(err: unknown): UniqueConflict | undefined {
  if (isUniqueViolation(err, "patients_national_id_digest")) return "national_id";
  if (isUniqueViolation(err, "patients_mrn_digest")) return "medical_record_number";
  if (isUniqueViolation(err, "patients_pkey")) return "patient_id";
  if (isUniqueViolation(err, "request_keys_pkey")) return "request_key";
  return undefined;
}

/** findPatient reads a record; `forUpdate` locks it until the transaction ends. */
export async function findPatient(db: Db, patientId: string, opts: { forUpdate?: boolean } = {}): Promise<PatientRow | undefined> {
  let q = db.selectFrom("patient.patients").selectAll().where("patient_id", "=", patientId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** insertPatient adds a record. */
export async function insertPatient(db: Db, row: NewPatientRow): Promise<PatientRow> {
  return db.insertInto("patient.patients").values(row).returningAll().executeTakeFirstOrThrow();
}

/** updatePatientRow changes a record. */
export async function updatePatientRow(db: Db, patientId: string, change: PatientUpdate): Promise<PatientRow> {
  return db.updateTable("patient.patients").set(change).where("patient_id", "=", patientId).returningAll().executeTakeFirstOrThrow();
}

/** replaceLookups makes a record's lookups exactly `terms`. */
export async function replaceLookups(db: Db, patientId: string, terms: readonly LookupTerm[]): Promise<void> {
  await db.deleteFrom("patient.lookups").where("patient_id", "=", patientId).execute();
  if (terms.length === 0) return;
  await db
    .insertInto("patient.lookups")
    .values(terms.map((t) => ({ kind: t.kind, digest: t.digest.toString(), patient_id: patientId })))
    .execute();
}

/** addPatientLocation records that a patient is of a location (nothing when already). */
export async function addPatientLocation(db: Db, patientId: string, locationId: string, since: Date): Promise<void> {
  await db
    .insertInto("patient.patient_locations")
    .values({ patient_id: patientId, location_id: locationId, since })
    .onConflict((oc) => oc.columns(["patient_id", "location_id"]).doNothing())
    .execute();
}

/** isPatientAt tells whether a patient is of any of the locations. */
export async function isPatientAt(db: Db, patientId: string, locationIds: readonly string[]): Promise<boolean> {
  if (locationIds.length === 0) return false;
  const r = await db
    .selectFrom("patient.patient_locations")
    .select("location_id")
    .where("patient_id", "=", patientId)
    .where("location_id", "in", [...locationIds])
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}

/**
 * claimRequestKey starts a write transaction: lock_timeout for the rest of it, then the requestId
 * claimed with a null response. False when the key is already taken (a committed first call: read
 * it in a new statement; one still running waits here until it commits, or fails after lock_timeout).
 */
export async function claimRequestKey(db: Db, key: RequestKey, hash: string, at: Date, lockTimeoutMs: number): Promise<boolean> {
  await sql`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(db);
  const r = await db
    .insertInto("patient.request_keys")
    .values({ caller: key.caller, rpc: key.rpc, request_id: key.requestId, request_hash: hash, response: null, created_at: at })
    .onConflict((oc) => oc.columns(["caller", "rpc", "request_id"]).doNothing())
    .returning("request_id")
    .executeTakeFirst();
  return r !== undefined;
}

