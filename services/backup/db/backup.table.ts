import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

/** BackupTargetName is a BackupTarget value name without its prefix. */
export type BackupTargetName = "POSTGRES" | "REDIS";
/** BackupStateName is a BackupState value name without its prefix. */
export type BackupStateName = "RUNNING" | "SUCCEEDED" | "FAILED";
/** BackupFormat is how the stored file is written: pg_dump custom, plain SQL (PGlite) or a Redis RDB. */
export type BackupFormat = "pg_custom" | "pg_sql" | "rdb";

/** TableStat is one table's (or Redis database's) row count and content checksum at dump time. */
export interface TableStat {
  /** name is schema.table, or "redis:db<N>". */
  name: string;
  /** rows is the row (or key) count. */
  rows: number;
  /** checksum is the hex digest of the content, independent of physical row order. */
  checksum: string;
}

/** BackupTable is a row of backup.backups: one catalog entry. */
export interface BackupTable {
  /** backup_id is the server-assigned id. */
  backup_id: string;
  /** target is what was copied. */
  target: BackupTargetName;
  /** state is RUNNING, SUCCEEDED or FAILED. */
  state: BackupStateName;
  /** started_at is when the backup started. */
  started_at: Date;
  /** finished_at is when it ended (null while RUNNING). */
  finished_at: Date | null;
  /** size_bytes is the stored file's size (int8: a string when read). */
  size_bytes: ColumnType<string | null, number | null, number | null>;
  /** sha256 is the hex sha256 of the stored file. */
  sha256: string | null;
  /** location is the store key of the file. */
  location: string | null;
  /** error says why it failed. */
  error: string | null;
  /** verified_at is when the last verification ran. */
  verified_at: Date | null;
  /** verified_ok is the last verification's result (false before any). */
  verified_ok: Generated<boolean>;
  /** request_caller is the StartBackup caller (token subject). */
  request_caller: string | null;
  /** request_id is the StartBackup idempotency key. */
  request_id: string | null;
  /** format is the file format. */
  format: BackupFormat | null;
  /** table_checks are the per-table stats recorded at dump time (json). */
  table_checks: ColumnType<TableStat[] | null, string | null, string | null>;
  /** verify_restore_ms is how long the last verification's scratch restore took (int8). */
  verify_restore_ms: ColumnType<string | null, number | null, number | null>;
  /** verify_details are the last verification's findings (json array of strings). */
  verify_details: ColumnType<string[] | null, string | null, string | null>;
  /** heartbeat_at is refreshed while a backup runs; a stale one means its process died. */
  heartbeat_at: Date | null;
  /** deleted_at is when retention deleted the file (the entry stays, for the record). */
  deleted_at: Date | null;
}

/** BackupRow is a catalog entry as read. */
export type BackupRow = Selectable<BackupTable>;
/** NewBackupRow is a catalog entry to insert. */
export type NewBackupRow = Insertable<BackupTable>;
/** BackupUpdate is a change to a catalog entry. */
export type BackupUpdate = Updateable<BackupTable>;
