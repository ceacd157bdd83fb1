// A closed-loop load generator: `concurrency` clients, each running one operation after another for a
// fixed time after a warm-up, with every operation's latency recorded.
import { percentile } from "./h2load.js";

/** LoopResult is what a closed-loop run measured. */
export interface LoopResult {
  /** concurrency is the number of clients. */
  concurrency: number;
  /** ops is the number of operations completed in the measured window. */
  ops: number;
  /** errors is the number of operations that threw in the measured window. */
  errors: number;
  /** opsPerSec is ops over the measured window. */
  opsPerSec: number;
  /** p50Ms, p95Ms, p99Ms are latency percentiles in milliseconds. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** firstError is the message of the first error, if any. */
  firstError?: string;
  /** outcomes counts, by label, the operations in the measured window that returned one (e.g. "taken"). */
  outcomes?: Record<string, number>;
}

/**
 * closedLoop runs `op(client)` back to back on `concurrency` clients for warmupMs (not counted) and
 * then durationMs (counted), and returns throughput and latency percentiles. An operation may return
 * a label for an answer that is not the usual one (a conflict, say): it still counts as an operation,
 * and `outcomes` says how many of each label the window had. onWindow hears when the measured window
 * opens and closes (to read CPU time over the same window).
 */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  warmupMs: number,
  op: (client: number) => Promise<string | void>,
  onWindow?: (window: "open" | "closed") => void,
): Promise<LoopResult> {
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let closed = false;
  const close = () => {
    if (!closed) onWindow?.("closed");
    closed = true;
  };
  const timers = onWindow ? [setTimeout(() => onWindow("open"), warmupMs), setTimeout(close, warmupMs + durationMs)] : [];
  const client = async (i: number) => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      let failed = false;
      let outcome: string | void = undefined;
      try {
        outcome = await op(i);
      } catch (err) {
        failed = true;
        if (t0 >= measureFrom) {
          errors++;
          firstError ??= (err as Error)?.message ?? String(err);
        }
      }
      const t1 = performance.now();
      if (t0 >= measureFrom && t1 <= end && !failed) {
        latencies.push(t1 - t0);
        if (outcome) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  // The last operations end after the window does, but the closing timer may not have run yet.
  timers.forEach(clearTimeout);
  close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency,
    ops: latencies.length,
    errors,
    opsPerSec: latencies.length / (durationMs / 1000),
    p50Ms: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    p99Ms: percentile(sorted, 0.99),
    firstError,
    outcomes,
  };
}
