import type { ColumnType, Selectable } from "kysely";

/**
 * LeaseTable is a row of lock.leases, the Postgres lock backend's lease table: one row per resource
 * ever locked, kept after release so that its fencing counter survives (a free row has no lease_id).
 */
export interface LeaseTable {
  /** resource is the locked key. */
  resource: string;
  /** lease_id is the live lease's id; null when the resource is free. */
  lease_id: string | null;
  /** owner is who holds it, for operators; null when free. */
  owner: string | null;
  /** epoch is the fencing epoch of the last token issued on this row (int8: a string when read). */
  epoch: ColumnType<string, number, number>;
  /** counter is the per-resource fencing counter under that epoch, 1 to 2^32 - 1 (int8: a string when read). */
  counter: ColumnType<string, number, number>;
  /** acquired_at is when the live lease was granted (database clock); null when free. */
  acquired_at: Date | null;
  /** expires_at is when the live lease ends unless extended (database clock); null when free. */
  expires_at: Date | null;
}

/** LeaseRow is a lease row as read. */
export type LeaseRow = Selectable<LeaseTable>;
