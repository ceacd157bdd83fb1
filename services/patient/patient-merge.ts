// MergePatients: a duplicate record folded into the one that survives.
//
// One transaction in the patient schema: the merged row points to the survivor (merged_into, version
// + 1) and keeps answering GetPatient with mergedIntoPatientId; the survivor gains the merged record's
// locations (where it was registered and served), so staff who could read either can read the
// survivor; the merged record's lookups are deleted (search leaves it out); a merges row is the
// to-do list of the reassignment (merge-reassigner.ts), which moves the merged record's appointments
// and tickets through the scheduling and queue services. Both records are audited (MergePatients).
// Idempotent by requestId: a retry answers with the survivor as it is now (the response, which holds
// patient data, is never stored: request_keys keeps only the request's hash).
//
// Who: admins, and receptionists for records of their locations (registered or served there); a
// record outside them needs an accessReason, sealed into the audit entries.
import type { HandlerContext } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { inScope, OUTSIDE_YOUR_LOCATIONS, scopeOf, type LocationScope } from "../runtime/auth/location-scope.js";
import { auditEntries } from "../runtime/audit.js";
import { callerOf } from "../runtime/caller.js";
import { patientMergedError } from "../runtime/clients/patient-check.errors.js";
import type { Clock } from "../runtime/clock.js";
import { NotFoundError, PermissionDeniedError } from "../runtime/errors.js";
import { requestHash, RequestIdReusedError, type RequestKey } from "../runtime/idempotency.js";
import { validate } from "../runtime/request/validation.js";
import type { Database, Db } from "./db/database.js";
import type { PatientRow } from "./db/patient.table.js";
import { PATIENT_AUDIT_LOG, withAccessReason } from "./patient-audit.js";
import type { PatientVault } from "./patient-vault.js";

/** ValidMergePatients is a checked MergePatientsRequest. */
export interface ValidMergePatients {
  requestId: string;
  survivorPatientId: string;
  mergedPatientId: string;
  /** accessReason is the break-the-glass reason, trimmed; "" for none. */
  accessReason: string;
}

/** validateMergePatients checks a MergePatientsRequest: a requestId, two different ids, an access reason of 10-500 characters when given. */
export function validateMergePatients(req: ValidMergePatients): ValidMergePatients {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("survivorPatientId", req.survivorPatientId);
    v.id("mergedPatientId", req.mergedPatientId);
    if (req.mergedPatientId !== "" && req.mergedPatientId === req.survivorPatientId) {
      v.add("mergedPatientId", "must differ from survivorPatientId: a record is not merged into itself", "SAME_PATIENT");
    }
    v.string("accessReason", req.accessReason, { optional: true, min: 10, max: 500 });
    return { requestId: req.requestId, survivorPatientId: req.survivorPatientId, mergedPatientId: req.mergedPatientId, accessReason: req.accessReason.trim() };
  });
}

/** patientNotFound is NOT_FOUND PATIENT_NOT_FOUND for a record a request names. */
function patientNotFound(patientId: string): NotFoundError {
  return new NotFoundError("patient record", patientId, "PATIENT_NOT_FOUND");
}

/** accessReasonRequired is PERMISSION_DENIED OUTSIDE_YOUR_LOCATIONS: a record outside the caller's locations, without an accessReason. */
function accessReasonRequired(patientId: string): PermissionDeniedError {
  return new PermissionDeniedError(
    "this patient record is not registered or served at a location you work at; to merge it anyway, say why in the access reason (it is recorded)",
    OUTSIDE_YOUR_LOCATIONS,
    { metadata: { patientId } },
  );
}

