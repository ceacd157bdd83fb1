import { createHash, randomBytes } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { TableCheckSchema } from "../../gen/medschedule/backup/v1/backup_pb.js";
import {
  BackupService,
  type GetBackupRequest,
  type GetBackupResponseSchema,
  type ListBackupsRequest,
  type ListBackupsResponseSchema,
  type PruneBackupsRequest,
  type PruneBackupsResponseSchema,
  type RestoreBackupRequest,
  type RestoreBackupResponseSchema,
  type StartBackupRequest,
  type StartBackupResponseSchema,
  type VerifyBackupRequest,
  type VerifyBackupResponseSchema,
} from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { getPrincipal } from "../runtime/auth/principal.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Config } from "../runtime/config.js";
import type { Database as RuntimeDatabase } from "../runtime/db/index.js";
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from "../runtime/errors.js";
import { outgoingCallOptions, type CallContextLike } from "../runtime/grpc-transport.js";
import type { Logger } from "../runtime/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Peers } from "../runtime/peers.js";
import { backupDuration, backupFailures, backupLastSuccess, backupSize, metricTarget, reportCatalogOf } from "./backup.metrics.js";
import {
  validateGetBackup,
  validateListBackups,
  validatePruneBackups,
  validateRestoreBackup,
  validateStartBackup,
  validateVerifyBackup,
} from "./backup.validation.js";
import { BackupScheduler } from "./backup-scheduler.js";
import type { BackupFormat, BackupRow, BackupStateName, BackupTargetName } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import { PgToolsEngine } from "./dumpers/pg-tools.engine.js";
import { PgliteEngine } from "./dumpers/pglite.engine.js";
import type { DatabaseBackupEngine, ScratchResult } from "./dumpers/postgres-engine.port.js";
import { RedisEngine } from "./dumpers/redis.engine.js";
import { runTool } from "./dumpers/run-tool.js";
import { compareStats } from "./dumpers/table-stats.js";
import { targetName, toBackup } from "./mappers/backup.mapper.js";
import {
  appendAudit,
  failStale,
  findBackup,
  findByRequest,
  insertBackup,
  isUniqueViolation,
  listBackups,
  listRetained,
  updateBackup,
  updateBackupIf,
  type PageCursor,
} from "./repositories/backup.repository.js";
import type { BackupStore } from "./store/backup-store.port.js";
import { FilesystemBackupStore } from "./store/filesystem-backup.store.js";

/** BackupConfig is the part of the process configuration the backup service reads. */
export type BackupConfig = Pick<
  Config,
  "backupDir" | "databaseUrl" | "redisUrl" | "backupSchedulePostgres" | "backupScheduleRedis" | "backupKeepPostgresMs" | "backupKeepRedisMs"
>;

/** BackupServiceDeps are the BackupServiceImpl's dependencies; tests pass a fake clock, store or engines. */
export interface BackupServiceDeps {
  /** db holds the backup catalog (schema backup), migrated. */
  db: Kysely<any>;
  /** clock tells the time (startedAt, retention, schedule); the system clock by default. */
  clock?: Clock;
  /** logger reports background backups. */
  logger?: Logger;
  /** config gives BACKUP_DIR, the database and Redis URLs, schedules and retention windows. */
  config?: Partial<BackupConfig>;
  /** peers give the LockService client for AdvanceEpoch after a restore. */
  peers?: Peers;
  /** database is the open database (its PGlite instance in embedded mode). */
  database?: RuntimeDatabase;
  /** store overrides the filesystem store under config.backupDir. */
  store?: BackupStore;
  /** postgresEngine overrides the engine chosen from the database (pg_dump, or PGlite's dump). */
  postgresEngine?: DatabaseBackupEngine;
  /** redisEngine overrides the engine built from config.redisUrl; null: no Redis to back up. */
  redisEngine?: RedisEngine | null;
  /** pageTokens seal ListBackups' page tokens (default: a random key of this process). */
  pageTokens?: PageTokens;
}

