// scheduling.changes: the WatchAppointments change log, numbered per provider (providers.last_sequence).
import { sql } from "kysely";
import { ChangeLog } from "../../runtime/db/change-log.js";
import type { ChangeRow } from "../db/change.table.js";
import type { Db } from "../db/database.js";

/** SCHEDULING_CHANGES_CHANNEL is the Postgres NOTIFY channel; the payload is the provider id. */
export const SCHEDULING_CHANGES_CHANNEL = "medschedule_scheduling_changes";

/**
 * appendChange records a change of a provider's appointment under the provider's next sequence.
 * It does not notify: the write's after-commit step does, once the transaction has committed. Take
 * it last in the transaction: it row-locks the provider.
 */
export async function appendChange(db: Db, change: { providerId: string; appointmentId: string; at: Date }): Promise<bigint> {
  // One round trip: bump the provider's counter (row lock), record the change. Listeners are
  // notified after the commit (the service's Notifier): a NOTIFY inside the transaction would
  // serialize every notifying commit in the database (about 100 a second).
  const { rows } = await sql<{ s: string }>`
    with bumped as (
      update scheduling.providers set last_sequence = last_sequence + 1 where provider_id = ${change.providerId} returning last_sequence
    ), inserted as (
      insert into scheduling.changes (provider_id, sequence, at, appointment_id)
      select ${change.providerId}, last_sequence, ${change.at}, ${change.appointmentId} from bumped returning sequence
    )
    select sequence::text as s from inserted`.execute(db);
  if (rows.length === 0) throw new Error(`appendChange: provider ${change.providerId} does not exist`);
  return BigInt(rows[0].s);
}

/** CHANGE_LOG is scheduling.changes, read as every service reads its change log (runtime/db/change-log.ts). */
const CHANGE_LOG = new ChangeLog<ChangeRow>("scheduling.changes", "provider_id");

/** changesAfter reads a provider's changes after a sequence, in order. */
export function changesAfter(db: Db, providerId: string, after: bigint, limit: number): Promise<ChangeRow[]> {
  return CHANGE_LOG.after(db, providerId, after, limit);
}

/** oldestChange is the smallest retained sequence of a provider, if any. */
export function oldestChange(db: Db, providerId: string): Promise<bigint | undefined> {
  return CHANGE_LOG.oldest(db, providerId);
}

/** pruneChanges deletes changes older than `before`. */
export async function pruneChanges(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom("scheduling.changes").where("at", "<", before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
