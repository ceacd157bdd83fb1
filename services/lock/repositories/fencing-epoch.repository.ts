import { sql, type Kysely } from "kysely";
import type { Database, Db } from "../db/database.js";
import { AUDIT_LOG } from "./audit-log.repository.js";

/** readEpoch returns the fencing epoch in force. */
export async function readEpoch(db: Db): Promise<number> {
  const row = await db.selectFrom("lock.fencing_epoch").select("epoch").where("id", "=", 1).executeTakeFirstOrThrow();
  return Number(row.epoch);
}

/** EPOCH_CLOCK_ORIGIN_S is 2024-01-01T00:00:00Z in Unix seconds: epochs count seconds from it at least. */
export const EPOCH_CLOCK_ORIGIN_S = 1_704_067_200;

/** epochClockSeconds is the epoch floor now: whole seconds since EPOCH_CLOCK_ORIGIN_S (tokens stay below 2^63 until about 2092). */
export function epochClockSeconds(nowMs = Date.now()): number {
  return Math.max(1, Math.floor(nowMs / 1000) - EPOCH_CLOCK_ORIGIN_S);
}

/** EpochBump is what one bump did: the epoch before and the epoch now in force. */
export interface EpochBump {
  /** previous is the epoch before the bump. */
  previous: number;
  /** epoch is the epoch in force after it. */
  epoch: number;
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
  db: Kysely<Database>,
  audit: { actor: string; role: string; reason: string; action?: string },
  atLeast = 0,
  issuedBy: "postgres" | "redis" = "postgres",
): Promise<EpochBump> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom("lock.fencing_epoch").select("epoch").where("id", "=", 1).forUpdate().executeTakeFirstOrThrow();
    const previous = Number(before.epoch);
    const epoch = Math.max(previous + 1, atLeast, epochClockSeconds());
    await trx.updateTable("lock.fencing_epoch").set({ epoch, issued_by: issuedBy, updated_at: sql<Date>`now()` }).where("id", "=", 1).execute();
    await AUDIT_LOG.append(trx, {
      actor: audit.actor,
      role: audit.role,
      action: audit.action ?? "ADVANCE_EPOCH",
      resource: null,
      detail: { previous, epoch, issuedBy, reason: audit.reason },
    });
    return { previous, epoch };
  });
}
