import type { Readable, Writable } from "node:stream";
import type { BackupFormat, TableStat } from "../db/backup.table.js";
import type { InvariantReport } from "./table-stats.js";

/** ScratchResult is what a restore into a scratch target found. */
export interface ScratchResult {
  /** tables are the stats of the restored copy. */
  tables: TableStat[];
  /** invariants are the domain checks on the restored copy. */
  invariants: InvariantReport;
  /** restoreMs is how long the restore itself took. */
  restoreMs: number;
}

/**
 * DatabaseBackupEngine dumps and restores the domain schemas of one database (port): pg_dump and
 * pg_restore against real Postgres, PGlite's pg_dump in embedded mode.
 */
export interface DatabaseBackupEngine {
  /** format of the files this engine writes. */
  readonly format: BackupFormat;
  /** extension of those files, e.g. ".pgdump". */
  readonly extension: string;
  /**
   * dump streams a dump of the domain schemas into `sink` (ending it) and returns the per-table row
   * counts and checksums of the very snapshot the dump holds.
   */
  dump(sink: Writable, signal: AbortSignal): Promise<TableStat[]>;
  /** scratchRestore restores a dump into a temporary database, measures it, and drops the copy. */
  scratchRestore(source: Readable, signal: AbortSignal): Promise<ScratchResult>;
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
