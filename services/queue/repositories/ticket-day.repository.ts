import type { Db } from "../db/database.js";

/** nextDayNumber takes the next ticket number of a queue on a local day (1 on the day's first ticket). */
export async function nextDayNumber(db: Db, queueId: string, localDay: string): Promise<number> {
  const row = await db
    .insertInto("queue.ticket_days")
    .values({ queue_id: queueId, local_day: localDay, last_number: 1 })
    .onConflict((oc) => oc.columns(["queue_id", "local_day"]).doUpdateSet((eb) => ({ last_number: eb("queue.ticket_days.last_number", "+", 1) })))
    .returning("last_number")
    .executeTakeFirstOrThrow();
  return row.last_number;
}
