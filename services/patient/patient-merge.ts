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
// record outside them needs an accessReason, sealed into the audit entries (patient-access.ts, as
// every record RPC decides it: ACCESS_REASON_REQUIRED without one).
import type { HandlerContext } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { auditEntries } from "../runtime/audit.js";
import { callerOf } from "../runtime/caller.js";
import type { Clock } from "../runtime/clock.js";
import { requestHash, RequestIdReusedError, type RequestKey } from "../runtime/idempotency.js";
import { validate } from "../runtime/request/validation.js";
import type { Database, Db } from "./db/database.js";
import type { PatientRow } from "./db/patient.table.js";
import { PatientAccess, RECORD_TYPE, type Access } from "./patient-access.js";
import { accessReason } from "./patient-fields.validation.js";
import { patientMergedError, patientNotFoundError } from "./patient.errors.js";
import type { PatientVault } from "./patient-vault.js";
import { AUDIT_LOG, claimRequestKey, findPatient, withAccessReason } from "./repositories/patient.repository.js";

/** LOCK_TIMEOUT_MS bounds the merge transaction's row waits. */
const LOCK_TIMEOUT_MS = 5_000;

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
    return { requestId: req.requestId, survivorPatientId: req.survivorPatientId, mergedPatientId: req.mergedPatientId, accessReason: accessReason(v, "accessReason", req.accessReason) };
  });
}

/** PatientMerge merges records (see the file comment); `reassign` starts the reassignment and resolves once its first attempt ended. */
export class PatientMerge {
  private readonly access: PatientAccess;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    vault: PatientVault,
    private readonly reassign: () => Promise<void>,
    /** answerWaitMs bounds how long MergePatients waits for the first reassignment attempt before answering. */
    private readonly answerWaitMs = 2_000,
  ) {
    this.access = new PatientAccess(db, vault, clock);
  }

  /** mergePatients merges v.mergedPatientId into v.survivorPatientId and answers the survivor's row (read after the merge). */
  async mergePatients(ctx: HandlerContext, v: ValidMergePatients): Promise<PatientRow> {
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "MergePatients", requestId: v.requestId };
    const hash = requestHash([v.survivorPatientId, v.mergedPatientId]);
    // Who may merge is decided before the transaction (a refusal is audited on its own).
    const read = await Promise.all([v.survivorPatientId, v.mergedPatientId].map((id) => findPatient(this.db, id)));
    const access: Access[] = [];
    for (const [i, row] of read.entries()) {
      if (!row) throw patientNotFoundError(i === 0 ? v.survivorPatientId : v.mergedPatientId);
      access.push(await this.access.check(ctx, caller, row, v.accessReason, "DeniedMergePatients"));
    }
    const now = this.clock.now();
    const merged = await this.db.transaction().execute(async (trx) => {
      if (!(await claimRequestKey(trx, key, hash, now, LOCK_TIMEOUT_MS))) {
        if (!(await this.requestSeen(key, hash, trx))) throw new RequestIdReusedError(v.requestId, "another merge");
        return false;
      }
      const rows = await trx.selectFrom("patient.patients").selectAll().where("patient_id", "in", [v.survivorPatientId, v.mergedPatientId]).orderBy("patient_id").forUpdate().execute();
      const survivor = rows.find((r) => r.patient_id === v.survivorPatientId);
      const dup = rows.find((r) => r.patient_id === v.mergedPatientId);
      if (!survivor) throw patientNotFoundError(v.survivorPatientId);
      if (!dup) throw patientNotFoundError(v.mergedPatientId);
      for (const r of [survivor, dup]) if (r.merged_into !== null) throw patientMergedError(r.merged_into);
      await trx.updateTable("patient.patients").set({ merged_into: survivor.patient_id, version: sql`version + 1`, updated_at: now }).where("patient_id", "=", dup.patient_id).execute();
      // Records merged into the duplicate earlier now point at the survivor too (no chains: the
      // pointer always names the record that survived), and so do their pending reassignments.
      const earlier = await trx.updateTable("patient.patients").set({ merged_into: survivor.patient_id, version: sql`version + 1`, updated_at: now }).where("merged_into", "=", dup.patient_id).returning("patient_id").execute();
      await trx.updateTable("patient.merges").set({ survivor_patient_id: survivor.patient_id }).where("survivor_patient_id", "=", dup.patient_id).execute();
      await trx.updateTable("patient.patients").set({ updated_at: now }).where("patient_id", "=", survivor.patient_id).execute();
      await sql`insert into patient.patient_locations (patient_id, location_id, since)
        select ${survivor.patient_id}, l.location_id, ${now}::timestamptz from (
          select location_id from patient.patient_locations where patient_id = ${dup.patient_id}
          union select ${dup.location_id}::text) l
        on conflict (patient_id, location_id) do nothing`.execute(trx);
      await trx.deleteFrom("patient.lookups").where("patient_id", "=", dup.patient_id).execute();
      await trx.insertInto("patient.merges").values({ merged_patient_id: dup.patient_id, survivor_patient_id: survivor.patient_id, merged_at: now, next_attempt_at: now }).execute();
      const entries = auditEntries(caller, "MergePatients", now, RECORD_TYPE, [survivor.patient_id, dup.patient_id, ...earlier.map((r) => r.patient_id)]);
      await AUDIT_LOG.append(trx, withAccessReason(entries, access.find((a) => a.sealedReason !== undefined)?.sealedReason));
      return true;
    });
    if (merged) await this.firstAttempt();
    const survivor = await findPatient(this.db, v.survivorPatientId);
    if (!survivor) throw patientNotFoundError(v.survivorPatientId);
    return survivor;
  }

  /** requestSeen tells whether this requestId already merged (the same records: true; other records: REQUEST_ID_REUSED). */
  private async requestSeen(key: RequestKey, hash: string, db: Db = this.db): Promise<boolean> {
    const stored = await db.selectFrom("patient.request_keys").select("request_hash").where("caller", "=", key.caller).where("rpc", "=", key.rpc).where("request_id", "=", key.requestId).executeTakeFirst();
    if (stored && stored.request_hash !== hash) throw new RequestIdReusedError(key.requestId, "another merge");
    return stored !== undefined;
  }

  /** firstAttempt starts the reassignment and waits for its first attempt, at most answerWaitMs (it goes on in the background). */
  private async firstAttempt(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.reassign(), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.answerWaitMs)))]);
    clearTimeout(timer);
  }
}
