import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import { BackupRunningError, BackupServiceClosingError, messageOf, RequestIdReusedError, TargetNotConfiguredError } from "./backup.errors.js";
import { backupDuration, backupFailures, backupLastSuccess, backupSize, metricTarget } from "./backup.metrics.js";
import type { BackupParts } from "./backup-parts.js";
import type { Caller } from "../runtime/caller.js";
import type { BackupRow, BackupStateName, BackupTargetName } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import { engineOf, type BackupEngine, type BackupEngines } from "./engines/backup-engine.port.js";
import { runTool } from "./engines/run-tool.js";
import { HashingCounter } from "./hashing-counter.js";
import { failStale, findBackup, findByRequest, findRunning, insertBackup, updateBackupIf } from "./repositories/backup.repository.js";
import { RequestInProgressError } from "../runtime/idempotency.js";
import type { BackupStore, BackupWriter } from "./store/backup-store.port.js";

const FAILURE_RECORD_FIRST_DELAY_MS = 100;
const FAILURE_RECORD_MAX_DELAY_MS = 5_000;
/** While the service shuts down, a failure is retried this long at most (the reaper does the rest). */
const FAILURE_RECORD_CLOSING_MS = 5_000;

/** BackupRunnerOptions configure a BackupRunner. */
export interface BackupRunnerOptions extends BackupParts {
  /** heartbeatMs is how often a running backup refreshes heartbeat_at. */
  heartbeatMs: number;
  /** staleAfterMs: a RUNNING backup without a heartbeat for this long is taken as dead. */
  staleAfterMs: number;
}

/** newBackupId is a sortable, unique backup id such as "b-pg-20260302T023000Z-1a2b3c4d". */
function newBackupId(target: BackupTargetName, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `b-${target === "POSTGRES" ? "pg" : "redis"}-${stamp}-${randomBytes(4).toString("hex")}`;
}

/**
 * BackupRunner starts backups and runs them in the background of this process: the RUNNING catalog
 * entry first (idempotent per caller and requestId, one running per target), then the dump into the
 * store, hashed and counted on the way, and the entry SUCCEEDED with its sha256, or FAILED with no
 * file left behind. A backup whose process died is marked FAILED by the next start (no heartbeat).
 */
export class BackupRunner {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #store: BackupStore;
  readonly #engines: BackupEngines;
  readonly #heartbeatMs: number;
  readonly #staleAfterMs: number;
  readonly #jobs = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #closed = false;

  constructor(opts: BackupRunnerOptions) {
    this.#db = opts.db;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#store = opts.store;
    this.#engines = opts.engines;
    this.#heartbeatMs = opts.heartbeatMs;
    this.#staleAfterMs = opts.staleAfterMs;
  }

