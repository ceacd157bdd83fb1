import { ConfigError, parseDurationMs } from "../runtime/config.js";
import { DEFAULT_RANK_POLICY, type RankPolicy } from "./ranking.js";

/** QueueOptions are the queue service's own settings (constructor options; env vars in production). */
export interface QueueOptions extends RankPolicy {
  /** noShowAfterSkips: the skip that brings a ticket to this many skips marks it NO_SHOW (default 2). */
  noShowAfterSkips: number;
  /** changeRetentionMs is how long WatchQueue changes stay resumable (default 1 h). */
  changeRetentionMs: number;
  /** requestKeyRetentionMs is how long requestIds are remembered (default 24 h). */
  requestKeyRetentionMs: number;
  /** watchMaxLag is how many changes a watcher may fall behind before it gets a fresh snapshot (default 1000). */
  watchMaxLag: number;
}

/** DEFAULT_QUEUE_OPTIONS are the defaults of QueueOptions. */
export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  ...DEFAULT_RANK_POLICY,
  noShowAfterSkips: 2,
  changeRetentionMs: 60 * 60_000,
  requestKeyRetentionMs: 24 * 60 * 60_000,
  watchMaxLag: 1000,
};

/**
 * loadQueueOptions reads QUEUE_FAIRNESS_BOUND, QUEUE_PRIORITY_HEAD_START, QUEUE_CHECKIN_EARLY,
 * QUEUE_CHECKIN_LATE, QUEUE_CHANGE_RETENTION (durations such as "45m") and QUEUE_NO_SHOW_AFTER_SKIPS
 * (an integer 1-10); throws ConfigError naming every bad one.
 */
export function loadQueueOptions(env: NodeJS.ProcessEnv): QueueOptions {
  const problems: string[] = [];
  const opts: QueueOptions = { ...DEFAULT_QUEUE_OPTIONS };
  const duration = (name: string, apply: (ms: number) => void, min: number, max: number) => {
    const raw = env[name]?.trim();
    if (!raw) return;
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms < min || ms > max) problems.push(`${name}: expected a duration between ${min / 60_000}m and ${max / 3_600_000}h such as "45m", got ${JSON.stringify(raw)}`);
    else apply(ms);
  };
  duration("QUEUE_FAIRNESS_BOUND", (ms) => (opts.fairnessBoundMs = ms), 60_000, 24 * 3_600_000);
  duration("QUEUE_PRIORITY_HEAD_START", (ms) => (opts.priorityHeadStartMs = ms), 0, 4 * 3_600_000);
  duration("QUEUE_CHECKIN_EARLY", (ms) => (opts.appointmentEarlyMs = ms), 0, 24 * 3_600_000);
  duration("QUEUE_CHECKIN_LATE", (ms) => (opts.appointmentLateMs = ms), 0, 24 * 3_600_000);
  duration("QUEUE_CHANGE_RETENTION", (ms) => (opts.changeRetentionMs = ms), 60_000, 7 * 24 * 3_600_000);
  const skips = env["QUEUE_NO_SHOW_AFTER_SKIPS"]?.trim();
  if (skips) {
    const n = Number(skips);
    if (!Number.isInteger(n) || n < 1 || n > 10) problems.push(`QUEUE_NO_SHOW_AFTER_SKIPS: expected an integer 1-10, got ${JSON.stringify(skips)}`);
    else opts.noShowAfterSkips = n;
  }
  if (problems.length > 0) throw new ConfigError(problems.join("; "));
  return opts;
}