/** BackupServiceOptions tune background behaviour. */
export interface BackupServiceOptions {
  /** heartbeatMs is how often a running backup refreshes heartbeat_at (default 5 s). */
  heartbeatMs?: number;
  /** staleAfterMs: a RUNNING backup without a heartbeat for this long is taken as dead (default 60 s). */
  staleAfterMs?: number;
  /** schedule turns the in-process cron schedule off with false (default: on when a BACKUP_SCHEDULE_* is set). */
  schedule?: boolean;
}

/** Caller is who made a call, for idempotency scoping and the audit trail. */
interface Caller {
  subject: string;
  role: string;
  onBehalfOf?: string;
}

/** VerifyOutcome is what a verification found. */
interface VerifyOutcome {
  ok: boolean;
  details: string[];
  tables: MessageInitShape<typeof TableCheckSchema>[];
  restoreMs: number;
  row: BackupRow;
}

const DEFAULT_KEEP_MS: Record<BackupTargetName, number> = { POSTGRES: 14 * 86_400_000, REDIS: 7 * 86_400_000 };
const ADVANCE_EPOCH_ATTEMPTS = 3;
const FAILURE_RECORD_FIRST_DELAY_MS = 100;
const FAILURE_RECORD_MAX_DELAY_MS = 5_000;
/** While the service shuts down, a failure is retried this long at most (the reaper does the rest). */
const FAILURE_RECORD_CLOSING_MS = 5_000;

function callerOf(ctx: HandlerContext | undefined): Caller {
  const p = ctx ? getPrincipal(ctx) : undefined;
  if (!p) return { subject: "system", role: "system" };
  return { subject: p.subject, role: p.grantedRole, onBehalfOf: p.onBehalfOf };
}

function newBackupId(target: BackupTargetName, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `b-${target === "POSTGRES" ? "pg" : "redis"}-${stamp}-${randomBytes(4).toString("hex")}`;
}

function messageOf(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC") return `the backup store is full (ENOSPC: no space left on device): ${err.message}`;
    return err.message;
  }
  return String(err);
}

/** BACKUPS_PAGE is ListBackups' page token: the catalog after (startedAt, backupId), newest first, bound to the target. */
export const BACKUPS_PAGE = definePageKind(BackupService.method.listBackups, { startedAt: "instant", backupId: "text" });

/** HashingCounter passes bytes through while computing their sha256 and counting them. */
class HashingCounter extends Transform {
  readonly #hash = createHash("sha256");
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  /** digest is the hex sha256 of everything that passed. */
  digest(): string {
    return this.#hash.digest("hex");
  }
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), bytes };
}

/**
 * BackupServiceImpl serves medschedule.backup.v1.BackupService: Postgres (pg_dump custom format, or
 * PGlite's dump in embedded mode) and Redis (RDB over the network) backups into a BackupStore, a
 * catalog in the backup schema, verification by scratch restores, restores that advance the fencing
 * epoch, retention and an in-process cron schedule. StartBackup returns at once; the backup runs in
 * the background of this process (GetBackup shows its end).
 */
export class BackupServiceImpl implements ServiceImpl<typeof BackupService> {
  /** clock tells the time. */
  protected readonly clock: Clock;
  readonly #db: Kysely<Database>;
  readonly #logger: Logger | undefined;
  readonly #store: BackupStore;
  readonly #postgres: DatabaseBackupEngine | undefined;
  readonly #redis: RedisEngine | undefined;
  readonly #peers: Peers | undefined;
  readonly #pageTokens: PageTokens;
  readonly #keepMs: Record<BackupTargetName, number>;
  readonly #heartbeatMs: number;
  readonly #staleAfterMs: number;
  readonly #jobs = new Map<string, { abort: AbortController; done: Promise<void> }>();
  readonly #scheduler: BackupScheduler | undefined;
  readonly #unregisterMetrics: () => void;
  #restoring = false;
  #closed = false;