  /** close interrupts running backups (they end FAILED) and waits for them; no backup starts afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#jobs.values()) job.abort.abort(new Error("interrupted: the backup service shut down"));
    await Promise.all([...this.#jobs.values()].map((j) => j.done));
  }

  /** waitForIdle resolves once no backup started by this process is running (tests, the CLI's server). */
  async waitForIdle(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.all([...this.#jobs.values()].map((j) => j.done));
  }

  /** finished resolves once the backup `backupId`, if this process runs it, has ended. */
  async finished(backupId: string): Promise<void> {
    await this.#jobs.get(backupId)?.done;
  }

  /** start creates the RUNNING catalog entry (or returns the one of an earlier call with the same key) and runs the backup in the background. */
  async start(target: BackupTargetName, caller: Caller, requestId: string): Promise<BackupRow> {
    const existing = await findByRequest(this.#db, caller.subject, requestId);
    if (existing) return this.#sameRequest(existing, target, requestId);
    if (this.#closed) throw new BackupServiceClosingError();
    const engine = engineOf(this.#engines, target);
    if (!engine) {
      throw new TargetNotConfiguredError(
        target === "REDIS" ? "no Redis to back up: REDIS_URL is not set for the backup service" : "no database to back up: DATABASE_URL is not set",
      );
    }
    const now = this.#clock.now();
    const reaped = await failStale(this.#db, target, new Date(now.getTime() - this.#staleAfterMs), now);
    if (reaped > 0) this.#logger?.warn({ target, reaped }, "backup: marked abandoned RUNNING backups FAILED");
    let row: BackupRow;
    try {
      row = await insertBackup(this.#db, {
        backup_id: newBackupId(target, now),
        target,
        state: "RUNNING",
        started_at: now,
        heartbeat_at: now,
        request_caller: caller.subject,
        request_id: requestId,
        format: engine.format,
      });
    } catch (err) {
      // The same requestId, first used concurrently: answer with its backup.
      if (err instanceof RequestInProgressError) {
        const first = await findByRequest(this.#db, caller.subject, requestId);
        if (first) return this.#sameRequest(first, target, requestId);
      }
      if (err instanceof BackupRunningError) {
        const running = await findRunning(this.#db, target);
        throw new BackupRunningError(target, running?.backup_id);
      }
      throw err;
    }
    this.#launch(row, engine);
    return row;
  }

  #sameRequest(existing: BackupRow, target: BackupTargetName, requestId: string): BackupRow {
    if (existing.target !== target) throw new RequestIdReusedError(requestId, existing.target);
    return existing;
  }

  #launch(row: BackupRow, engine: BackupEngine): void {
    const abort = new AbortController();
    const done = this.#run(row, engine, abort.signal)
      .catch((err: unknown) => this.#logger?.error({ err, backupId: row.backup_id }, "backup: bookkeeping failed"))
      .finally(() => this.#jobs.delete(row.backup_id));
    this.#jobs.set(row.backup_id, { abort, done });
  }

  async #run(row: BackupRow, engine: BackupEngine, signal: AbortSignal): Promise<void> {
    const target = row.target;
    const label = metricTarget(target);
    const started = performance.now();
    const heartbeat = setInterval(() => {
      updateBackupIf(this.#db, row.backup_id, "RUNNING", { heartbeat_at: this.#clock.now() }).catch(() => undefined);
    }, this.#heartbeatMs);
    heartbeat.unref();
    const key = `${target.toLowerCase()}/${row.backup_id}${engine.extension}`;
    let writer: BackupWriter | undefined;
    // Set once the file is committed under its final name: from then until the catalog says
    // SUCCEEDED, a failure must delete it (a FAILED entry has no file, and nothing else would).
    let location: string | undefined;
    try {
      writer = await this.#store.create(key);
      const counter = new HashingCounter();
      const stored = pipeline(counter, writer.stream);
      stored.catch(() => undefined);
      const stats = await engine.dump(counter, signal);
      await stored;
      const sha256 = counter.digest();
      location = await writer.commit();
      writer = undefined;
      if (engine.format === "pg_custom") {
        // The archive's table of contents must read back: a cheap check that the file is a dump.
        await runTool("pg_restore", ["--list"], { stdin: await this.#store.read(location), signal }).catch((err: unknown) => {
          throw new Error(`the written dump does not read back: ${messageOf(err)}`);
        });
      }
      const size = await this.#store.size(location);
      if (size !== counter.bytes) throw new Error(`the stored file has ${size ?? "no"} bytes, ${counter.bytes} were written`);
      const finished = this.#clock.now();
      const done = await updateBackupIf(this.#db, row.backup_id, "RUNNING", {
        state: "SUCCEEDED",
        finished_at: finished < row.started_at ? row.started_at : finished,
        size_bytes: size,
        sha256,
        location,
        table_checks: JSON.stringify(stats),
        heartbeat_at: null,
      });
      // Someone took this backup for dead meanwhile: its entry says FAILED, so its file must go.
      if (!done) throw new Error("the catalog entry was marked FAILED while the backup ran (no heartbeat seen)");
      location = undefined;
      backupDuration.observe({ target: label }, (performance.now() - started) / 1000);
      backupLastSuccess.set({ target: label }, done.finished_at!.getTime() / 1000);
      backupSize.set({ target: label }, size);
      this.#logger?.info({ backupId: row.backup_id, target, size, sha256 }, "backup succeeded");
    } catch (err) {
      clearInterval(heartbeat);
      await writer?.abort().catch(() => undefined);
      const reason = signal.aborted && signal.reason instanceof Error ? signal.reason.message : messageOf(err);
      const error = `${target} backup failed: ${reason}`;
      const state = await this.#recordFailure(row, error);
      if (state === "SUCCEEDED") {
        // The SUCCEEDED update committed although its answer was lost: the backup and its file stand.
        this.#logger?.warn({ backupId: row.backup_id, target }, "backup succeeded (its catalog update reported an error after committing)");
        return;
      }
      if (location) {
        await this.#store.delete(location).catch((e: unknown) => this.#logger?.error({ err: e, backupId: row.backup_id, location }, "backup: cannot delete the file of a failed backup"));
      }
      backupFailures.inc({ target: label });
      backupDuration.observe({ target: label }, (performance.now() - started) / 1000);
      this.#logger?.error({ backupId: row.backup_id, target, error }, "backup failed");
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * recordFailure marks a RUNNING entry FAILED, retrying while the catalog cannot be written (for
   * up to staleAfterMs, after which any StartBackup reaps it as abandoned since its heartbeat has
   * stopped). Returns the entry's state afterwards, or undefined when it could not be learnt.
   */
  async #recordFailure(row: BackupRow, error: string): Promise<BackupStateName | undefined> {
    const deadline = performance.now() + (this.#closed ? Math.min(FAILURE_RECORD_CLOSING_MS, this.#staleAfterMs) : this.#staleAfterMs);
    for (let delay = FAILURE_RECORD_FIRST_DELAY_MS; ; delay = Math.min(delay * 2, FAILURE_RECORD_MAX_DELAY_MS)) {
      try {
        const finished = this.#clock.now();
        const failed = await updateBackupIf(this.#db, row.backup_id, "RUNNING", {
          state: "FAILED",
          finished_at: finished < row.started_at ? row.started_at : finished,
          error,
          heartbeat_at: null,
        });
        if (failed) return "FAILED";
        return (await findBackup(this.#db, row.backup_id))?.state;
      } catch (err) {
        if (performance.now() + delay > deadline) {
          this.#logger?.error({ err, backupId: row.backup_id }, "backup: cannot record the failure; the next StartBackup marks it FAILED as abandoned");
          return undefined;
        }
        this.#logger?.warn({ err, backupId: row.backup_id }, "backup: cannot record the failure yet, retrying");
        await sleep(delay);
      }
    }
  }
}
