import type { Readable, Writable } from "node:stream";
import type { BackupFormat, BackupTargetName, TableStat } from "../db/backup.table.js";
import type { InvariantReport } from "./table-stats.js";

/** ScratchResult is what a restore into a scratch target found. */
export interface ScratchResult {
  /** tables are the stats of the restored copy. */
  tables: TableStat[];
  /** invariants are the domain checks on the restored copy (none for a Redis keyspace). */
  invariants: InvariantReport;
  /** restoreMs is how long the restore itself took. */
  restoreMs: number;
}

/**
 * BackupEngine writes backups of one target and checks them (port): it dumps the target into a file
 * with the per-table stats of what it dumped, and restores such a file into a scratch copy.
 */
export interface BackupEngine {
  /** format of the files this engine writes. */
  readonly format: BackupFormat;
  /** extension of those files, e.g. ".pgdump". */
  readonly extension: string;
  /**
   * dump streams a dump of the target into `sink` (ending it) and returns the per-table row counts
   * and checksums of the very snapshot the dump holds.
   */
  dump(sink: Writable, signal: AbortSignal): Promise<TableStat[]>;
  /** scratchRestore restores a dump into a temporary copy, measures it, and drops the copy. */
  scratchRestore(source: Readable, signal: AbortSignal): Promise<ScratchResult>;
}

/**
 * DatabaseBackupEngine is the BackupEngine of the domain schemas of one database: pg_dump and
 * pg_restore against real Postgres (PgToolsEngine), PGlite's pg_dump in embedded mode (PgliteEngine).
 */
export interface DatabaseBackupEngine extends BackupEngine {
  /**
   * restore replaces the live domain schemas named in `schemas` with the dump's, in one transaction;
   * the backup catalog is untouched. `beforeCommit` runs once the whole source was read and before
   * the transaction commits; when it throws, nothing is changed (the caller checks the file's hash
   * there, so a file swapped after verification is never restored).
   */
  restore(source: Readable, schemas: string[], signal: AbortSignal, beforeCommit?: () => void): Promise<void>;
  /** close releases what the engine keeps between calls (e.g. a scratch instance). */
  close?(): Promise<void>;
}

/** RedisBackupEngine is the BackupEngine of a whole Redis server's keyspace (RedisEngine). */
export interface RedisBackupEngine extends BackupEngine {
  /**
   * restore replaces the live keyspace with the file's. `beforeCommit` runs once the file was read,
   * before anything live changes; when it throws, nothing is changed.
   */
  restore(source: Readable, signal: AbortSignal, beforeCommit?: () => void): Promise<void>;
}

/** BackupEngines are the engines of the targets this service backs up; a target without one is not configured. */
export interface BackupEngines {
  /** POSTGRES backs up the domain schemas of the database. */
  POSTGRES?: DatabaseBackupEngine;
  /** REDIS backs up the lock Redis. */
  REDIS?: RedisBackupEngine;
}

/** engineOf returns the engine of `target`, or undefined when that target is not configured. */
export function engineOf(engines: BackupEngines, target: BackupTargetName): DatabaseBackupEngine | RedisBackupEngine | undefined {
  return target === "POSTGRES" ? engines.POSTGRES : engines.REDIS;
}
