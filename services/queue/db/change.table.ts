import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** ChangeTable is a row of queue.changes: one change of a queue, for WatchQueue, numbered after its commit. */
export interface ChangeTable {
  /** id is the insertion order (int8: a string when read); the sequencer numbers pending changes by it. */
  id: Generated<string>;
  /** queue_id is the queue. */
  queue_id: string;
  /** sequence increases per queue without gaps (int8: a string when read); NULL until stamped after the commit. */
  sequence: ColumnType<string | null, string | number | null, never>;
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
