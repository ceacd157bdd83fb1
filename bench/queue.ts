/**
 * The queue benchmark, against the real queue service process (`node dist/services/queue/main.js`
 * on a fresh Postgres database) over gRPC with the runtime's grpc-js transport, as other services
 * call it:
 *   - cycles: 8 counters, each running IssueTicket + CallNext + CompleteTicket back to back;
 *   - fan-out: 200 WatchQueue streams on one queue while tickets are issued; latency from the start
 *     of the IssueTicket call to the change's delivery on each stream (so it includes the RPC).
 * Targets (issue 4): 1,000 cycles/s; fan-out p99 under 100 ms.
 *
 * `npm run bench -- queue [--duration=5000] [--counters=8] [--watchers=200] [--rate=20] [--no-write]`
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import pg from "pg";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/health/v1/health_pb.js";
import { TicketPriority, TicketStatus } from "../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../gen/medschedule/queue/v1/queue_service_pb.js";
import { signToken } from "../services/runtime/auth/dev-tokens.js";
import { createGrpcJsTransport } from "../services/runtime/clients/grpc-transport.js";
import { createTestDatabase } from "../test/helpers/postgres.js";
import { percentile } from "./h2load.js";
import { closedLoop } from "./closed-loop.js";
import { describeMachine, fmt, markdownTable, writeResults } from "./results.js";
import { freePort } from "../services/runtime/server/free-port.js";
import { withBenchHost } from "./teardown.js";

const SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789";

interface Options {
  durationMs: number;
  warmupMs: number;
  counters: number;
  watchers: number;
  ratePerSec: number;
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { durationMs: 5_000, warmupMs: 1_000, counters: 8, watchers: 200, ratePerSec: 20, write: true };
  for (const a of args) {
    const [k, v] = a.replace(/^--/, "").split("=");
    if (k === "duration") o.durationMs = Number(v);
    else if (k === "warmup") o.warmupMs = Number(v);
    else if (k === "counters") o.counters = Number(v);
    else if (k === "watchers") o.watchers = Number(v);
    else if (k === "rate") o.ratePerSec = Number(v);
    else if (k === "no-write") o.write = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** procCpuMs is a process's user+system CPU time in ms from /proc (0 when it cannot be read). */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // utime, stime in 1/100 s
  } catch {
    return 0;
  }
}

