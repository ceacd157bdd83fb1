import type { ChangeRow } from "../db/change.table.js";
import type { Db } from "../db/database.js";
import { nextSequence } from "./queue.repository.js";

/** QUEUE_CHANGES_CHANNEL is the Postgres NOTIFY channel; the payload is the queue id. */
export const QUEUE_CHANGES_CHANNEL = "medschedule_queue_changes";

/**
 * appendChange records a change of a queue under its next sequence. Take it last in the transaction:
 * it row-locks the queue. Listeners are notified after the commit (the service's Notifier): a NOTIFY
 * inside the transaction would serialize every notifying commit in the database.
 */
export async function appendChange(
  db: Db,
  change: { queueId: string; at: Date; kind: "ticket" | "counter"; ticketId?: string; counterId?: string },
): Promise<bigint> {
  const sequence = await nextSequence(db, change.queueId);
  await db
    .insertInto("queue.changes")
    .values({
      queue_id: change.queueId,
      sequence: sequence.toString(),
      at: change.at,
      kind: change.kind,
      ticket_id: change.ticketId ?? null,
      counter_id: change.counterId ?? null,
    })
    .execute();
  return sequence;
}

/** changesAfter reads a queue's changes with a sequence above `after`, in order. */
export async function changesAfter(db: Db, queueId: string, after: bigint, limit: number): Promise<ChangeRow[]> {
  return db
    .selectFrom("queue.changes")
    .selectAll()
    .where("queue_id", "=", queueId)
    .where("sequence", ">", after.toString() as never)
    .orderBy("sequence")
    .limit(limit)
    .execute();
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

/** pruneChanges deletes changes older than `before`; returns how many. */
export async function pruneChanges(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom("queue.changes").where("at", "<", before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
