import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { BackupRetention } from "./backup-retention.js";
import type { BackupRunner } from "./backup-runner.js";
import { SYSTEM_CALLER } from "../runtime/caller.js";
import { parseCron, type CronSchedule } from "./cron.js";
import type { BackupRow, BackupTargetName } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import { findBackup } from "./repositories/backup.repository.js";

/** SCHEDULE_CALLER is the in-process schedule, as StartBackup and retention record it. */
const SCHEDULE_CALLER = Object.freeze({ ...SYSTEM_CALLER, subject: "schedule" });

/** BackupSchedulerOptions configure a BackupScheduler. */
export interface BackupSchedulerOptions {
  /** schedules are cron expressions (UTC) per target. */
  schedules: Partial<Record<BackupTargetName, string>>;
  /** clock tells the time; a fake clock plus tick() drives the schedule in tests. */
  clock: Clock;
  /** logger reports runs. */
  logger?: Logger;
  /** run starts a backup of `target` with a requestId unique to the scheduled minute (so replicas running the same schedule start it once). */
  run(target: BackupTargetName, requestId: string): Promise<unknown>;
  /** maxSleepMs bounds one timer sleep, so clock jumps are noticed (default 30 s). */
  maxSleepMs?: number;
}

/**
 * BackupScheduler runs backups on cron schedules inside the process (`npm start`; in a cluster the
 * schedule is unset and CronJobs call StartBackup). A run missed while the process was down is not
 * made up; a run still going when the next is due is skipped by StartBackup's FAILED_PRECONDITION.
 */
export class BackupScheduler {
  readonly #opts: BackupSchedulerOptions;
  readonly #crons: [BackupTargetName, CronSchedule][];
  readonly #due = new Map<BackupTargetName, Date>();
  #timer: NodeJS.Timeout | undefined;
  #running = new Set<Promise<unknown>>();

  constructor(opts: BackupSchedulerOptions) {
    this.#opts = opts;
    this.#crons = Object.entries(opts.schedules).map(([t, expr]) => [t as BackupTargetName, parseCron(expr!)]);
    const now = opts.clock.now();
    for (const [t, c] of this.#crons) this.#due.set(t, c.next(now));
  }

  /** nextRuns are the next due times per target. */
  nextRuns(): Partial<Record<BackupTargetName, Date>> {
    return Object.fromEntries(this.#due);
  }

  /** start arms the timer. */
  start(): void {
    this.#arm();
  }

  /** stop disarms the timer (runs already started go on). */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** idle resolves once the runs already started have ended (their catalog reads and retention included). */
  async idle(): Promise<void> {
    await Promise.all(this.#running);
  }

  #arm(): void {
    const now = this.#opts.clock.now().getTime();
    const soonest = Math.min(...[...this.#due.values()].map((d) => d.getTime()));
    const delay = Math.max(0, Math.min(soonest - now, this.#opts.maxSleepMs ?? 30_000));
    this.#timer = setTimeout(() => {
      this.tick();
      this.#arm();
    }, delay);
    this.#timer.unref();
  }

  /** tick starts every run that is due now and returns their promises (tests await them). */
  tick(): Promise<unknown>[] {
    const now = this.#opts.clock.now();
    const started: Promise<unknown>[] = [];
    for (const [target, cron] of this.#crons) {
      const due = this.#due.get(target)!;
      if (due.getTime() > now.getTime()) continue;
      this.#due.set(target, cron.next(now));
      const requestId = `schedule-${target.toLowerCase()}-${due.toISOString()}`;
      this.#opts.logger?.info({ target, due: due.toISOString() }, "scheduled backup");
      const p = this.#opts.run(target, requestId).catch((err: unknown) => this.#opts.logger?.error({ err, target }, "scheduled backup failed"));
      this.#running.add(p);
      p.finally(() => this.#running.delete(p));
      started.push(p);
    }
    return started;
  }
}

/** ScheduledBackupParts are what a scheduled backup uses. */
export interface ScheduledBackupParts {
  /** db holds the backup catalog. */
  db: Kysely<Database>;
  /** runner runs the backup. */
  runner: BackupRunner;
  /** retention prunes the target once the backup succeeded. */
  retention: BackupRetention;
  /** keepMs is the target's retention window. */
  keepMs: number;
  /** logger reports a run that did not start. */
  logger?: Logger;
}

/**
 * runScheduledBackup is the schedule's StartBackup: caller "schedule", then, once the backup has
 * ended SUCCEEDED, retention of that target. Resolves with the entry's end state, or undefined when
 * the backup did not start (another is running, no such target configured).
 */
export async function runScheduledBackup(parts: ScheduledBackupParts, target: BackupTargetName, requestId: string): Promise<BackupRow | undefined> {
  let row: BackupRow;
  try {
    row = await parts.runner.start(target, SCHEDULE_CALLER, requestId);
  } catch (err) {
    parts.logger?.warn({ err, target }, "scheduled backup not started");
    return undefined;
  }
  await parts.runner.finished(row.backup_id);
  const end = (await findBackup(parts.db, row.backup_id)) ?? row;
  if (end.state === "SUCCEEDED") await parts.retention.prune(target, parts.keepMs, false, SCHEDULE_CALLER);
  return end;
}
