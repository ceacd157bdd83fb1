import { sql } from "kysely";
import type { Db } from "../db/database.js";
import type { NewTicketRow, TicketPriorityName, TicketRow, TicketStatusName, TicketUpdate } from "../db/ticket.table.js";
import { rankOrderBySql, type RankPolicy } from "../ranking.js";

/** insertTicket inserts a ticket. */
export async function insertTicket(db: Db, row: NewTicketRow): Promise<TicketRow> {
  return db.insertInto("queue.tickets").values(row).returningAll().executeTakeFirstOrThrow();
}

/** findTicket reads a ticket; with `forUpdate` it row-locks it until commit. */
export async function findTicket(db: Db, ticketId: string, opts: { forUpdate?: boolean } = {}): Promise<TicketRow | undefined> {
  let q = db.selectFrom("queue.tickets").selectAll().where("ticket_id", "=", ticketId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** findTickets reads several tickets by id. */
export async function findTickets(db: Db, ticketIds: readonly string[]): Promise<TicketRow[]> {
  if (ticketIds.length === 0) return [];
  return db.selectFrom("queue.tickets").selectAll().where("ticket_id", "in", [...ticketIds]).execute();
}

/** findCalledAt reads the ticket a counter holds CALLED, if any. */
export async function findCalledAt(db: Db, queueId: string, counterId: string): Promise<TicketRow | undefined> {
  return db
    .selectFrom("queue.tickets")
    .selectAll()
    .where("queue_id", "=", queueId)
    .where("counter_id", "=", counterId)
    .where("status", "=", "CALLED")
    .executeTakeFirst();
}

/**
 * lockNextWaiting row-locks the highest-ranked WAITING ticket of a queue at `now` (ranking.ts), skipping
 * tickets other transactions hold: concurrent CallNexts take different tickets and never wait on each other.
 */
export async function lockNextWaiting(db: Db, queueId: string, now: Date, policy: RankPolicy): Promise<TicketRow | undefined> {
  let q = db.selectFrom("queue.tickets").selectAll().where("queue_id", "=", queueId).where("status", "=", "WAITING");
  for (const expr of rankOrderBySql(now, policy)) q = q.orderBy(expr);
  return q.limit(1).forUpdate().skipLocked().executeTakeFirst();
}

/**
 * updateTicketIf changes a ticket only while it is in one of `from` states (and, with `counterId`,
 * held by that counter): a compare-and-swap. Undefined when the ticket was not in that state.
 */
export async function updateTicketIf(
  db: Db,
  ticketId: string,
  from: readonly TicketStatusName[],
  update: TicketUpdate,
  opts: { counterId?: string } = {},
): Promise<TicketRow | undefined> {
  let q = db.updateTable("queue.tickets").set(update).where("ticket_id", "=", ticketId).where("status", "in", [...from]);
  if (opts.counterId !== undefined) q = q.where("counter_id", "=", opts.counterId);
  return q.returningAll().executeTakeFirst();
}

/** listActive reads a queue's WAITING and CALLED tickets (unordered). */
export async function listActive(db: Db, queueId: string): Promise<TicketRow[]> {
  return db.selectFrom("queue.tickets").selectAll().where("queue_id", "=", queueId).where("status", "in", ["WAITING", "CALLED"]).execute();
}

/** listEnded reads a page of a queue's tickets in the given final states, most recently ended first. */
export async function listEnded(db: Db, queueId: string, statuses: readonly TicketStatusName[], offset: number, limit: number): Promise<TicketRow[]> {
  if (statuses.length === 0 || limit <= 0) return [];
  return db
    .selectFrom("queue.tickets")
    .selectAll()
    .where("queue_id", "=", queueId)
    .where("status", "in", [...statuses])
    .orderBy("ended_at", "desc")
    .orderBy("ticket_id")
    .offset(offset)
    .limit(limit)
    .execute();
}

/** recentServiceTimesMs reads the service times (call to completion) of a queue's latest completed tickets. */
export async function recentServiceTimesMs(db: Db, queueId: string, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom("queue.tickets")
    .select(sql<number>`(extract(epoch from ended_at - called_at) * 1000)::float8`.as("ms"))
    .where("queue_id", "=", queueId)
    .where("status", "=", "COMPLETED")
    .orderBy("ended_at", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => Number(r.ms)).filter((ms) => Number.isFinite(ms) && ms >= 0);
}

/** recentWaits reads, for a queue's latest first-called tickets, the class, the issue estimate and the real wait. */
export async function recentWaits(
  db: Db,
  queueId: string,
  limit: number,
): Promise<{ priority: TicketPriorityName; predictedMs: number; actualMs: number }[]> {
  const rows = await db
    .selectFrom("queue.tickets")
    .select([
      "priority",
      "issue_estimate_ms",
      sql<number>`(extract(epoch from first_called_at - enqueued_at) * 1000)::float8`.as("actual_ms"),
    ])
    .where("queue_id", "=", queueId)
    .where("first_called_at", "is not", null)
    .where("issue_estimate_ms", "is not", null)
    .orderBy("first_called_at", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ priority: r.priority, predictedMs: Number(r.issue_estimate_ms), actualMs: Math.max(0, Number(r.actual_ms)) }));
}

/** countWaitingByQueue counts WAITING tickets per queue (for appointment_queue_length). */
export async function countWaitingByQueue(db: Db): Promise<{ queueId: string; count: number }[]> {
  const rows = await db
    .selectFrom("queue.tickets")
    .select(["queue_id", sql<string>`count(*)`.as("n")])
    .where("status", "=", "WAITING")
    .groupBy("queue_id")
    .execute();
  return rows.map((r) => ({ queueId: r.queue_id, count: Number(r.n) }));
}

/** countWaiting counts a queue's WAITING tickets. */
export async function countWaiting(db: Db, queueId: string): Promise<number> {
  const row = await db
    .selectFrom("queue.tickets")
    .select(sql<string>`count(*)`.as("n"))
    .where("queue_id", "=", queueId)
    .where("status", "=", "WAITING")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