  constructor(deps: BackupServiceDeps, options: BackupServiceOptions = {}) {
    this.#db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.#logger = deps.logger;
    const config = deps.config ?? {};
    this.#store = deps.store ?? new FilesystemBackupStore(config.backupDir ?? "./data/backups");
    if (deps.postgresEngine) this.#postgres = deps.postgresEngine;
    else if (deps.database?.kind === "pglite" && deps.database.pglite) this.#postgres = new PgliteEngine(deps.database.pglite);
    else if (config.databaseUrl) this.#postgres = new PgToolsEngine(config.databaseUrl);
    this.#redis = deps.redisEngine === null ? undefined : (deps.redisEngine ?? (config.redisUrl ? new RedisEngine(config.redisUrl) : undefined));
    this.#peers = deps.peers;
    this.#pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.#keepMs = {
      POSTGRES: config.backupKeepPostgresMs ?? DEFAULT_KEEP_MS.POSTGRES,
      REDIS: config.backupKeepRedisMs ?? DEFAULT_KEEP_MS.REDIS,
    };
    this.#unregisterMetrics = reportCatalogOf(this.#db);
    this.#heartbeatMs = options.heartbeatMs ?? 5_000;
    this.#staleAfterMs = options.staleAfterMs ?? 60_000;
    const schedules: Partial<Record<BackupTargetName, string>> = {};
    if (config.backupSchedulePostgres) schedules.POSTGRES = config.backupSchedulePostgres;
    if (config.backupScheduleRedis) schedules.REDIS = config.backupScheduleRedis;
    if (options.schedule !== false && Object.keys(schedules).length > 0) {
      this.#scheduler = new BackupScheduler({
        schedules,
        clock: this.clock,
        logger: this.#logger,
        run: (target, requestId) => this.runScheduled(target, requestId),
      });
      this.#scheduler.start();
    }
  }

  /** scheduler is the in-process schedule, when one is configured. */
  get scheduler(): BackupScheduler | undefined {
    return this.#scheduler;
  }

  /** close stops the schedule and interrupts running backups (they end FAILED), waiting for them. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unregisterMetrics();
    this.#scheduler?.stop();
    for (const job of this.#jobs.values()) job.abort.abort(new Error("interrupted: the backup service shut down"));
    await Promise.all([...this.#jobs.values()].map((j) => j.done));
    await this.#postgres?.close?.();
  }

  /** waitForIdle resolves once no backup started by this process is running (tests, the CLI's server). */
  async waitForIdle(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.all([...this.#jobs.values()].map((j) => j.done));
  }

  // ---- StartBackup ---------------------------------------------------------------------------------

  /** startBackup starts a backup of a target in the background (idempotent by requestId). */
  async startBackup(req: StartBackupRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof StartBackupResponseSchema>> {
    const v = validateStartBackup(req);
    const row = await this.start(targetName(v.target), callerOf(ctx), v.requestId);
    return { backup: toBackup(row) };
  }

  /** start creates the RUNNING catalog entry (or returns the one of an earlier call with the same key) and runs the backup in the background. */
  async start(target: BackupTargetName, caller: Caller, requestId: string): Promise<BackupRow> {
    const existing = await findByRequest(this.#db, caller.subject, requestId);
    if (existing) return this.#sameRequest(existing, target, requestId);
    if (this.#closed) throw new UnavailableError("SHUTTING_DOWN", "the backup service is shutting down");
    const engine = target === "POSTGRES" ? this.#postgres : this.#redis;
    if (!engine) {
      throw new FailedPreconditionError(
        "TARGET_NOT_CONFIGURED",
        target === "REDIS" ? "no Redis to back up: REDIS_URL is not set for the backup service" : "no database to back up: DATABASE_URL is not set",
      );
    }
    const now = this.clock.now();
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
      if (isUniqueViolation(err, "backups_request_caller_request_id_key")) {
        const first = await findByRequest(this.#db, caller.subject, requestId);
        if (first) return this.#sameRequest(first, target, requestId);
      }
      if (isUniqueViolation(err, "backups_one_running_per_target")) {
        const running = await this.#db
          .selectFrom("backup.backups")
          .select("backup_id")
          .where("target", "=", target)
          .where("state", "=", "RUNNING")
          .executeTakeFirst();
        throw new FailedPreconditionError(
          "BACKUP_RUNNING",
          `a backup of ${target} is already running${running ? ` (${running.backup_id})` : ""}: wait for it to end`,
        );
      }
      throw err;
    }
    this.#launch(row, engine);
    return row;
  }

  #sameRequest(existing: BackupRow, target: BackupTargetName, requestId: string): BackupRow {
    if (existing.target !== target) {
      throw new AlreadyExistsError(
        "REQUEST_ID_REUSED",
        `requestId ${JSON.stringify(requestId)} was already used for a backup of ${existing.target}`,
      );
    }
    return existing;
  }

  #launch(row: BackupRow, engine: DatabaseBackupEngine | RedisEngine): void {
    const abort = new AbortController();
    const done = this.#run(row, engine, abort.signal)
      .catch((err: unknown) => this.#logger?.error({ err, backupId: row.backup_id }, "backup: bookkeeping failed"))
      .finally(() => this.#jobs.delete(row.backup_id));
    this.#jobs.set(row.backup_id, { abort, done });
  }

  async #run(row: BackupRow, engine: DatabaseBackupEngine | RedisEngine, signal: AbortSignal): Promise<void> {
    const target = row.target;
    const label = metricTarget(target);
    const started = performance.now();
    const heartbeat = setInterval(() => {
      updateBackupIf(this.#db, row.backup_id, "RUNNING", { heartbeat_at: this.clock.now() }).catch(() => undefined);
    }, this.#heartbeatMs);
    heartbeat.unref();
    const key = `${target.toLowerCase()}/${row.backup_id}${engine.extension}`;
    let writer: Awaited<ReturnType<BackupStore["create"]>> | undefined;
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
      const finished = this.clock.now();
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
        const finished = this.clock.now();
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

  /** runScheduled is the schedule's StartBackup: caller "schedule", then retention of that target once it ends. */
  async runScheduled(target: BackupTargetName, requestId: string): Promise<BackupRow | undefined> {
    let row: BackupRow;
    try {
      row = await this.start(target, { subject: "schedule", role: "system" }, requestId);
    } catch (err) {
      this.#logger?.warn({ err, target }, "scheduled backup not started");
      return undefined;
    }
    await this.#jobs.get(row.backup_id)?.done;
    const end = (await findBackup(this.#db, row.backup_id)) ?? row;
    if (end.state === "SUCCEEDED") await this.prune(target, false, { subject: "schedule", role: "system" });
    return end;
  }

  // ---- reads ---------------------------------------------------------------------------------------

  /** getBackup reads one catalog entry. */
  async getBackup(req: GetBackupRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetBackupResponseSchema>> {
    const v = validateGetBackup(req);
    return { backup: toBackup(await this.#mustFind(v.backupId)) };
  }

  async #mustFind(backupId: string): Promise<BackupRow> {
    const row = await findBackup(this.#db, backupId);
    if (!row) throw new NotFoundError("backup", backupId, "BACKUP_NOT_FOUND");
    return row;
  }

  /** listBackups pages through the catalog, newest first. */
  async listBackups(req: ListBackupsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListBackupsResponseSchema>> {
    const v = validateListBackups(req);
    const target = v.target === undefined ? undefined : targetName(v.target);
    const cursor = this.#pageTokens.open(BACKUPS_PAGE, v.pageToken, [target]);
    const after: PageCursor | undefined = cursor && { startedAt: cursor.startedAt.toISOString(), backupId: cursor.backupId };
    const rows = await listBackups(this.#db, { target, limit: v.pageSize + 1, after });
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      backups: page.map(toBackup),
      nextPageToken: rows.length > v.pageSize && last ? this.#pageTokens.seal(BACKUPS_PAGE, { startedAt: last.started_at, backupId: last.backup_id }, [target]) : "",
    };
  }

  // ---- VerifyBackup --------------------------------------------------------------------------------

  /** verifyBackup re-hashes a backup and restores it into a scratch target. */
  async verifyBackup(req: VerifyBackupRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof VerifyBackupResponseSchema>> {
    const v = validateVerifyBackup(req);
    const row = await this.#mustFind(v.backupId);
    const out = await this.verify(row, ctx.signal);
    return { ok: out.ok, details: out.details, tables: out.tables, restoreDuration: durationFromMs(Math.round(out.restoreMs)), backup: toBackup(out.row) };
  }

  #checkRestorable(row: BackupRow): void {
    if (row.state !== "SUCCEEDED") {
      throw new FailedPreconditionError("BACKUP_NOT_SUCCEEDED", `backup ${row.backup_id} is ${row.state}, not SUCCEEDED: there is nothing to verify or restore`);
    }
    if (row.deleted_at) throw new FailedPreconditionError("BACKUP_DELETED", `backup ${row.backup_id}'s file was deleted by retention`);
  }

  /** verify checks a SUCCEEDED backup end to end and records the result in the catalog. */
  async verify(row: BackupRow, signal: AbortSignal): Promise<VerifyOutcome> {
    this.#checkRestorable(row);
    const details: string[] = [];
    let tables: MessageInitShape<typeof TableCheckSchema>[] = [];
    let restoreMs = 0;
    let ok = false;
    const location = row.location!;
    const engine = row.target === "POSTGRES" ? this.#postgres : this.#redis;
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
          if (!engine) throw new FailedPreconditionError("TARGET_NOT_CONFIGURED", `no ${row.target} is configured to restore into a scratch copy`);
          if (row.target === "POSTGRES" && engine instanceof RedisEngine) throw new Error("engine mismatch");
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
            const invariants = (scratch as Partial<ScratchResult>).invariants ?? { problems: [], notes: [] };
            details.push(...invariants.problems, ...invariants.notes);
            ok = bad.length === 0 && invariants.problems.length === 0 && (row.table_checks ?? []).length > 0;
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
        verified_at: this.clock.now(),
        verified_ok: ok,
        verify_restore_ms: Math.round(restoreMs),
        verify_details: JSON.stringify(details),
      })) ?? row;
    return { ok, details, tables, restoreMs, row: updated };
  }

  // ---- RestoreBackup -------------------------------------------------------------------------------

  /** restoreBackup replaces the live data with a verified backup (admin only). */
  async restoreBackup(req: RestoreBackupRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof RestoreBackupResponseSchema>> {
    const v = validateRestoreBackup(req);
    const caller = callerOf(ctx);
    const row = await this.#mustFind(v.backupId);
    this.#checkRestorable(row);
    if (this.#restoring) throw new FailedPreconditionError("RESTORE_RUNNING", "another restore is running in this backup service");
    this.#restoring = true;
    try {
      return await this.#restore(row, caller, ctx);
    } finally {
      this.#restoring = false;
    }
  }

  async #restore(row: BackupRow, caller: Caller, ctx: HandlerContext): Promise<MessageInitShape<typeof RestoreBackupResponseSchema>> {
    const audit = (action: string, detail: unknown) =>
      appendAudit(this.#db, { at: this.clock.now(), actor: caller.subject, role: caller.role, action, resource: row.backup_id, detail });
    const verified = await this.verify(row, ctx.signal);
    if (!verified.ok) {
      await audit("RestoreBackupRefused", { target: row.target, details: verified.details });
      throw new FailedPreconditionError(
        "BACKUP_CORRUPT",
        `backup ${row.backup_id} failed verification, nothing was restored: ${verified.details.filter((d) => !/matches|^invariant 1: no /.test(d)).join("; ")}`,
      );
    }
    const started = performance.now();
    // The bytes restored are hashed on the way in and checked before anything commits: a file
    // swapped or damaged after the verification above is never restored.
    const counter = new HashingCounter();
    const source = (await this.#store.read(row.location!)).pipe(counter);
    const sameFile = () => {
      const sha = counter.digest();
      if (sha !== row.sha256) {
        throw new FailedPreconditionError("BACKUP_CORRUPT", `backup ${row.backup_id} changed during the restore (sha256 ${sha}, recorded ${row.sha256}): nothing was restored`);
      }
    };
    try {
      if (row.target === "POSTGRES") {
        const schemas = [...new Set((row.table_checks ?? []).map((t) => t.name.split(".")[0]))];
        await this.#postgres!.restore(source, schemas, ctx.signal, sameFile);
      } else {
        await this.#redis!.restore(source, ctx.signal, sameFile);
      }
    } catch (err) {
      await audit("RestoreBackupFailed", { target: row.target, error: messageOf(err) });
      throw err;
    }
    const restoreMs = performance.now() - started;
    let epoch: { previousEpoch: bigint; epoch: bigint };
    try {
      // The data is replaced: the epoch must move even when the caller has gone away meanwhile, so
      // this call gets its own deadline rather than the incoming call's signal.
      const own: CallContextLike = { signal: AbortSignal.timeout(60_000), timeoutMs: () => undefined, requestHeader: ctx.requestHeader };
      epoch = await this.#advanceEpoch(row.backup_id, caller, own);
    } catch (err) {
      await audit("RestoreBackup", { target: row.target, restoreMs: Math.round(restoreMs), advanceEpochError: messageOf(err) });
      throw new UnavailableError(
        "ADVANCE_EPOCH_FAILED",
        `backup ${row.backup_id} was restored, but the lock service's AdvanceEpoch failed (${messageOf(err)}): ` +
          "no lock may be taken until it succeeds; call LockService/AdvanceEpoch with the service token",
        { cause: err },
      );
    }
    await audit("RestoreBackup", {
      target: row.target,
      restoreMs: Math.round(restoreMs),
      previousEpoch: epoch.previousEpoch.toString(),
      epoch: epoch.epoch.toString(),
      onBehalfOf: caller.onBehalfOf ?? null,
    });
    this.#logger?.warn({ backupId: row.backup_id, target: row.target, actor: caller.subject, epoch: epoch.epoch.toString() }, "backup restored over the live data");
    return { backup: toBackup(verified.row), restoreDuration: durationFromMs(Math.round(restoreMs)), fencingEpoch: epoch.epoch };
  }

  async #advanceEpoch(backupId: string, caller: Caller, ctx: CallContextLike): Promise<{ previousEpoch: bigint; epoch: bigint }> {
    if (!this.#peers) throw new Error("no LockService client configured");
    const lock = this.#peers.client(LockService);
    let last: unknown;
    for (let attempt = 1; attempt <= ADVANCE_EPOCH_ATTEMPTS; attempt++) {
      try {
        return await lock.advanceEpoch({ reason: `restore of backup ${backupId}` }, outgoingCallOptions(ctx, { onBehalfOf: caller.subject }));
      } catch (err) {
        last = err;
        if (ctx.signal.aborted) break;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    throw last;
  }

  // ---- PruneBackups --------------------------------------------------------------------------------

  /** pruneBackups applies retention, never deleting the last good backup of a target. */
  async pruneBackups(req: PruneBackupsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof PruneBackupsResponseSchema>> {
    const v = validatePruneBackups(req);
    const targets: BackupTargetName[] = v.target === undefined ? ["POSTGRES", "REDIS"] : [targetName(v.target)];
    const deleted: BackupRow[] = [];
    const kept: BackupRow[] = [];
    for (const t of targets) {
      const r = await this.prune(t, v.dryRun, callerOf(ctx));
      deleted.push(...r.deleted);
      kept.push(...r.kept);
    }
    const newestFirst = (a: BackupRow, b: BackupRow) => b.started_at.getTime() - a.started_at.getTime();
    return { deleted: deleted.sort(newestFirst).map(toBackup), kept: kept.sort(newestFirst).map(toBackup) };
  }

  /**
   * prune deletes the files of a target's backups that started before now - keep, except the newest
   * SUCCEEDED one whatever its age; their catalog rows stay, with deleted_at set.
   */
  async prune(target: BackupTargetName, dryRun: boolean, caller: Caller): Promise<{ deleted: BackupRow[]; kept: BackupRow[] }> {
    const now = this.clock.now();
    const cutoff = now.getTime() - this.#keepMs[target];
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
    await appendAudit(this.#db, {
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
