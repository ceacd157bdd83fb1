import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
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
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Config } from "../runtime/config.js";
import type { DatabaseConnection } from "../runtime/db/index.js";
import type { Logger } from "../runtime/observability/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Peers } from "../runtime/clients/peers.js";
import { BackupNotFoundError } from "./backup.errors.js";
import { reportCatalogOf } from "./backup.metrics.js";
import {
  validateGetBackup,
  validateListBackups,
  validatePruneBackups,
  validateRestoreBackup,
  validateStartBackup,
  validateVerifyBackup,
} from "./backup.validation.js";
import { BackupRestorer } from "./backup-restorer.js";
import { BackupRetention, DEFAULT_KEEP_MS } from "./backup-retention.js";
import { BackupRunner } from "./backup-runner.js";
import { BackupScheduler, runScheduledBackup } from "./backup-scheduler.js";
import { BackupVerifier } from "./backup-verifier.js";
import { callerOf } from "../runtime/caller.js";
import type { BackupRow, BackupTargetName } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import type { BackupEngines, DatabaseBackupEngine } from "./engines/backup-engine.port.js";
import { PgToolsEngine } from "./engines/pg-tools.engine.js";
import { PgliteEngine } from "./engines/pglite.engine.js";
import { RedisEngine } from "./engines/redis.engine.js";
import { targetName, toBackup } from "./mappers/backup.mapper.js";
import { findBackup, listBackups, type PageCursor } from "./repositories/backup.repository.js";
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
  database?: DatabaseConnection;
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

/** newestFirst orders catalog entries by their start, newest first. */
function newestFirst(a: BackupRow, b: BackupRow): number {
  return b.started_at.getTime() - a.started_at.getTime();
}

/** BACKUPS_PAGE is ListBackups' page token: the catalog after (startedAt, backupId), newest first, bound to the target. */
export const BACKUPS_PAGE = definePageKind(BackupService.method.listBackups, { startedAt: "instant", backupId: "text" });


/**
 * BackupServiceImpl serves medschedule.backup.v1.BackupService: Postgres (pg_dump custom format, or
 * PGlite's dump in embedded mode) and Redis (RDB over the network) backups into a BackupStore, a
 * catalog in the backup schema, verification by scratch restores, restores that advance the fencing
 * epoch, retention and an in-process cron schedule. StartBackup returns at once; the backup runs in
 * the background of this process (GetBackup shows its end). The work itself is BackupRunner's,
 * BackupVerifier's, BackupRestorer's and BackupRetention's.
 */
export class BackupServiceImpl implements ServiceImpl<typeof BackupService> {
  /** clock tells the time. */
  protected readonly clock: Clock;
  readonly #db: Kysely<Database>;
  readonly #logger: Logger | undefined;
  readonly #store: BackupStore;
  readonly #postgres: DatabaseBackupEngine | undefined;
  /** runner starts backups and runs them in the background (tests start backups and wait for them here). */
  readonly runner: BackupRunner;
  readonly #peers: Peers | undefined;
  readonly #pageTokens: PageTokens;
  readonly #keepMs: Record<BackupTargetName, number>;
  readonly #verifier: BackupVerifier;
  readonly #restorer: BackupRestorer;
  readonly #retention: BackupRetention;
  readonly #scheduler: BackupScheduler | undefined;
  readonly #unregisterMetrics: () => void;

