import type { Readable, Writable } from "node:stream";

/** BackupWriter is one file being written to a store: invisible under its final key until commit(). */
export interface BackupWriter {
  /** stream takes the file's bytes; end it (or let pipeline end it) before commit(). */
  readonly stream: Writable;
  /** commit makes the written bytes durable and visible under the final key; returns the location. */
  commit(): Promise<string>;
  /** abort drops the partial file; safe to call after a failed write or twice. */
  abort(): Promise<void>;
}

/**
 * BackupStore is where backup files live (port). The filesystem adapter keeps them under
 * BACKUP_DIR; an object-store adapter implements the same four operations.
 */
export interface BackupStore {
  /** describe names the store for logs and errors, e.g. "filesystem /var/backups". */
  readonly describe: string;
  /** create starts writing the file `key` (e.g. "postgres/b-123.pgdump") under a temporary name. */
  create(key: string): Promise<BackupWriter>;
  /** read streams a committed file. */
  read(location: string): Promise<Readable>;
  /** size is a committed file's size in bytes, or undefined when it does not exist. */
  size(location: string): Promise<number | undefined>;
  /** delete removes a committed file (no error when it is already gone). */
  delete(location: string): Promise<void>;
}
