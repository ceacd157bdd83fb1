import type { Insertable, Selectable, Updateable } from "kysely";

/** CounterTable is a row of queue.counters: a desk or room calling from one queue. */
export interface CounterTable {
  /** queue_id is the queue it serves. */
  queue_id: string;
  /** counter_id is client-chosen, unique within the queue. */
  counter_id: string;
  /** is_open tells whether it calls tickets now. */
  is_open: boolean;
  /** opened_at is when it was last opened. */
  opened_at: Date | null;
  /** closed_at is when it was last closed. */
  closed_at: Date | null;
}

/** CounterRow is a counter as read. */
export type CounterRow = Selectable<CounterTable>;
/** NewCounterRow is a counter to insert. */
export type NewCounterRow = Insertable<CounterTable>;
/** CounterUpdate is a change to a counter. */
export type CounterUpdate = Updateable<CounterTable>;
