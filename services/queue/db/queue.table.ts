import type { ColumnType, Insertable, Selectable, Updateable } from "kysely";

/** QueueTable is a row of queue.queues: a waiting line with its own ticket numbers. */
export interface QueueTable {
  /** queue_id is client-chosen or generated. */
  queue_id: string;
  /** display_name is shown on displays. */
  display_name: string;
  /** prefix starts every ticket number, e.g. "A". */
  prefix: string;
  /** time_zone is the IANA zone whose local midnight restarts the numbers. */
  time_zone: string;
  /** location_id is the scheduling service's location the queue is at (`default` for queues from before locations). */
  location_id: ColumnType<string, string | undefined, string>;
  /** created_at is when the queue was created. */
  created_at: Date;
  /**
   * owns_prefix marks the one queue that holds its prefix (unique among owners: queues_one_owner_per_prefix).
   * True for every queue created since prefixes are unique; false only for a duplicate left from before.
   */
  owns_prefix: ColumnType<boolean, boolean | undefined, boolean>;
  /** last_sequence is the last WatchQueue sequence (int8: a string when read). */
  last_sequence: ColumnType<string, string | number | undefined, string | number>;
}

/** QueueRow is a queue as read. */
export type QueueRow = Selectable<QueueTable>;
/** NewQueueRow is a queue to insert. */
export type NewQueueRow = Insertable<QueueTable>;
/** QueueUpdate is a change to a queue. */
export type QueueUpdate = Updateable<QueueTable>;
