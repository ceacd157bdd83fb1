import type { ColumnType, Insertable, Selectable } from "kysely";

/** ChangeTable is a row of queue.changes: one numbered change of a queue, for WatchQueue. */
export interface ChangeTable {
  /** queue_id is the queue. */
  queue_id: string;
  /** sequence increases per queue (int8: a string when read). */
  sequence: ColumnType<string, string | number, never>;
  /** at is when it happened. */
  at: Date;
  /** kind says whether a ticket or a counter changed. */
  kind: "ticket" | "counter";
  /** ticket_id is the changed ticket (kind "ticket"). */
  ticket_id: string | null;
  /** counter_id is the changed counter (kind "counter"). */
  counter_id: string | null;
}

/** ChangeRow is a change as read. */
export type ChangeRow = Selectable<ChangeTable>;
/** NewChangeRow is a change to insert. */
export type NewChangeRow = Insertable<ChangeTable>;
