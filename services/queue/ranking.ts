// Who is called next: the ranking of waiting tickets, as a pure function and as the identical SQL
// ORDER BY that CallNext runs under `FOR UPDATE SKIP LOCKED`.
//
// Three tiers, evaluated at the moment of the call (`now`):
//   0. URGENT tickets, by arrival.
//   1. Overdue tickets: non-urgent tickets that arrived at least the fairness bound ago, by arrival.
//      Once a ticket has waited the bound, no later non-urgent arrival is called before it, so no
//      ticket waits more than the bound behind later non-urgent arrivals (DESIGN.md invariant 5).
//   2. Everyone else, by a static preference key (`rankAt`, fixed at issue by `rankTime`): arrival
//      for ROUTINE, arrival minus a head start for PRIORITY, the booked time for APPOINTMENT
//      (arrival when checked in after the late window).
// Ties: earlier arrival, then insertion order (`seq`).
//
// A skipped ticket (its patient was called and was not there yet) goes back behind the ticket that
// was next when it was skipped, so the counter's next call reaches someone else first (SkipTicket
// records that ticket in `yieldsTo`). While that ticket still waits, and has not been skipped itself
// since (its skip count is unchanged: a ticket only returns to waiting through a skip, so yields never
// chain or loop), the skipped ticket ranks immediately after it — or by its own keys when those are
// later anyway. A yield only ever moves the skipped ticket back, never anyone forward, so for every
// ticket not passed over this way URGENT still goes first and the fairness bound still holds; the
// one place a skipped patient gives up is the only exception, even for a skipped URGENT ticket
// (staff said "not here yet", and the next call must reach someone who is).

import { sql, type RawBuilder } from "kysely";
import type { TicketPriorityName } from "./db/ticket.table.js";

/** RankPolicy holds the ranking's tunables. */
export interface RankPolicy {
  /** fairnessBoundMs: no ticket waits longer than this behind later non-urgent arrivals (default 45 min). */
  fairnessBoundMs: number;
  /** priorityHeadStartMs is how much earlier than their arrival PRIORITY tickets rank (default 10 min). */
  priorityHeadStartMs: number;
  /** appointmentEarlyMs is how long before the booked time a check-in is accepted (default 60 min). */
  appointmentEarlyMs: number;
  /** appointmentLateMs is how long after the booked time a check-in still ranks by it (default 15 min). */
  appointmentLateMs: number;
}

/** DEFAULT_RANK_POLICY is the ranking without configuration. */
export const DEFAULT_RANK_POLICY: RankPolicy = {
  fairnessBoundMs: 45 * 60_000,
  priorityHeadStartMs: 10 * 60_000,
  appointmentEarlyMs: 60 * 60_000,
  appointmentLateMs: 15 * 60_000,
};

/** RankInput is what the ranking needs of a waiting ticket. */
export interface RankInput {
  /** ticketId names the ticket. */
  ticketId: string;
  /** seq is the insertion order, the last tie-breaker. */
  seq: bigint;
  /** priority is the class. */
  priority: TicketPriorityName;
  /** arrivedAt is the first arrival (kept across transfers). */
  arrivedAt: Date;
  /** rankAt is the static preference key from rankTime. */
  rankAt: Date;
  /** skipCount is how often the ticket was skipped (default 0): a yield to it lasts while this stays as it was. */
  skipCount?: number;
  /** yieldsTo is, for a skipped ticket, the ticket it goes behind and that ticket's skipCount then. */
  yieldsTo?: { ticketId: string; skipCount: number } | null;
}

/** RankKey is a ticket's place in the order at some instant: tier, key, arrival (ms), seq. */
type RankKey = [number, number, number, bigint];

/** CheckInTiming says how an APPOINTMENT check-in relates to the booked time. */
export type CheckInTiming = "early" | "on_time" | "late";

/** checkInTiming classifies an appointment check-in against the early and late windows. */
export function checkInTiming(arrivedAt: Date, appointmentTime: Date, policy: RankPolicy): CheckInTiming {
  const t = arrivedAt.getTime();
  if (t < appointmentTime.getTime() - policy.appointmentEarlyMs) return "early";
  if (t > appointmentTime.getTime() + policy.appointmentLateMs) return "late";
  return "on_time";
}

/**
 * rankTime is a ticket's static preference key: ROUTINE and URGENT rank by arrival, PRIORITY by
 * arrival minus the head start, APPOINTMENT by its booked time (by arrival when late past the window;
 * an appointment without a booked time ranks like PRIORITY).
 */
