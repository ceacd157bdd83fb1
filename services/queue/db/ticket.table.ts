import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

/** TicketPriorityName is a priority class as stored. */
export type TicketPriorityName = "URGENT" | "APPOINTMENT" | "PRIORITY" | "ROUTINE";
/** TicketStatusName is a ticket state as stored. */
export type TicketStatusName = "WAITING" | "CALLED" | "COMPLETED" | "NO_SHOW" | "CANCELLED" | "TRANSFERRED";

/** TicketTable is a row of queue.tickets: a patient's place in a queue. */
export interface TicketTable {
  /** ticket_id is server-assigned. */
  ticket_id: string;
  /** seq is the insertion order (int8: a string when read), the ranking's last tie-breaker. */
  seq: Generated<string>;
  /** queue_id is the queue. */
  queue_id: string;
  /** local_day is the queue's local date of issue, "YYYY-MM-DD". */
  local_day: string;
  /** day_number is the number within that day (1, 2, ...). */
  day_number: number;
  /** number is what displays show, e.g. "A-042". */
  number: string;
  /** priority is the class. */
  priority: TicketPriorityName;
  /** status is the state. */
  status: TicketStatusName;
  /** patient_id is the opaque patient id, null for anonymous walk-ins. */
  patient_id: string | null;
  /** appointment_id is the appointment checked in. */
  appointment_id: string | null;
  /** appointment_time is that appointment's booked start. */
  appointment_time: Date | null;
  /** arrived_at is the first arrival, kept across transfers. */
  arrived_at: Date;
  /** enqueued_at is when it entered this queue. */
  enqueued_at: Date;
  /** rank_at is the static preference key of the ranking. */
  rank_at: Date;
  /** counter_id is the counter that called it last. */
  counter_id: string | null;
  /** called_at is when it was last called. */
  called_at: Date | null;
  /** first_called_at is when it was first called (its wait ends there). */
  first_called_at: Date | null;
  /** ended_at is when it reached a final state. */
  ended_at: Date | null;
  /** recall_count counts RecallTicket calls. */
  recall_count: ColumnType<number, number | undefined, number>;
  /** skip_count counts SkipTicket calls. */
  skip_count: ColumnType<number, number | undefined, number>;
  /** transferred_from_id is the ticket this one continues after a transfer. */
  transferred_from_id: string | null;
  /** yields_to is, for a skipped ticket, the ticket it goes back behind (ranking.ts). */
  yields_to: ColumnType<string | null, string | null | undefined, string | null>;
  /** yields_to_skips is that ticket's skip_count when this one was skipped (the yield ends when it changes). */
  yields_to_skips: ColumnType<number | null, number | null | undefined, number | null>;
  /** issue_estimate_ms is the uncalibrated p50 wait estimated at issue. */
  issue_estimate_ms: number | null;
  /** updated_at is the time of the last change. */
  updated_at: Date;
}

/** TicketRow is a ticket as read. */
export type TicketRow = Selectable<TicketTable>;
/** NewTicketRow is a ticket to insert. */
export type NewTicketRow = Insertable<TicketTable>;
/** TicketUpdate is a change to a ticket. */
export type TicketUpdate = Updateable<TicketTable>;
