import { sql } from "kysely";
import { ChangeLog } from "../../runtime/db/change-log.js";
import type { ChangeRow } from "../db/change.table.js";
import type { Db } from "../db/database.js";

/** QUEUE_CHANGES_CHANNEL is the Postgres NOTIFY channel; the payload is the queue id. */
export const QUEUE_CHANGES_CHANNEL = "medschedule_queue_changes";

/**
 * appendChange records a change of a queue, pending: it gets its WatchQueue sequence after the
 * commit, from the change sequencer (change-sequencer.ts). It takes no queue-wide lock. Listeners are
 * notified after the stamp (the service's Notifier): a NOTIFY inside the transaction would serialize
 * every notifying commit in the database.
 */
export async function appendChange(db: Db, change: { queueId: string; at: Date; kind: "ticket" | "counter"; ticketId?: string; counterId?: string }): Promise<void> {
  await db
    .insertInto("queue.changes")
    .values({
      queue_id: change.queueId,
      sequence: null,
      at: change.at,
      kind: change.kind,
      ticket_id: change.ticketId ?? null,
      counter_id: change.counterId ?? null,
    })
    .execute();
}

/** stampChanges numbers up to `limit` pending changes of a queue (queue.stamp_changes); returns how many. */
export async function stampChanges(db: Db, queueId: string, limit: number): Promise<number> {
  const r = await sql<{ n: number }>`select queue.stamp_changes(${queueId}, ${limit}) as n`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** queuesWithPendingChanges lists the queues that have committed changes without a sequence yet. */
export async function queuesWithPendingChanges(db: Db): Promise<string[]> {
  const r = await sql<{ queue_id: string }>`select distinct queue_id from queue.changes where sequence is null`.execute(db);
  return r.rows.map((row) => row.queue_id);
}

/** CHANGE_LOG is queue.changes, read as every service reads its change log (runtime/db/change-log.ts). */
const CHANGE_LOG = new ChangeLog<ChangeRow>("queue.changes", "queue_id");

/** changesAfter reads a queue's stamped changes with a sequence above `after`, in order. */
export function changesAfter(db: Db, queueId: string, after: bigint, limit: number): Promise<ChangeRow[]> {
  return CHANGE_LOG.after(db, queueId, after, limit);
}

/** retainedRange reads a queue's last sequence and its oldest retained change (undefined when none is kept). */
export async function retainedRange(db: Db, queueId: string): Promise<{ last: bigint; oldest: bigint | undefined } | undefined> {
  const row = await db
    .selectFrom("queue.queues")
    .select([
      "last_sequence",
      (eb) => eb.selectFrom("queue.changes").select((e) => e.fn.min("sequence").as("m")).whereRef("queue.changes.queue_id", "=", "queue.queues.queue_id").as("oldest"),
    ])
    .where("queue_id", "=", queueId)
    .executeTakeFirst();
  if (!row) return undefined;
  return { last: BigInt(row.last_sequence), oldest: row.oldest == null ? undefined : BigInt(row.oldest as string) };
}

/** pruneChanges deletes stamped changes older than `before` (pending ones wait for their sequence); returns how many. */
export async function pruneChanges(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom("queue.changes").where("at", "<", before).where("sequence", "is not", null).executeTakeFirst();
  return Number(r.numDeletedRows);
}
