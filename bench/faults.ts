/**
 * `npm run bench -- faults`: how bookings and lock waits fare while Redis fails (issue 9's targets:
 * booking p95 under 2 s and lock wait under 500 ms even during the Redis fault). The fault run of
 * the system test (test/system/fault-run.ts) with its two Redis faults only: Redis killed and
 * restarted empty, and Redis slowed then made unreachable through the TCP proxy. The clinic workload
 * drives the cluster through the gateway; its lockers take a shared lock (waiting up to 2 s) through
 * the gateway. A booking counts from its first attempt to its last (the workload retries with the
 * same requestId), so retries after a refusal are part of its time. The checker's verdict is
 * reported with the figures: fast answers that broke an invariant would not count.
 */
import { formatReport, RECOVERY_BOUND_MS } from "../test/system/checker.js";
import { runFaultRun, type FaultName } from "../test/system/fault-run.js";
import type { RequestRecord } from "../test/system/workload.js";
import { percentile } from "./h2load.js";
import { describeMachine, fmt, markdownTable, writeResults } from "./results.js";
import { withBenchHost } from "./teardown.js";

const FAULTS: FaultName[] = ["redis-kill", "redis-slow-unreachable"];
/** Results within this long after a fault ends still count as "during" it (the recovery). */
const AFTERMATH_MS = 2_000;

interface Options {
  seconds: number;
  seed: number;
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { seconds: 60, seed: 20261203, write: true };
  for (const arg of args) {
    const [k, v = ""] = arg.replace(/^--/, "").split("=", 2);
    if (k === "seconds" && Number.isInteger(Number(v)) && Number(v) >= 40) o.seconds = Number(v);
    else if (k === "seed" && Number.isInteger(Number(v))) o.seed = Number(v);
    else if (k === "no-write") o.write = false;
    else throw new Error(`unknown or bad option ${arg} (--seconds=N with N >= 40, --seed=N, --no-write)`);
  }
  return o;
}

/** Latencies of one kind of operation in one period. */
export interface PeriodStats {
  count: number;
  /** codes counts the final outcome of each operation. */
  codes: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

function stats(ops: { ms: number; code: string }[]): PeriodStats {
  const sorted = Float64Array.from(ops.map((o) => o.ms)).sort();
  const codes: Record<string, number> = {};
  for (const o of ops) codes[o.code] = (codes[o.code] ?? 0) + 1;
  return { count: ops.length, codes, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95), maxMs: sorted.length ? sorted[sorted.length - 1] : Number.NaN };
}

/** bookings groups the workload's BookAppointment attempts by request: first start to last end, last code. */
function bookings(records: readonly RequestRecord[]): { start: number; ms: number; code: string }[] {
  const byRequest = new Map<string, RequestRecord[]>();
  for (const r of records) {
    if (r.rpc !== "SchedulingService/BookAppointment" || !r.requestId || r.actor === "setup") continue;
    const key = `${r.actor}|${r.requestId}`;
    const attempts = byRequest.get(key);
    if (attempts) attempts.push(r);
    else byRequest.set(key, [r]);
  }
  return [...byRequest.values()].map((attempts) => {
    const first = attempts.reduce((a, b) => (b.start < a.start ? b : a));
    const last = attempts.reduce((a, b) => (b.end > a.end ? b : a));
    return { start: first.start, ms: last.end - first.start, code: last.code };
  });
}

/** lockWaits are the lockers' Acquire calls: the wait a client sees for a shared lock. */
function lockWaits(records: readonly RequestRecord[]): { start: number; ms: number; code: string }[] {
  return records.filter((r) => r.rpc === "LockService/Acquire" && r.actor.startsWith("locker-")).map((r) => ({ start: r.start, ms: r.end - r.start, code: r.code }));
}

