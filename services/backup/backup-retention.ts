import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { BackupParts } from "./backup-parts.js";
import type { Caller } from "../runtime/caller.js";
import type { BackupRow, BackupTargetName } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import { listRetained, updateBackup } from "./repositories/backup.repository.js";
import type { BackupStore } from "./store/backup-store.port.js";

/** DEFAULT_KEEP_MS are the retention windows when BACKUP_KEEP_* is not set: 14 days of Postgres backups, 7 of Redis. */
export const DEFAULT_KEEP_MS: Readonly<Record<BackupTargetName, number>> = { POSTGRES: 14 * 86_400_000, REDIS: 7 * 86_400_000 };

/** Pruned is what one pass of retention deleted and kept. */
export interface Pruned {
  /** deleted are the entries whose files were (or, in a dry run, would be) deleted. */
  deleted: BackupRow[];
  /** kept are the entries whose files stay. */
  kept: BackupRow[];
}

/**
 * BackupRetention deletes old backup files, never the last good backup of a target (DESIGN.md
 * invariant 6); catalog entries stay, with deleted_at set, for the record.
 */
export class BackupRetention {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #store: BackupStore;

  constructor(opts: BackupParts) {
    this.#db = opts.db;
    this.#clock = opts.clock;
    this.#store = opts.store;
  }

  /**
   * prune deletes the files of a target's backups that started before now - keepMs, except the newest
   * SUCCEEDED one whatever its age; their catalog rows stay, with deleted_at set. Audited unless a dry run.
   */
  async prune(target: BackupTargetName, keepMs: number, dryRun: boolean, caller: Caller): Promise<Pruned> {
    const now = this.#clock.now();
    const cutoff = now.getTime() - keepMs;
    const rows = await listRetained(this.#db, target);
    const lastGood = rows.find((r) => r.state === "SUCCEEDED");
    const deleted: BackupRow[] = [];
    const kept: BackupRow[] = [];
    for (const r of rows) {
      if (r !== lastGood && r.started_at.getTime() < cutoff) deleted.push(r);
      else kept.push(r);
    }
    if (dryRun || deleted.length === 0) return { deleted, kept };
    const done: BackupRow[] = [];
    for (const r of deleted) {
      if (r.location) await this.#store.delete(r.location);
      const u = await updateBackup(this.#db, r.backup_id, { deleted_at: now });
      done.push(u ?? r);
    }
    await AUDIT_LOG.append(this.#db, {
      at: now,
      actor: caller.subject,
      role: caller.role,
      action: "PruneBackups",
      resource: null,
      detail: { target, deleted: done.map((r) => r.backup_id), keptLastGood: lastGood?.backup_id ?? null },
    });
    return { deleted: done, kept };
  }
}
