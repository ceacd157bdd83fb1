import type { CounterRow } from "../db/counter.table.js";
import type { Db } from "../db/database.js";

/** findCounter reads a counter; with `forUpdate` it row-locks it until commit. */
export async function findCounter(db: Db, queueId: string, counterId: string, opts: { forUpdate?: boolean } = {}): Promise<CounterRow | undefined> {
  let q = db.selectFrom("queue.counters").selectAll().where("queue_id", "=", queueId).where("counter_id", "=", counterId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** listCounters reads a queue's counters by id. */
export async function listCounters(db: Db, queueId: string): Promise<CounterRow[]> {
  return db.selectFrom("queue.counters").selectAll().where("queue_id", "=", queueId).orderBy("counter_id").execute();
}

/** openCounterRow opens a counter, creating it on first use. */
export async function openCounterRow(db: Db, queueId: string, counterId: string, now: Date): Promise<CounterRow> {
  return db
    .insertInto("queue.counters")
    .values({ queue_id: queueId, counter_id: counterId, is_open: true, opened_at: now, closed_at: null })
    .onConflict((oc) => oc.columns(["queue_id", "counter_id"]).doUpdateSet({ is_open: true, opened_at: now }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** closeCounterRow closes a counter. */
export async function closeCounterRow(db: Db, queueId: string, counterId: string, now: Date): Promise<CounterRow> {
  return db
    .updateTable("queue.counters")
    .set({ is_open: false, closed_at: now })
    .where("queue_id", "=", queueId)
    .where("counter_id", "=", counterId)
    .returningAll()
    .executeTakeFirstOrThrow();
}
