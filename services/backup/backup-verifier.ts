import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import type { TableCheckSchema } from "../../gen/medschedule/backup/v1/backup_pb.js";
import type { Clock } from "../runtime/clock.js";
import { FailedPreconditionError } from "../runtime/errors.js";
import type { BackupParts } from "./backup-parts.js";
import { BackupDeletedError, BackupNotSucceededError, messageOf, TargetNotConfiguredError } from "./backup.errors.js";
import type { BackupFormat, BackupRow } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import { engineOf, type BackupEngines } from "./engines/backup-engine.port.js";
import { compareStats } from "./engines/table-stats.js";
import { sha256Of } from "./hashing-counter.js";
import { updateBackup } from "./repositories/backup.repository.js";
import type { BackupStore } from "./store/backup-store.port.js";

/** VerifyOutcome is what a verification found. */
export interface VerifyOutcome {
  /** ok is true when the file is intact and its scratch restore matches what was recorded at dump time. */
  ok: boolean;
  /** details say what was checked and what did not match, for a person. */
  details: string[];
  /** tables compare each table's recorded and restored row count and checksum. */
  tables: MessageInitShape<typeof TableCheckSchema>[];
  /** restoreMs is how long the scratch restore took (0 when none ran). */
  restoreMs: number;
  /** row is the catalog entry with this verification recorded. */
  row: BackupRow;
}

/** checkRestorable throws unless `row` is a SUCCEEDED backup whose file retention has not deleted. */
export function checkRestorable(row: BackupRow): void {
  if (row.state !== "SUCCEEDED") throw new BackupNotSucceededError(row.backup_id, row.state);
  if (row.deleted_at) throw new BackupDeletedError(row.backup_id);
}

/**
 * BackupVerifier proves a backup restores (DESIGN.md invariant 6): the stored file must hash to the
 * recorded sha256, restore into a scratch copy, match the per-table counts and checksums recorded at
 * dump time and keep the domain invariants. Every result is recorded in the catalog.
 */
export class BackupVerifier {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #store: BackupStore;
  readonly #engines: BackupEngines;

  constructor(opts: BackupParts) {
    this.#db = opts.db;
    this.#clock = opts.clock;
    this.#store = opts.store;
    this.#engines = opts.engines;
  }

  /** verify checks a SUCCEEDED backup end to end and records the result in the catalog. */
  async verify(row: BackupRow, signal: AbortSignal): Promise<VerifyOutcome> {
    checkRestorable(row);
    const details: string[] = [];
    let tables: MessageInitShape<typeof TableCheckSchema>[] = [];
    let restoreMs = 0;
    let ok = false;
    const location = row.location!;
    const engine = engineOf(this.#engines, row.target);
    try {
      const size = await this.#store.size(location);
      if (size === undefined) {
        details.push(`the file ${location} is missing from the store (${this.#store.describe})`);
      } else {
        const { sha256, bytes } = await sha256Of(await this.#store.read(location));
        if (sha256 !== row.sha256 || bytes !== Number(row.size_bytes)) {
          details.push(
            `sha256 mismatch: the stored file changed since the backup (recorded ${row.sha256}, ${row.size_bytes} bytes; now ${sha256}, ${bytes} bytes); not restored`,
          );
        } else {
          details.push(`sha256 ${sha256} matches (${bytes} bytes)`);
          if (!engine) throw new TargetNotConfiguredError(`no ${row.target} is configured to restore into a scratch copy`);
          const expectedFormat: BackupFormat | null = row.format;
          if (expectedFormat && expectedFormat !== engine.format) {
            details.push(`the backup is in ${expectedFormat} format but this server restores ${engine.format} (embedded and real Postgres backups do not mix)`);
          } else {
            const scratch = await engine.scratchRestore(await this.#store.read(location), signal);
            restoreMs = scratch.restoreMs;
            const compared = compareStats(row.table_checks ?? [], scratch.tables);
            tables = compared.map((c) => ({ ...c, expectedRows: BigInt(c.expectedRows), actualRows: BigInt(c.actualRows) }));
            const bad = compared.filter((c) => !c.ok);
            for (const c of bad) {
              details.push(
                `${c.name}: recorded ${c.expectedRows} rows / ${c.expectedChecksum || "-"}, restored ${c.actualRows} rows / ${c.actualChecksum || "-"}`,
              );
            }
            if (bad.length === 0) details.push(`restored into a scratch ${row.target === "POSTGRES" ? "database" : "redis-server"} in ${Math.round(restoreMs)} ms; ${compared.length} tables match their recorded counts and checksums`);
            details.push(...scratch.invariants.problems, ...scratch.invariants.notes);
            ok = bad.length === 0 && scratch.invariants.problems.length === 0 && (row.table_checks ?? []).length > 0;
            if ((row.table_checks ?? []).length === 0) details.push("no table stats were recorded at dump time: nothing to compare");
          }
        }
      }
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof FailedPreconditionError) throw err;
      details.push(`the restore into a scratch target failed: ${messageOf(err)}`);
      ok = false;
    }
    const updated =
      (await updateBackup(this.#db, row.backup_id, {
        verified_at: this.#clock.now(),
        verified_ok: ok,
        verify_restore_ms: Math.round(restoreMs),
        verify_details: JSON.stringify(details),
      })) ?? row;
    return { ok, details, tables, restoreMs, row: updated };
  }
}