export function rankTime(
  t: { priority: TicketPriorityName; arrivedAt: Date; appointmentTime?: Date | null },
  policy: RankPolicy,
): Date {
  switch (t.priority) {
    case "URGENT":
    case "ROUTINE":
      return t.arrivedAt;
    case "PRIORITY":
      return new Date(t.arrivedAt.getTime() - policy.priorityHeadStartMs);
    case "APPOINTMENT":
      if (!t.appointmentTime) return new Date(t.arrivedAt.getTime() - policy.priorityHeadStartMs);
      return checkInTiming(t.arrivedAt, t.appointmentTime, policy) === "late" ? t.arrivedAt : t.appointmentTime;
  }
}

/** rankTier is a ticket's tier at `now`: 0 URGENT, 1 overdue (waited at least the bound), 2 the rest. */
export function rankTier(t: RankInput, now: Date, policy: RankPolicy): 0 | 1 | 2 {
  if (t.priority === "URGENT") return 0;
  return t.arrivedAt.getTime() <= now.getTime() - policy.fairnessBoundMs ? 1 : 2;
}

function ownKey(t: RankInput, now: Date, policy: RankPolicy): RankKey {
  const tier = rankTier(t, now, policy);
  return [tier, tier === 2 ? t.rankAt.getTime() : t.arrivedAt.getTime(), t.arrivedAt.getTime(), t.seq];
}

function compareKeys(a: RankKey, b: RankKey): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0;
}

/** compareRank orders two waiting tickets by their own keys at `now` (yields aside): negative when `a` is called first. */
export function compareRank(a: RankInput, b: RankInput, now: Date, policy: RankPolicy): number {
  return compareKeys(ownKey(a, now, policy), ownKey(b, now, policy));
}

/**
 * rankTickets returns waiting tickets in call order at `now` (a new array): by their own keys, except
 * that a ticket yielding to another one of them (still at the skip count it had) ranks right behind it
 * when its own keys would put it ahead.
 */
export function rankTickets<T extends RankInput>(tickets: readonly T[], now: Date, policy: RankPolicy): T[] {
  const own = new Map(tickets.map((t) => [t.ticketId, { t, key: ownKey(t, now, policy) }]));
  const placed = tickets.map((t) => {
    const mine = own.get(t.ticketId)!.key;
    const target = t.yieldsTo ? own.get(t.yieldsTo.ticketId) : undefined;
    if (target && target.t !== t && (target.t.skipCount ?? 0) === t.yieldsTo!.skipCount && compareKeys(mine, target.key) < 0) {
      return { t, key: target.key, behind: 1 };
    }
    return { t, key: mine, behind: 0 };
  });
  placed.sort((a, b) => compareKeys(a.key, b.key) || a.behind - b.behind || (a.t.seq < b.t.seq ? -1 : a.t.seq > b.t.seq ? 1 : 0));
  return placed.map((p) => p.t);
}

/**
 * yieldJoinSql is the condition under which ticket `y` is the one that waiting ticket `t` yields to
 * (for `left join queue.tickets y on ...`): t names it, it waits in the same queue, and its skip count
 * is still the one t recorded. rankOrderBySql needs this join.
 */
export function yieldJoinSql(t = "t", y = "y"): RawBuilder<unknown> {
  const [a, b] = [sql.raw(t), sql.raw(y)];
  return sql`${b}.ticket_id = ${a}.yields_to and ${b}.queue_id = ${a}.queue_id and ${b}.status = 'WAITING' and ${b}.skip_count = ${a}.yields_to_skips`;
}

/**
 * rankOrderBySql is rankTickets as SQL ORDER BY expressions over queue.tickets `t` (priority,
 * arrived_at, rank_at, seq) left-joined with the ticket `y` it yields to (yieldJoinSql), for
 * `orderBy(...)` in Kysely. Tested against rankTickets.
 */
export function rankOrderBySql(now: Date, policy: RankPolicy, t = "t", y = "y"): RawBuilder<unknown>[] {
  const cutoff = new Date(now.getTime() - policy.fairnessBoundMs);
  const [a, b] = [sql.raw(t), sql.raw(y)];
  const tier = (x: RawBuilder<unknown>) => sql`case when ${x}.priority = 'URGENT' then 0 when ${x}.arrived_at <= ${cutoff} then 1 else 2 end`;
  const key = (x: RawBuilder<unknown>) => sql`case when ${x}.priority = 'URGENT' or ${x}.arrived_at <= ${cutoff} then ${x}.arrived_at else ${x}.rank_at end`;
  const behind = sql`(${b}.ticket_id is not null and (${tier(a)}, ${key(a)}, ${a}.arrived_at, ${a}.seq) < (${tier(b)}, ${key(b)}, ${b}.arrived_at, ${b}.seq))`;
  return [
    sql`case when ${behind} then ${tier(b)} else ${tier(a)} end`,
    sql`case when ${behind} then ${key(b)} else ${key(a)} end`,
    sql`case when ${behind} then ${b}.arrived_at else ${a}.arrived_at end`,
    sql`case when ${behind} then ${b}.seq else ${a}.seq end`,
    behind,
    sql`${a}.seq`,
  ];
}
