import type { Insertable, Selectable } from "kysely";

/** TicketDayTable is a row of queue.ticket_days: the last number given out per queue and local day. */
export interface TicketDayTable {
  /** queue_id is the queue. */
  queue_id: string;
  /** local_day is the date in the queue's zone, "YYYY-MM-DD". */
  local_day: string;
  /** last_number is the last number issued that day. */
  last_number: number;
}

/** TicketDayRow is a day counter as read. */
export type TicketDayRow = Selectable<TicketDayTable>;
/** NewTicketDayRow is a day counter to insert. */
export type NewTicketDayRow = Insertable<TicketDayTable>;
