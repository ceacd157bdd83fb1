import { sql } from "kysely";
import { isUniqueViolation } from "../../runtime/db/pg-errors.js";
import { RequestInProgressError } from "../../runtime/idempotency.js";
import { BackupRunningError } from "../backup.errors.js";
import type { BackupRow, BackupStateName, BackupTargetName, BackupUpdate, NewBackupRow } from "../db/backup.table.js";
import type { Db } from "../db/database.js";

/**
 * insertBackup adds a catalog entry. RequestInProgressError when the caller's requestId already has
 * an entry (backups_request_caller_request_id_key: the caller reads it, findByRequest);
 * BackupRunningError, without the running one's id, when the target has a RUNNING backup
 * (backups_one_running_per_target).
 */
export async function insertBackup(db: Db, row: NewBackupRow): Promise<BackupRow> {
  try {
    return await db.insertInto("backup.backups").values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err, "backups_request_caller_request_id_key")) throw new RequestInProgressError();
    if (isUniqueViolation(err, "backups_one_running_per_target")) throw new BackupRunningError(row.target, undefined);
    throw err;
  }
}

/** findBackup reads one catalog entry. */
export async function findBackup(db: Db, backupId: string): Promise<BackupRow | undefined> {
  return db.selectFrom("backup.backups").selectAll().where("backup_id", "=", backupId).executeTakeFirst();
}

/** findByRequest reads the entry a StartBackup (caller, requestId) created. */
export async function findByRequest(db: Db, caller: string, requestId: string): Promise<BackupRow | undefined> {
  return db
    .selectFrom("backup.backups")
    .selectAll()
    .where("request_caller", "=", caller)
    .where("request_id", "=", requestId)
    .executeTakeFirst();
}

/** findRunning reads the RUNNING entry of a target, if any. */
export async function findRunning(db: Db, target: BackupTargetName): Promise<BackupRow | undefined> {
  return db.selectFrom("backup.backups").selectAll().where("target", "=", target).where("state", "=", "RUNNING").executeTakeFirst();
}

/** updateBackupIf changes an entry only while it is in `state`; returns the new row or undefined. */
export async function updateBackupIf(db: Db, backupId: string, state: BackupStateName, set: BackupUpdate): Promise<BackupRow | undefined> {
  return db
    .updateTable("backup.backups")
    .set(set)
    .where("backup_id", "=", backupId)
    .where("state", "=", state)
    .returningAll()
    .executeTakeFirst();
}

/** updateBackup changes an entry. */
export async function updateBackup(db: Db, backupId: string, set: BackupUpdate): Promise<BackupRow | undefined> {
  return db.updateTable("backup.backups").set(set).where("backup_id", "=", backupId).returningAll().executeTakeFirst();
}

/** PageCursor is where a ListBackups page continues: after this (started_at, backup_id). */
export interface PageCursor {
  /** startedAt of the last entry returned (ISO). */
  startedAt: string;
  /** backupId of the last entry returned. */
  backupId: string;
}

/** listBackups pages through the catalog newest first (entries whose file retention deleted are left out). */
export async function listBackups(db: Db, opts: { target?: BackupTargetName; limit: number; after?: PageCursor }): Promise<BackupRow[]> {
  let q = db.selectFrom("backup.backups").selectAll().where("deleted_at", "is", null);
  if (opts.target) q = q.where("target", "=", opts.target);
  if (opts.after) {
    const at = new Date(opts.after.startedAt);
    const id = opts.after.backupId;
    q = q.where((eb) => eb.or([eb("started_at", "<", at), eb.and([eb("started_at", "=", at), eb("backup_id", "<", id)])]));
  }
  return q.orderBy("started_at", "desc").orderBy("backup_id", "desc").limit(opts.limit).execute();
}

/** listRetained lists a target's entries whose files still exist, newest first (for retention). */
export async function listRetained(db: Db, target: BackupTargetName): Promise<BackupRow[]> {
  return db
    .selectFrom("backup.backups")
    .selectAll()
    .where("target", "=", target)
    .where("deleted_at", "is", null)
    .where("state", "<>", "RUNNING")
    .orderBy("started_at", "desc")
    .orderBy("backup_id", "desc")
    .execute();
}

/** failStale marks RUNNING entries of a target whose heartbeat is older than `before` FAILED (their process died). */
export async function failStale(db: Db, target: BackupTargetName, before: Date, now: Date): Promise<number> {
  const r = await db
    .updateTable("backup.backups")
    .set({ state: "FAILED", finished_at: sql`greatest(${now}::timestamptz, started_at)`, error: "abandoned: the process running this backup stopped (no heartbeat)" })
    .where("target", "=", target)
    .where("state", "=", "RUNNING")
    .where((eb) => eb.or([eb("heartbeat_at", "<", before), eb.and([eb("heartbeat_at", "is", null), eb("started_at", "<", before)])]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
