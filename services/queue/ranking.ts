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
}

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

/** compareRank orders two waiting tickets at `now`: negative when `a` is called first. */
export function compareRank(a: RankInput, b: RankInput, now: Date, policy: RankPolicy): number {
  const ta = rankTier(a, now, policy);
  const tb = rankTier(b, now, policy);
  if (ta !== tb) return ta - tb;
  const ka = ta === 2 ? a.rankAt.getTime() : a.arrivedAt.getTime();
  const kb = tb === 2 ? b.rankAt.getTime() : b.arrivedAt.getTime();
  if (ka !== kb) return ka - kb;
  if (a.arrivedAt.getTime() !== b.arrivedAt.getTime()) return a.arrivedAt.getTime() - b.arrivedAt.getTime();
  return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

/** rankTickets returns waiting tickets in call order at `now` (a new array). */
export function rankTickets<T extends RankInput>(tickets: readonly T[], now: Date, policy: RankPolicy): T[] {
  return [...tickets].sort((a, b) => compareRank(a, b, now, policy));
}

/**
 * rankOrderBySql is compareRank as SQL ORDER BY expressions over queue.tickets columns (priority,
 * arrived_at, rank_at, seq), for `orderBy(...)` in Kysely. Tested against rankTickets.
 */
export function rankOrderBySql(now: Date, policy: RankPolicy): RawBuilder<unknown>[] {
  const cutoff = new Date(now.getTime() - policy.fairnessBoundMs);
  return [
    sql`case when priority = 'URGENT' then 0 when arrived_at <= ${cutoff} then 1 else 2 end`,
    sql`case when priority = 'URGENT' or arrived_at <= ${cutoff} then arrived_at else rank_at end`,
    sql`arrived_at`,
    sql`seq`,
  ];
}