/** PatientMerge merges records (see the file comment); `reassign` starts the reassignment and resolves once its first attempt ended. */
export class PatientMerge {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly vault: PatientVault,
    private readonly reassign: () => Promise<void>,
    /** answerWaitMs bounds how long MergePatients waits for the first reassignment attempt before answering. */
    private readonly answerWaitMs = 2_000,
  ) {}

  /** mergePatients merges v.mergedPatientId into v.survivorPatientId and answers the survivor's row (read after the merge). */
  async mergePatients(ctx: HandlerContext, v: ValidMergePatients): Promise<PatientRow> {
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "MergePatients", requestId: v.requestId };
    const hash = requestHash([v.survivorPatientId, v.mergedPatientId]);
    const scope = scopeOf(ctx);
    const now = this.clock.now();
    const merged = await this.db.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto("patient.request_keys")
        .values({ caller: key.caller, rpc: key.rpc, request_id: key.requestId, request_hash: hash, response: null, created_at: now })
        .onConflict((oc) => oc.columns(["caller", "rpc", "request_id"]).doNothing())
        .returning("request_id")
        .executeTakeFirst();
      if (!claimed) {
        const stored = await trx.selectFrom("patient.request_keys").select("request_hash").where("caller", "=", key.caller).where("rpc", "=", key.rpc).where("request_id", "=", key.requestId).executeTakeFirst();
        if (stored?.request_hash !== hash) throw new RequestIdReusedError(v.requestId, "another merge");
        return false;
      }
      const rows = await trx.selectFrom("patient.patients").selectAll().where("patient_id", "in", [v.survivorPatientId, v.mergedPatientId]).orderBy("patient_id").forUpdate().execute();
      const survivor = rows.find((r) => r.patient_id === v.survivorPatientId);
      const dup = rows.find((r) => r.patient_id === v.mergedPatientId);
      if (!survivor) throw patientNotFound(v.survivorPatientId);
      if (!dup) throw patientNotFound(v.mergedPatientId);
      for (const r of [survivor, dup]) {
        if (r.merged_into !== null) throw patientMergedError(r.patient_id, r.merged_into);
        if (v.accessReason === "" && !(await servedWithin(trx, scope, r))) throw accessReasonRequired(r.patient_id);
      }
      await trx.updateTable("patient.patients").set({ merged_into: survivor.patient_id, version: sql`version + 1`, updated_at: now }).where("patient_id", "=", dup.patient_id).execute();
      await trx.updateTable("patient.patients").set({ updated_at: now }).where("patient_id", "=", survivor.patient_id).execute();
      await sql`insert into patient.patient_locations (patient_id, location_id, since)
        select ${survivor.patient_id}, l.location_id, ${now}::timestamptz from (
          select location_id from patient.patient_locations where patient_id = ${dup.patient_id}
          union select ${dup.location_id}::text) l
        on conflict (patient_id, location_id) do nothing`.execute(trx);
      await trx.deleteFrom("patient.lookups").where("patient_id", "=", dup.patient_id).execute();
      await trx.insertInto("patient.merges").values({ merged_patient_id: dup.patient_id, survivor_patient_id: survivor.patient_id, merged_at: now, next_attempt_at: now }).execute();
      await PATIENT_AUDIT_LOG.append(trx, withAccessReason(auditEntries(caller, "MergePatients", now, "patient", [survivor.patient_id, dup.patient_id]), this.vault, v.accessReason));
      return true;
    });
    if (merged) await this.firstAttempt();
    const survivor = await this.db.selectFrom("patient.patients").selectAll().where("patient_id", "=", v.survivorPatientId).executeTakeFirst();
    if (!survivor) throw patientNotFound(v.survivorPatientId);
    return survivor;
  }

  /** firstAttempt starts the reassignment and waits for its first attempt, at most answerWaitMs (it goes on in the background). */
  private async firstAttempt(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.reassign(), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.answerWaitMs)))]);
    clearTimeout(timer);
  }
}

/** servedWithin tells whether a record is registered or served at a location of the scope. */
async function servedWithin(db: Db, scope: LocationScope, row: PatientRow): Promise<boolean> {
  if (scope.all || inScope(scope, row.location_id)) return true;
  const found = await db
    .selectFrom("patient.patient_locations")
    .select("location_id")
    .where("patient_id", "=", row.patient_id)
    .where("location_id", "in", [...scope.locations])
    .executeTakeFirst();
  return found !== undefined;
}
