// The global fencing epoch (lock.fencing_epoch, one row) and the lock audit log.
import { sql, type Kysely, type Transaction } from "kysely";

type Db = Kysely<any> | Transaction<any>;

/** readEpoch returns the fencing epoch in force. */
export async function readEpoch(db: Db): Promise<number> {
  const row = await db.withSchema("lock").selectFrom("fencing_epoch").select("epoch").where("id", "=", 1).executeTakeFirstOrThrow();
  return Number(row.epoch);
}

/** EPOCH_CLOCK_ORIGIN_S is 2024-01-01T00:00:00Z in Unix seconds: epochs count seconds from it at least. */
export const EPOCH_CLOCK_ORIGIN_S = 1_704_067_200;

/** epochClockSeconds is the epoch floor now: whole seconds since EPOCH_CLOCK_ORIGIN_S (tokens stay below 2^63 until about 2092). */
export function epochClockSeconds(nowMs = Date.now()): number {
  return Math.max(1, Math.floor(nowMs / 1000) - EPOCH_CLOCK_ORIGIN_S);
}

/**
 * bumpEpoch moves the epoch to max(epoch + 1, atLeast, epochClockSeconds()) in one atomic update
 * (the row is locked), so every bump returns a value no other bump returned, and writes an audit row.
 * Tying the epoch to wall-clock seconds keeps it ahead of epochs issued before a database restore as
 * long as bumps come slower than one a second on average; AdvanceEpoch passes a larger `atLeast`.
 * `issuedBy` names the backend the new epoch is for: the Postgres backend issues no token under an
 * epoch bumped for Redis (see the lock.fencing_epoch.issued_by migration).
 */
export async function bumpEpoch(
  db: Kysely<any>,
  audit: { actor: string; role: string; reason: string; action?: string },
  atLeast = 0,
  issuedBy: "postgres" | "redis" = "postgres",
): Promise<{ previous: number; epoch: number }> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.withSchema("lock").selectFrom("fencing_epoch").select("epoch").where("id", "=", 1).forUpdate().executeTakeFirstOrThrow();
    const previous = Number(before.epoch);
    const epoch = Math.max(previous + 1, atLeast, epochClockSeconds());
    await trx.withSchema("lock").updateTable("fencing_epoch").set({ epoch, issued_by: issuedBy, updated_at: sql`now()` }).where("id", "=", 1).execute();
    await writeAudit(trx, {
      actor: audit.actor,
      role: audit.role,
      action: audit.action ?? "ADVANCE_EPOCH",
      resource: null,
      detail: { previous, epoch, issuedBy, reason: audit.reason },
    });
    return { previous, epoch };
  });
}

/** AuditEntry is one row of lock.audit_log. */
export interface AuditEntry {
  /** actor is the caller's subject (or "system"). */
  actor: string;
  /** role is the role under which it acted. */
  role: string;
  /** action is e.g. "FORCE_RELEASE", "ADVANCE_EPOCH". */
  action: string;
  /** resource is the lock key concerned, if any. */
  resource: string | null;
  /** detail is extra JSON. */
  detail: Record<string, unknown>;
}

/** writeAudit appends a row to lock.audit_log. */
export async function writeAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db
    .withSchema("lock")
    .insertInto("audit_log")
    .values({ actor: entry.actor, role: entry.role, action: entry.action, resource: entry.resource, detail: JSON.stringify(entry.detail) })
    .execute();
}