  constructor(deps: BackupServiceDeps, options: BackupServiceOptions = {}) {
    this.#db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.#logger = deps.logger;
    const config = deps.config ?? {};
    this.#store = deps.store ?? new FilesystemBackupStore(config.backupDir ?? "./data/backups");
    if (deps.postgresEngine) this.#postgres = deps.postgresEngine;
    else if (deps.database?.kind === "pglite" && deps.database.pglite) this.#postgres = new PgliteEngine(deps.database.pglite);
    else if (config.databaseUrl) this.#postgres = new PgToolsEngine(config.databaseUrl);
    const redis = deps.redisEngine === null ? undefined : (deps.redisEngine ?? (config.redisUrl ? new RedisEngine(config.redisUrl) : undefined));
    const engines: BackupEngines = { POSTGRES: this.#postgres, REDIS: redis };
    this.#peers = deps.peers;
    this.#pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.#keepMs = {
      POSTGRES: config.backupKeepPostgresMs ?? DEFAULT_KEEP_MS.POSTGRES,
      REDIS: config.backupKeepRedisMs ?? DEFAULT_KEEP_MS.REDIS,
    };
    this.#unregisterMetrics = reportCatalogOf(this.#db);
    const parts = { db: this.#db, clock: this.clock, logger: this.#logger, store: this.#store, engines };
    this.runner = new BackupRunner({ ...parts, heartbeatMs: options.heartbeatMs ?? 5_000, staleAfterMs: options.staleAfterMs ?? 60_000 });
    this.#verifier = new BackupVerifier(parts);
    this.#restorer = new BackupRestorer({ ...parts, verifier: this.#verifier });
    this.#retention = new BackupRetention(parts);
    const schedules: Partial<Record<BackupTargetName, string>> = {};
    if (config.backupSchedulePostgres) schedules.POSTGRES = config.backupSchedulePostgres;
    if (config.backupScheduleRedis) schedules.REDIS = config.backupScheduleRedis;
    if (options.schedule !== false && Object.keys(schedules).length > 0) {
      this.#scheduler = new BackupScheduler({
        schedules,
        clock: this.clock,
        logger: this.#logger,
        run: (target, requestId) =>
          runScheduledBackup({ db: this.#db, runner: this.runner, retention: this.#retention, keepMs: this.#keepMs[target], logger: this.#logger }, target, requestId),
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
    this.#unregisterMetrics();
    this.#scheduler?.stop();
    await this.runner.close();
    await this.#scheduler?.idle();
    await this.#postgres?.close?.();
  }

  /** startBackup starts a backup of a target in the background (idempotent by requestId). */
  async startBackup(req: StartBackupRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof StartBackupResponseSchema>> {
    const v = validateStartBackup(req);
    const row = await this.runner.start(targetName(v.target), callerOf(ctx), v.requestId);
    return { backup: toBackup(row) };
  }

  /** getBackup reads one catalog entry. */
  async getBackup(req: GetBackupRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetBackupResponseSchema>> {
    const v = validateGetBackup(req);
    return { backup: toBackup(await this.#mustFind(v.backupId)) };
  }

  async #mustFind(backupId: string): Promise<BackupRow> {
    const row = await findBackup(this.#db, backupId);
    if (!row) throw new BackupNotFoundError(backupId);
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

  /** verifyBackup re-hashes a backup and restores it into a scratch target. */
  async verifyBackup(req: VerifyBackupRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof VerifyBackupResponseSchema>> {
    const v = validateVerifyBackup(req);
    const row = await this.#mustFind(v.backupId);
    const out = await this.#verifier.verify(row, ctx.signal);
    return { ok: out.ok, details: out.details, tables: out.tables, restoreDuration: durationFromMs(Math.round(out.restoreMs)), backup: toBackup(out.row) };
  }

  /** restoreBackup replaces the live data with a verified backup (admin only), then advances the fencing epoch. */
  async restoreBackup(req: RestoreBackupRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof RestoreBackupResponseSchema>> {
    const v = validateRestoreBackup(req);
    const caller = callerOf(ctx);
    const row = await this.#mustFind(v.backupId);
    const restored = await this.#restorer.restore(row, caller, ctx, this.#peers);
    return { backup: toBackup(restored.row), restoreDuration: durationFromMs(Math.round(restored.restoreMs)), fencingEpoch: restored.epoch };
  }

  /** pruneBackups applies retention, never deleting the last good backup of a target. */
  async pruneBackups(req: PruneBackupsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof PruneBackupsResponseSchema>> {
    const v = validatePruneBackups(req);
    const targets: BackupTargetName[] = v.target === undefined ? ["POSTGRES", "REDIS"] : [targetName(v.target)];
    const deleted: BackupRow[] = [];
    const kept: BackupRow[] = [];
    for (const t of targets) {
      const r = await this.#retention.prune(t, this.#keepMs[t], v.dryRun, callerOf(ctx));
      deleted.push(...r.deleted);
      kept.push(...r.kept);
    }
    return { deleted: deleted.sort(newestFirst).map(toBackup), kept: kept.sort(newestFirst).map(toBackup) };
  }
}
