import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";
import { parseCron, type CronSchedule } from "./cron.js";
import type { BackupTargetName } from "./db/backup.table.js";

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
