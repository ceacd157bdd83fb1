import { isUniqueViolation } from "../../runtime/db/pg-errors.js";
import type { Db } from "../db/database.js";
import type { NewQueueRow, QueueRow } from "../db/queue.table.js";
import { PrefixInUseError, QueueNotFoundError } from "../queue.errors.js";

/**
 * insertQueue inserts a queue; undefined when the id is taken (the caller reads the existing one).
 * PrefixInUseError, without the owner, when another queue owns the prefix
 * (queues_one_owner_per_prefix), or when the same id is being created concurrently with it.
 */
export async function insertQueue(db: Db, row: NewQueueRow): Promise<QueueRow | undefined> {
  try {
    return await db
      .insertInto("queue.queues")
      .values(row)
      .onConflict((oc) => oc.column("queue_id").doNothing())
      .returningAll()
      .executeTakeFirst();
  } catch (err) {
    if (isUniqueViolation(err, "queues_one_owner_per_prefix")) throw new PrefixInUseError(row.prefix, undefined, { cause: err });
    throw err;
  }
}

/** findQueue reads a queue by id. */
export async function findQueue(db: Db, queueId: string): Promise<QueueRow | undefined> {
  return db.selectFrom("queue.queues").selectAll().where("queue_id", "=", queueId).executeTakeFirst();
}

/** findQueues reads several queues by id. */
export async function findQueues(db: Db, queueIds: readonly string[]): Promise<QueueRow[]> {
  if (queueIds.length === 0) return [];
  return db.selectFrom("queue.queues").selectAll().where("queue_id", "in", [...queueIds]).execute();
}

/** listQueues pages through queues by display name, then id, after the cursor (exclusive); with `locationIds`, only the queues at those locations. */
export async function listQueues(db: Db, after: { displayName: string; queueId: string } | undefined, limit: number, locationIds?: readonly string[]): Promise<QueueRow[]> {
  let q = db.selectFrom("queue.queues").selectAll();
  if (locationIds) {
    if (locationIds.length === 0) return [];
    q = q.where("location_id", "in", [...locationIds]);
  }
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb("display_name", ">", after.displayName),
        eb.and([eb("display_name", "=", after.displayName), eb("queue_id", ">", after.queueId)]),
      ]),
    );
  }
  return q.orderBy("display_name").orderBy("queue_id").limit(limit).execute();
}

/** findPrefixOwner reads the queue that owns a ticket prefix (queues_one_owner_per_prefix), if any. */
export async function findPrefixOwner(db: Db, prefix: string): Promise<QueueRow | undefined> {
  return db.selectFrom("queue.queues").selectAll().where("prefix", "=", prefix).where("owns_prefix", "=", true).executeTakeFirst();
}

/** requireQueue reads a queue by id; QueueNotFoundError when there is none. */
export async function requireQueue(db: Db, queueId: string): Promise<QueueRow> {
  const queue = await findQueue(db, queueId);
  if (!queue) throw new QueueNotFoundError(queueId);
  return queue;
}

/** findQueueOfTicket reads the queue a ticket is in, if the ticket exists. */
export async function findQueueOfTicket(db: Db, ticketId: string): Promise<QueueRow | undefined> {
  return db
    .selectFrom("queue.queues")
    .selectAll("queue.queues")
    .innerJoin("queue.tickets", "queue.tickets.queue_id", "queue.queues.queue_id")
    .where("queue.tickets.ticket_id", "=", ticketId)
    .executeTakeFirst();
}
