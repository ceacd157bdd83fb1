import type { ColumnType, Selectable, Updateable } from "kysely";

/** FencingEpochTable is the one row of lock.fencing_epoch: the epoch every fencing token is issued under. */
export interface FencingEpochTable {
  /** id is always 1 (a check constraint keeps the table to one row). */
  id: number;
  /** epoch is the high part of every fencing token (int8: a string when read). */
  epoch: ColumnType<string, number, number>;
  /** issued_by names the backend the epoch was bumped for: the Postgres backend issues no token under a "redis" one. */
  issued_by: ColumnType<"postgres" | "redis", "postgres" | "redis" | undefined, "postgres" | "redis">;
  /** updated_at is when the epoch last moved. */
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

/** FencingEpochRow is the epoch row as read. */
export type FencingEpochRow = Selectable<FencingEpochTable>;
/** FencingEpochUpdate is a change to the epoch row. */
export type FencingEpochUpdate = Updateable<FencingEpochTable>;