/** serverCpu reads the CPU time of the service process and of the Postgres backends serving its database. */
async function serverCpu(servicePid: number, db: pg.Client): Promise<{ serviceMs: number; backends: Map<number, number> }> {
  const pids = await db.query<{ pid: number }>("select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
  return { serviceMs: procCpuMs(servicePid), backends: new Map(pids.rows.map((r) => [r.pid, procCpuMs(r.pid)])) };
}


export async function main(args: string[]): Promise<void> {
  const o = parseArgs(args);
  await withBenchHost(async (host, machine) => {
    const databaseUrl = await createTestDatabase(host);
    const dataDir = await host.tempDir("bench-queue-");
    const port = await freePort();
    const main = fileURLToPath(new URL("../services/queue/main.js", import.meta.url));
    // QUEUE_NODE_ARGS: extra node flags for the service process (e.g. "--cpu-prof --cpu-prof-dir=...").
    const child = spawn(process.execPath, [...(process.env.QUEUE_NODE_ARGS ?? "").split(/\s+/).filter(Boolean), main], {
      env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl, AUTH_HS256_SECRET: SECRET, METRICS_PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "warn" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    host.teardown(
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    );
    const token = await signToken(SECRET, "bench", ["service"]);
    const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${port}`], headers: { authorization: `Bearer ${token}` } });
    host.teardown(() => transport.close());
    const health = createClient(Health, transport);
    const startedAt = Date.now();
    for (;;) {
      const status = await health.check({}, { timeoutMs: 1_000 }).then((r) => r.status, () => undefined);
      if (status === HealthCheckResponse_ServingStatus.SERVING) break;
      if (Date.now() - startedAt > 30_000) throw new Error("the queue service did not become SERVING within 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`queue service pid ${child.pid} on port ${port}, SERVING after ${Date.now() - startedAt} ms`);
    const queue = createClient(QueueService, transport);

    // Cycles: each counter issues a ticket, calls the next one and completes it.
    const cycleQueue = (await queue.createQueue({ displayName: "Bench cycles", prefix: "B", timeZone: "UTC" })).queue!.queueId;
    const counters = Array.from({ length: o.counters }, (_, i) => `counter-${i + 1}`);
    for (const c of counters) await queue.openCounter({ queueId: cycleQueue, counterId: c });
    let empty = 0;
    let allCycles = 0;
    const statsDb = new pg.Client({ connectionString: databaseUrl });
    await statsDb.connect();
    host.teardown(() => statsDb.end());
    const cpuBefore = await serverCpu(child.pid!, statsDb);
    const cycles = await closedLoop(o.counters, o.durationMs, o.warmupMs, async (i) => {
      allCycles++;
      await queue.issueTicket({ requestId: randomUUID(), queueId: cycleQueue, patientId: `p-${i}`, priority: TicketPriority.ROUTINE }, { timeoutMs: 10_000 });
      const called = (await queue.callNext({ queueId: cycleQueue, counterId: counters[i] }, { timeoutMs: 10_000 })).ticket;
      if (!called) {
        empty++;
        return;
      }
      await queue.completeTicket({ ticketId: called.ticketId, counterId: counters[i] }, { timeoutMs: 10_000 });
    });
    const cpuAfter = await serverCpu(child.pid!, statsDb);
    // Server CPU per cycle, over every cycle run (warm-up included): the service process and the
    // Postgres backends of its database (a backend that exited meanwhile is not counted).
    let pgMs = 0;
    for (const [pid, ms] of cpuAfter.backends) pgMs += ms - (cpuBefore.backends.get(pid) ?? 0);
    const cpuPerCycle = { serviceMs: (cpuAfter.serviceMs - cpuBefore.serviceMs) / Math.max(1, allCycles), postgresMs: pgMs / Math.max(1, allCycles) };
    const load = os.loadavg().map((x) => x.toFixed(2)).join(" / ");
    console.log(`cycles: ${fmt(cycles.opsPerSec)} /s with ${o.counters} counters, p50 ${fmt(cycles.p50Ms, 1)} ms, p99 ${fmt(cycles.p99Ms, 1)} ms, ${cycles.errors} errors${cycles.firstError ? ` (${cycles.firstError})` : ""}, ${empty} empty calls`);
    console.log(`server CPU per cycle: queue service ${fmt(cpuPerCycle.serviceMs, 2)} ms + Postgres ${fmt(cpuPerCycle.postgresMs, 2)} ms (${allCycles} cycles); load average after: ${load}`);

    // Fan-out: watchers on a fresh queue; a marker patient id names each issued ticket.
    const fanQueue = (await queue.createQueue({ displayName: "Bench fan-out", prefix: "F", timeZone: "UTC" })).queue!.queueId;
    const issuedAt = new Map<string, number>();
    const latencies: number[] = [];
    let snapshots = 0;
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const watchers = Array.from({ length: o.watchers }, async () => {
      try {
        for await (const msg of queue.watchQueue({ queueId: fanQueue }, { signal: abort.signal })) {
          if (msg.snapshot) {
            snapshots++;
            continue;
          }
          const now = performance.now();
          for (const t of msg.tickets) {
            const at = issuedAt.get(t.patientId);
            if (at !== undefined && t.status === TicketStatus.WAITING) latencies.push(now - at);
          }
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    });
    const readyBy = Date.now() + 30_000;
    while (snapshots < o.watchers && Date.now() < readyBy) await new Promise((r) => setTimeout(r, 50));
    if (snapshots < o.watchers) throw new Error(`only ${snapshots} of ${o.watchers} watchers got their snapshot`);
    const count = Math.round((o.durationMs / 1000) * o.ratePerSec);
    for (let k = 0; k < count; k++) {
      const marker = `fan-${k}`;
      issuedAt.set(marker, performance.now());
      await queue.issueTicket({ requestId: randomUUID(), queueId: fanQueue, patientId: marker, priority: TicketPriority.ROUTINE });
      await new Promise((r) => setTimeout(r, 1000 / o.ratePerSec));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    abort.abort();
    await Promise.allSettled(watchers);
    const sorted = Float64Array.from(latencies).sort();
    const expected = count * o.watchers;
    const fan = { changes: count, watchers: o.watchers, delivered: latencies.length, expected, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1] };
    console.log(`fan-out: ${fan.delivered} of ${expected} deliveries, p50 ${fmt(fan.p50Ms, 1)} ms, p99 ${fmt(fan.p99Ms, 1)} ms, max ${fmt(fan.maxMs, 1)} ms`);

    const verdicts = [
      `cycles: ${fmt(cycles.opsPerSec)} /s with ${o.counters} counters (target ≥ 1,000): ${cycles.opsPerSec >= 1000 ? "MET" : "NOT MET"}`,
      `fan-out p99 with ${o.watchers} watchers: ${fmt(fan.p99Ms, 1)} ms (target < 100 ms): ${fan.p99Ms < 100 && fan.delivered === expected ? "MET" : "NOT MET"}${fan.delivered === expected ? "" : ` (${expected - fan.delivered} deliveries missing)`}`,
    ];
    console.log(["", ...verdicts].join("\n"));
    if (!o.write) return;
    const md = [
      "# Queue benchmark",
      "",
      `\`npm run bench -- queue\`, ${machine.date}. Machine: ${describeMachine(machine)}.`,
      "",
      "The queue service runs as its own process on a fresh Postgres database; the client uses the runtime's grpc-js transport with a service token.",
      "",
      markdownTable(
        ["measurement", ">value", ">p50 ms", ">p99 ms"],
        [
          [`IssueTicket + CallNext + CompleteTicket cycles/s, ${o.counters} counters, ${o.durationMs} ms`, fmt(cycles.opsPerSec), fmt(cycles.p50Ms, 1), fmt(cycles.p99Ms, 1)],
          [`server CPU per cycle: queue service + Postgres backends, ms`, `${fmt(cpuPerCycle.serviceMs, 2)} + ${fmt(cpuPerCycle.postgresMs, 2)}`, "", ""],
          [`WatchQueue deliveries (${count} changes × ${o.watchers} watchers; from IssueTicket start)`, `${fan.delivered} / ${expected}`, fmt(fan.p50Ms, 1), fmt(fan.p99Ms, 1)],
        ],
      ),
      "",
      ...verdicts.map((v) => `* ${v}`),
    ].join("\n");
    const paths = writeResults("queue", { machine, options: o, cycles: { ...cycles, emptyCalls: empty, serverCpuPerCycle: cpuPerCycle, loadAverageAfter: load }, fanOut: fan, verdicts }, md);
    console.log(`results: ${paths.md}`);
  });
}