export async function main(args: string[]): Promise<void> {
  const o = parseArgs(args);
  await withBenchHost(async (host, machine) => {
    const { report, windows, log, elapsedMs } = await runFaultRun({
      host,
      seed: o.seed,
      durationMs: o.seconds * 1000,
      faults: FAULTS,
      warmupMs: 10_000,
      gapMs: 8_000,
      tailMs: 8_000,
      progress: (line) => console.log(line),
    });
    const during = (start: number) => windows.some((w) => start >= w.start && start <= w.end + AFTERMATH_MS);
    const quiet = (start: number) => windows.every((w) => start < w.start - 1_000 || start > w.end + RECOVERY_BOUND_MS);
    const booked = bookings(log.records);
    const waits = lockWaits(log.records);
    const periods = {
      duringFaults: { booking: stats(booked.filter((b) => during(b.start))), lockWait: stats(waits.filter((w) => during(w.start))) },
      quiet: { booking: stats(booked.filter((b) => quiet(b.start))), lockWait: stats(waits.filter((w) => quiet(w.start))) },
    };
    const d = periods.duringFaults;
    const verdicts = [
      `booking p95 during the Redis faults: ${fmt(d.booking.p95Ms)} ms over ${d.booking.count} bookings (target < 2,000 ms): ${d.booking.count > 0 && d.booking.p95Ms < 2_000 ? "MET" : "NOT MET"}`,
      `lock wait p95 during the Redis faults: ${fmt(d.lockWait.p95Ms)} ms over ${d.lockWait.count} acquires (target < 500 ms): ${d.lockWait.count > 0 && d.lockWait.p95Ms < 500 ? "MET" : "NOT MET"}`,
      `checker of the same run: ${report.violations.length} violations (target 0): ${report.violations.length === 0 ? "MET" : "NOT MET"}`,
    ];
    for (const v of verdicts) console.log(v);
    const codes = (s: PeriodStats) => Object.entries(s.codes).sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, n]) => `${c} ${n}`).join(", ") || "–";
    const row = (what: string, period: string, s: PeriodStats) => [what, period, fmt(s.count), fmt(s.p50Ms), fmt(s.p95Ms), fmt(s.maxMs), codes(s)];
    const md = [
      "# Bookings and lock waits while Redis fails",
      "",
      `\`npm run bench -- faults\`, ${machine.date}. Machine: ${describeMachine(machine)}.`,
      "",
      `The fault run of \`npm test\`'s system test with its Redis faults only (seed ${o.seed}, ${fmt(elapsedMs / 1000)} s of workload): the cluster as separate processes, the seeded clinic workload through the gateway, Redis behind a TCP proxy the run controls. "During" counts operations started while a fault was on or within ${AFTERMATH_MS / 1000} s after it was lifted; "quiet" those started more than ${RECOVERY_BOUND_MS / 1000} s after any fault (and not in the second before one).`,
      "",
      markdownTable(
        ["operation", "period", ">count", ">p50 ms", ">p95 ms", ">max ms", "outcomes"],
        [
          row("booking (first attempt to last)", "during the Redis faults", d.booking),
          row("booking (first attempt to last)", "quiet", periods.quiet.booking),
          row("lock wait (Acquire, shared lock, wait ≤ 2 s)", "during the Redis faults", d.lockWait),
          row("lock wait (Acquire, shared lock, wait ≤ 2 s)", "quiet", periods.quiet.lockWait),
        ],
      ),
      "",
      "Faults:",
      "",
      markdownTable(
        ["fault", ">lasted ms", ">serving again after ms", "notes"],
        windows.map((w) => [w.name, fmt(w.end - w.start), w.recoveryMs === undefined ? "never" : fmt(w.recoveryMs), w.notes.join("; ").replace(/\|/g, "\\|") || "–"]),
      ),
      "",
      ...verdicts.map((v) => `* ${v}`),
      "",
      "Checker:",
      "",
      "```",
      formatReport(report),
      "```",
    ].join("\n");
    if (o.write) {
      const paths = writeResults("faults", { machine, options: o, elapsedMs, periods, windows, violations: report.violations, verdicts }, md);
      console.log(`wrote ${paths.md} and ${paths.json}`);
    }
  });
}
