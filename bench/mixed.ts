/**
 * `npm run bench -- mixed`: the whole system as an operator runs it on one machine, under a clinic's
 * mixed load. `npm run cluster` starts the gateway and the services as separate processes (two
 * replicas of scheduling and queue) on real Postgres and Redis; a client in this process drives them
 * through the gateway over gRPC (grpc-js) with a mix of receptionists, patients and counters:
 * slot searches, bookings, cancellations, appointment reads, walk-in tickets, counters calling and
 * completing, display boards listing tickets.
 *
 * Runs, in order:
 * 1. open loop at --rate requests/s for --seconds (the target: 500 req/s, p99 < 50 ms, no errors but
 *    expected conflicts); latency counts from each request's scheduled start, so a stall is not hidden;
 * 2. the same open loop at --scale-rate with 10, 100 and 1,000 providers (how cost grows with size;
 *    the default rate is below this machine's capacity, so the latency there is the work, not a queue);
 * 3. closed loops with 1, 4, 16 and 64 clients (how throughput and latency grow with concurrency);
 * 4. the ceilings: h2load against the no-op Health/Check of one service (serveGrpc) and of the gateway.
 * Every process's CPU time per request and peak RSS are read from /proc.
 *
 * `npm run bench -- mixed [--rate=500] [--seconds=20] [--providers=100] [--scale-rate=100]
 *   [--scale-seconds=10] [--scale-providers=10,100,1000] [--clients=1,4,16,64] [--no-write]
 *   [--only=slots|book|cancel|appointment|issue|call|display]` (--only: one operation instead of the
 *   mix, to see what each costs; implies --no-write)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from "../gen/health/v1/health_pb.js";
import { TicketPriority, TicketStatus } from "../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../gen/medschedule/queue/v1/queue_service_pb.js";
import { DayOfWeek } from "../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../services/runtime/auth/dev-tokens.js";
import { createGrpcJsTransport, type GrpcJsTransport } from "../services/runtime/clients/grpc-transport.js";
import { createTestDatabase } from "../test/helpers/postgres.js";
import { redisUrl } from "../test/helpers/redis.js";
import { cpuSnapshot, type CpuSnapshot } from "./cpu.js";
import { ensureH2load, percentile, runH2load } from "./h2load.js";
import { peakRssMiB, processCpuMs } from "./processes.js";
import { describeMachine, fmt, markdownTable, writeResults, type MachineInfo } from "./results.js";
import { withBenchHost } from "./teardown.js";
import { memberNodeArgs } from "../scripts/member-node-args.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const SLOT_MS = 15 * 60_000;
const DAYS = 7;
const SLOTS = (DAYS * 24 * 60 * 60_000) / SLOT_MS;
const QUEUES = 4;
const COUNTERS_PER_QUEUE = 2;
const DESKS = 64;
/** Codes a clinic's client expects under contention: slot taken, lock or transaction contention. */
const EXPECTED = new Set([Code.FailedPrecondition, Code.Aborted]);

interface Options {
  rate: number;
  seconds: number;
  providers: number;
  scaleRate: number;
  scaleSeconds: number;
  scaleProviders: number[];
  clients: number[];
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { rate: 500, seconds: 20, providers: 100, scaleRate: 100, scaleSeconds: 10, scaleProviders: [10, 100, 1000], clients: [1, 4, 16, 64], write: true };
  const positive = (k: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k} needs a positive integer, got "${v}"`);
    return n;
  };
  for (const arg of args) {
    const [k, v = ""] = arg.replace(/^--/, "").split("=", 2);
    switch (k) {
      case "rate": o.rate = positive(k, v); break;
      case "seconds": o.seconds = positive(k, v); break;
      case "providers": o.providers = positive(k, v); break;
      case "scale-rate": o.scaleRate = positive(k, v); break;
      case "scale-seconds": o.scaleSeconds = positive(k, v); break;
      case "scale-providers": o.scaleProviders = v.split(",").map((x) => positive(k, x)); break;
      case "clients": o.clients = v.split(",").map((x) => positive(k, x)); break;
      case "no-write": o.write = false; break;
      case "only":
        if (!MIX.some(([, op]) => op === v)) throw new Error(`--only needs one of ${MIX.map(([, op]) => op).join(", ")}, got "${v}"`);
        onlyOp = v as Op;
        o.write = false;
        break;
      default: throw new Error(`unknown option --${k}`);
    }
  }
  return o;
}

/** OpStats are one operation kind's outcomes in one run. */
interface OpStats {
  ok: number;
  expected: number;
  errors: number;
  latencies: number[];
}

/** RunResult is one measured run of the mixed workload. */
export interface MixedRun {
  label: string;
  mode: "open" | "closed";
  /** target is the offered rate (open loop) or the number of clients (closed loop). */
  target: number;
  providers: number;
  seconds: number;
  requests: number;
  /** perSec counts every answer, refusals and errors included. */
  perSec: number;
  /** okPerSec counts the answers that were not unexpected errors (successes and expected conflicts). */
  okPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  expected: number;
  errors: number;
  firstError?: string;
  /** notSent counts open-loop requests skipped because 2,000 were already in flight. */
  notSent: number;
  /** peakRssMiB is each cluster process's peak RSS so far, read after the run. */
  peakRssMiB: Record<string, number>;
  /** cpuMsPerRequest is the CPU of the cluster's processes per request. */
  cpuMsPerRequest: number;
  /** machineCpuMsPerRequest is the whole machine's busy CPU per request (Postgres, Redis, client included). */
  machineCpuMsPerRequest: number;
  ops: Record<string, { requests: number; expected: number; errors: number; p50Ms: number; p99Ms: number }>;
}

/** MixedReport is what bench/results/mixed.json holds. */
export interface MixedReport {
  machine: MachineInfo;
  runs: MixedRun[];
  ceilings: { label: string; reqPerSec: number; p50Ms: number; p99Ms: number }[];
  processes: { name: string; peakRssMiB: number; cpuSeconds: number }[];
  targets: { rate: number; p99Ms: number; met: boolean; rssMet: boolean };
}

interface Cluster {
  gatewayPort: number;
  servicePort: number;
  pids: Map<string, number>;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startCluster(databaseUrl: string, secret: string, dataDir: string): Promise<Cluster> {
  // Ports below the ephemeral range, in a block of its own (the cluster test uses 20000-31999).
  const base = 10_000 + 40 * Math.floor(Math.random() * 48);
  const gatewayPort = base + 30;
  const serviceToken = await signToken(secret, "medschedule", ["service"]);
  const child = spawn(process.execPath, [path.join(root, "dist/scripts/cluster.js")], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(gatewayPort),
      CLUSTER_PORT_BASE: String(base),
      CLUSTER_METRICS_BASE: String(base + 20),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl(),
      AUTH_HS256_SECRET: secret,
      SERVICE_TOKEN: serviceToken,
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      // The workload is many desks and patients; one client's budget would only measure the limiter.
      RATE_LIMIT_PER_MINUTE: "0",
      BACKUP_SCHEDULE_POSTGRES: "",
      BACKUP_SCHEDULE_REDIS: "",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const pids = new Map<string, number>();
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    for (const m of out.matchAll(/^\s*(?:MedSchedule cluster: )?(\S+)\s.*\(pid (\d+)\)/gm)) pids.set(m[1] === "gateway" ? "gateway" : m[1], Number(m[2]));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const health = createGrpcJsTransport({ addresses: [`127.0.0.1:${gatewayPort}`] });
  try {
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the cluster exited with code ${child.exitCode} before serving`);
      const status = await createClient(Health, health).check({}, { timeoutMs: 1_000 }).then((r) => r.status, () => undefined);
      if (status === HealthCheckResponse_ServingStatus.SERVING && pids.size >= 7) break;
      if (Date.now() - started > 60_000) throw new Error("the cluster did not serve within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    health.close();
  }
  return {
    gatewayPort,
    servicePort: base,
    pids,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Clinic is the seeded state the workload draws from. */
interface Clinic {
  providers: string[];
  queues: string[];
  counters: { queueId: string; counterId: string; busy: boolean }[];
  /** booked are acknowledged bookings still active, by provider index, for cancels and reads. */
  booked: string[];
  base: number;
}

async function seed(scheduling: Client<typeof SchedulingService>, queue: Client<typeof QueueService>, providers: number): Promise<Clinic> {
  const days = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY, DayOfWeek.SATURDAY, DayOfWeek.SUNDAY];
  const ids: string[] = [];
  for (let start = 0; start < providers; start += 20) {
    const batch = Array.from({ length: Math.min(20, providers - start) }, (_, i) => `mix-${start + i + 1}`);
    await Promise.all(
      batch.map(async (providerId) => {
        await scheduling.createProvider({ displayName: `Dr. ${providerId}`, timeZone: "UTC", specialty: "general", providerId });
        await scheduling.setAvailability({
          providerId,
          weeklyHours: days.map((dayOfWeek) => ({ dayOfWeek, startTime: "00:00", endTime: "24:00" })),
          slotDuration: { seconds: BigInt(SLOT_MS / 1000) },
        });
      }),
    );
    ids.push(...batch);
  }
  const queues: string[] = [];
  const counters: Clinic["counters"] = [];
  for (let q = 0; q < QUEUES; q++) {
    const queueId = (await queue.createQueue({ displayName: `Desk ${q + 1}`, prefix: String.fromCharCode(65 + q), timeZone: "UTC", queueId: `mix-q${q + 1}` })).queue!.queueId;
    queues.push(queueId);
    for (let c = 0; c < COUNTERS_PER_QUEUE; c++) {
      const counterId = `mix-q${q + 1}-c${c + 1}`;
      await queue.openCounter({ queueId, counterId });
      counters.push({ queueId, counterId, busy: false });
    }
  }
  // Bookings start tomorrow (UTC midnight), so every slot is in the future for the whole run.
  const base = Math.ceil(Date.now() / 86_400_000) * 86_400_000 + 86_400_000;
  return { providers: ids, queues, counters, booked: [], base };
}

type Op = "slots" | "book" | "cancel" | "appointment" | "issue" | "call" | "complete" | "display";

/** The mix: (weight, operation). callNext is followed by CompleteTicket when it got a ticket. */
const MIX: [number, Op][] = [
  [30, "slots"],
  [20, "book"],
  [5, "cancel"],
  [10, "appointment"],
  [12, "issue"],
  [12, "call"],
  [11, "display"],
];
const MIX_TOTAL = MIX.reduce((s, [w]) => s + w, 0);

/** onlyOp, when set (--only=op), replaces the mix with one operation: what each one costs. */
let onlyOp: Op | undefined;

function pick(): Op {
  if (onlyOp) return onlyOp;
  let r = Math.random() * MIX_TOTAL;
  for (const [w, op] of MIX) if ((r -= w) < 0) return op;
  return "slots";
}

/** Workload issues one clinic operation at a time and records its outcome. */
class Workload {
  readonly stats = new Map<Op, OpStats>();
  firstError: string | undefined;
  providerCount: number;
  private seq = 0;

  constructor(
    private readonly clinic: Clinic,
    private readonly scheduling: Client<typeof SchedulingService>[],
    private readonly queue: Client<typeof QueueService>[],
    providerCount: number,
  ) {
    this.providerCount = providerCount;
  }

  reset(): void {
    this.stats.clear();
    this.firstError = undefined;
  }

  private record(op: Op, t0: number, outcome: "ok" | "expected" | "error"): void {
    let s = this.stats.get(op);
    if (!s) this.stats.set(op, (s = { ok: 0, expected: 0, errors: 0, latencies: [] }));
    if (outcome === "ok") s.ok++;
    else if (outcome === "expected") s.expected++;
    else s.errors++;
    s.latencies.push(performance.now() - t0);
  }

  private async timed<T>(op: Op, t0: number, call: () => Promise<T>): Promise<T | undefined> {
    try {
      const r = await call();
      this.record(op, t0, "ok");
      return r;
    } catch (err) {
      const e = ConnectError.from(err);
      const expected = EXPECTED.has(e.code);
      if (!expected) this.firstError ??= `${op}: ${Code[e.code]}: ${e.rawMessage}`;
      this.record(op, t0, expected ? "expected" : "error");
      return undefined;
    }
  }

  /** run performs one operation picked from the mix; t0 is its scheduled start. */
  async run(t0 = performance.now()): Promise<void> {
    const c = this.clinic;
    const desk = this.seq++ % DESKS;
    const scheduling = this.scheduling[desk];
    const queue = this.queue[desk];
    const provider = c.providers[Math.floor(Math.random() * this.providerCount)];
    const op = pick();
    switch (op) {
      case "slots": {
        const day = c.base + Math.floor(Math.random() * DAYS) * 86_400_000;
        await this.timed(op, t0, () =>
          scheduling.listAvailableSlots({ providerId: provider, startTime: timestampFromDate(new Date(day)), endTime: timestampFromDate(new Date(day + 86_400_000)) }),
        );
        return;
      }
      case "book": {
        const start = c.base + Math.floor(Math.random() * SLOTS) * SLOT_MS;
        const r = await this.timed(op, t0, () =>
          scheduling.bookAppointment({ requestId: randomUUID(), providerId: provider, patientId: `patient-${Math.floor(Math.random() * 100_000)}`, startTime: timestampFromDate(new Date(start)) }),
        );
        if (r?.appointment) c.booked.push(r.appointment.appointmentId);
        return;
      }
      case "cancel":
      case "appointment": {
        if (c.booked.length === 0) return this.run(t0);
        const i = Math.floor(Math.random() * c.booked.length);
        const appointmentId = c.booked[i];
        if (op === "appointment") {
          await this.timed(op, t0, () => scheduling.getAppointment({ appointmentId }));
          return;
        }
        c.booked[i] = c.booked[c.booked.length - 1];
        c.booked.pop();
        await this.timed(op, t0, () => scheduling.cancelAppointment({ appointmentId, requestId: randomUUID(), reason: "patient called" }));
        return;
      }
      case "issue": {
        const queueId = c.queues[Math.floor(Math.random() * c.queues.length)];
        await this.timed(op, t0, () =>
          queue.issueTicket({ requestId: randomUUID(), queueId, patientId: `walk-in-${Math.floor(Math.random() * 100_000)}`, priority: TicketPriority.ROUTINE }),
        );
        return;
      }
      case "call": {
        // A counter is one person: it calls the next patient only when it is free.
        const free = c.counters.filter((k) => !k.busy);
        if (free.length === 0) return this.run(t0);
        const counter = free[Math.floor(Math.random() * free.length)];
        const { queueId, counterId } = counter;
        counter.busy = true;
        try {
          const r = await this.timed(op, t0, () => queue.callNext({ queueId, counterId }));
          if (r?.ticket) await this.timed("complete", performance.now(), () => queue.completeTicket({ ticketId: r.ticket!.ticketId, counterId }));
        } finally {
          counter.busy = false;
        }
        return;
      }
      case "display": {
        const queueId = c.queues[Math.floor(Math.random() * c.queues.length)];
        await this.timed(op, t0, () => queue.listTickets({ queueId, statuses: [TicketStatus.WAITING, TicketStatus.CALLED], pageSize: 50 }));
        return;
      }
      default:
        return;
    }
  }
}

const MAX_IN_FLIGHT = 2_000;

async function openLoop(w: Workload, rate: number, seconds: number): Promise<{ notSent: number; seconds: number }> {
  const start = performance.now();
  const end = start + seconds * 1000;
  const intervalMs = 1000 / rate;
  let next = start;
  let inFlight = 0;
  let notSent = 0;
  const pending = new Set<Promise<void>>();
  while (next < end) {
    const now = performance.now();
    while (next <= now && next < end) {
      const t0 = next;
      next += intervalMs;
      if (inFlight >= MAX_IN_FLIGHT) {
        notSent++;
        continue;
      }
      inFlight++;
      const p = w.run(t0).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(5, next - performance.now()))));
  }
  await Promise.all(pending);
  return { notSent, seconds: (performance.now() - start) / 1000 };
}

async function closedLoop(w: Workload, clients: number, seconds: number): Promise<{ seconds: number }> {
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) await w.run();
    }),
  );
  return { seconds: (performance.now() - start) / 1000 };
}

function summarize(
  w: Workload,
  label: string,
  mode: "open" | "closed",
  target: number,
  seconds: number,
  notSent: number,
  cpu: { clusterMs: number; machine: [CpuSnapshot, CpuSnapshot] },
): MixedRun {
  const all: number[] = [];
  const ops: MixedRun["ops"] = {};
  let expected = 0;
  let errors = 0;
  for (const [op, s] of w.stats) {
    all.push(...s.latencies);
    expected += s.expected;
    errors += s.errors;
    const sorted = Float64Array.from(s.latencies).sort();
    ops[op] = { requests: s.latencies.length, expected: s.expected, errors: s.errors, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
  }
  const sorted = Float64Array.from(all).sort();
  const requests = sorted.length;
  return {
    label,
    mode,
    target,
    providers: w.providerCount,
    seconds,
    requests,
    perSec: requests / seconds,
    okPerSec: (requests - errors) / seconds,
    p50Ms: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    p99Ms: percentile(sorted, 0.99),
    expected,
    errors,
    firstError: w.firstError,
    notSent,
    // Per answer that did the work: a refused call costs next to nothing and would flatter the figure.
    cpuMsPerRequest: cpu.clusterMs / Math.max(1, requests - errors),
    machineCpuMsPerRequest: (cpu.machine[1].busyMs - cpu.machine[0].busyMs) / Math.max(1, requests - errors),
    ops,
    peakRssMiB: {},
  };
}

function clusterCpuMs(pids: Map<string, number>): number {
  let sum = 0;
  for (const pid of pids.values()) sum += processCpuMs(pid);
  return sum;
}

async function measure(w: Workload, cluster: Cluster, label: string, mode: "open" | "closed", target: number, seconds: number): Promise<MixedRun> {
  // A short warm-up (connections, JIT, caches) that is not counted.
  if (mode === "open") await openLoop(w, target, 2);
  else await closedLoop(w, target, 2);
  w.reset();
  const cpu0 = clusterCpuMs(cluster.pids);
  const m0 = cpuSnapshot();
  const r = mode === "open" ? await openLoop(w, target, seconds) : { ...(await closedLoop(w, target, seconds)), notSent: 0 };
  const run = summarize(w, label, mode, target, r.seconds, r.notSent, { clusterMs: clusterCpuMs(cluster.pids) - cpu0, machine: [m0, cpuSnapshot()] });
  run.peakRssMiB = Object.fromEntries([...cluster.pids].map(([name, pid]) => [name, Math.round(peakRssMiB(pid))]));
  console.log(
    `${label}: ${run.perSec.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(1)} ms, p95 ${run.p95Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms, ` +
      `expected conflicts ${run.expected}, errors ${run.errors}${run.firstError ? ` (${run.firstError})` : ""}, not sent ${run.notSent}; ` +
      `peak RSS MiB ${Object.entries(run.peakRssMiB).map(([n, v]) => `${n} ${v}`).join(", ")}`,
  );
  return run;
}

async function ceilings(cluster: Cluster, tmp: string): Promise<MixedReport["ceilings"]> {
  ensureH2load();
  const body = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }));
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), Buffer.from(body)]);
  const dataFile = path.join(tmp, "check.grpc.bin");
  await writeFile(dataFile, framed);
  const out: MixedReport["ceilings"] = [];
  for (const [label, port] of [
    ["no-op RPC, one service (serveGrpc, Health/Check)", cluster.servicePort],
    ["no-op RPC, gateway (serveConnect, Health/Check)", cluster.gatewayPort],
  ] as const) {
    const logFile = path.join(tmp, `h2load-${port}.log`);
    const r = await runH2load({
      url: `http://127.0.0.1:${port}/grpc.health.v1.Health/Check`,
      requests: 20_000,
      clients: 16,
      streams: 8,
      threads: 1,
      headers: { "content-type": "application/grpc", te: "trailers" },
      dataFile,
      logFile,
    });
    if (r.failed > 0 || r.status2xx !== r.total) throw new Error(`h2load against ${label}: ${r.failed} failed, ${r.status2xx}/${r.total} 2xx`);
    out.push({ label, reqPerSec: r.reqPerSec, p50Ms: r.percentiles?.p50Ms ?? NaN, p99Ms: r.percentiles?.p99Ms ?? NaN });
    console.log(`ceiling ${label}: ${r.reqPerSec.toFixed(0)} req/s`);
  }
  return out;
}


/** renderMixedMarkdown renders the report as bench/results/mixed.md. */
export function renderMixedMarkdown(r: MixedReport): string {
  const runRows = r.runs.map((x) => [
    x.label,
    x.mode === "open" ? `${x.target} req/s offered` : `${x.target} clients`,
    fmt(x.providers),
    fmt(x.perSec),
    fmt(x.okPerSec ?? x.perSec),
    fmt(x.p50Ms, 1),
    fmt(x.p95Ms, 1),
    fmt(x.p99Ms, 1),
    fmt(x.expected),
    fmt(x.errors),
    fmt(x.notSent),
    fmt(x.cpuMsPerRequest, 2),
    fmt(x.machineCpuMsPerRequest, 2),
  ]);
  const head = r.runs[0];
  const opRows = head ? Object.entries(head.ops).map(([op, s]) => [op, fmt(s.requests), fmt(s.p50Ms, 1), fmt(s.p99Ms, 1), fmt(s.expected), fmt(s.errors)]) : [];
  return [
    "# Mixed clinic workload through the gateway",
    "",
    describeMachine(r.machine),
    "",
    markdownTable(["run", "load", ">providers", ">answers/s", ">without error /s", ">p50 ms", ">p95 ms", ">p99 ms", ">expected conflicts", ">errors", ">not sent", ">cluster CPU ms/answer", ">machine CPU ms/answer"], runRows),
    "",
    `**Target ${r.targets.rate} req/s with p99 < ${r.targets.p99Ms} ms and no unexpected errors: ${r.targets.met ? "met" : "NOT met"}.**`,
    "",
    "Operations of the first run:",
    "",
    markdownTable(["operation", ">requests", ">p50 ms", ">p99 ms", ">expected", ">errors"], opRows),
    "",
    "Ceilings, same run (h2load, 16 connections x 8 streams, 20,000 requests):",
    "",
    markdownTable(["ceiling", ">req/s", ">p50 ms", ">p99 ms"], r.ceilings.map((c) => [c.label, fmt(c.reqPerSec), fmt(c.p50Ms, 1), fmt(c.p99Ms, 1)])),
    "",
    `Peak RSS per process (target < 200 MB: ${r.targets.rssMet ? "met" : "NOT met"}):`,
    "",
    markdownTable(["process", ">peak RSS MiB", ">CPU s (whole benchmark)"], r.processes.map((p) => [p.name, fmt(p.peakRssMiB, 1), fmt(p.cpuSeconds, 1)])),
    "",
    "Method:",
    `* \`npm run cluster\`: gateway, scheduling x2, queue x2, lock, backup as separate processes on local Postgres 15 and Redis; the gateway's per-client rate limit is off (RATE_LIMIT_PER_MINUTE=0) and the workload rotates over ${DESKS} receptionist identities. Each process runs with Node options ${memberNodeArgs().join(" ") || "(none)"} (CLUSTER_HEAP_MB, CLUSTER_NODE_ARGS).`,
    `* Mix per request: ${MIX.map(([w, op]) => `${op} ${w}%`).join(", ")}; a called ticket is then completed (counted as its own request). Providers work around the clock in 15-minute slots, bookings land in the next ${DAYS} days; ${QUEUES} queues with ${COUNTERS_PER_QUEUE} counters each.`,
    "* Open loop: requests are started on a fixed schedule and latency counts from the scheduled start, so queueing is included; at most 2,000 in flight (the rest counted as not sent). Closed loop: N clients back to back.",
    "* Expected conflicts are FAILED_PRECONDITION (slot taken) and ABORTED (contention); anything else is an error.",
    "* Answers/s counts every answer, refusals (RESOURCE_EXHAUSTED when the gateway is at GATEWAY_MAX_IN_FLIGHT) and errors included; \"without error\" counts successes and expected conflicts only.",
    "* Cluster CPU is the sum of the seven processes' CPU time over the run, per answer without an unexpected error (a refusal costs next to nothing); machine CPU includes Postgres, Redis and this client.",
  ].join("\n");
}

/** main runs the benchmark. */
export async function main(args: string[]): Promise<void> {
  const o = parseArgs(args);
  await withBenchHost(async (host, machine) => {
    const databaseUrl = await createTestDatabase(host);
    const tmp = await host.tempDir("bench-mixed-");
    const secret = randomBytes(32).toString("hex");
    const cluster = await startCluster(databaseUrl, secret, tmp);
    host.teardown(() => cluster.stop());
    console.log(`cluster serving: gateway port ${cluster.gatewayPort}, pids ${[...cluster.pids].map(([n, p]) => `${n}=${p}`).join(" ")}`);

    const transports: GrpcJsTransport[] = [];
    const clientsFor = async (subject: string) => {
      const token = await signToken(secret, subject, ["receptionist"]);
      const t = createGrpcJsTransport({ addresses: [`127.0.0.1:${cluster.gatewayPort}`], headers: { authorization: `Bearer ${token}` } });
      transports.push(t);
      return { scheduling: createClient(SchedulingService, t), queue: createClient(QueueService, t) };
    };
    host.teardown(() => transports.forEach((t) => t.close()));
    const desks = await Promise.all(Array.from({ length: DESKS }, (_, i) => clientsFor(`reception-${i + 1}`)));
    const maxProviders = Math.max(o.providers, ...o.scaleProviders);
    const seeded = Date.now();
    const clinic = await seed(desks[0].scheduling, desks[0].queue, maxProviders);
    console.log(`seeded ${maxProviders} providers and ${QUEUES} queues through the gateway in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
    const w = new Workload(
      clinic,
      desks.map((d) => d.scheduling),
      desks.map((d) => d.queue),
      o.providers,
    );

    const runs: MixedRun[] = [];
    runs.push(await measure(w, cluster, "mixed, open loop", "open", o.rate, o.seconds));
    for (const p of o.scaleProviders) {
      w.providerCount = p;
      runs.push(await measure(w, cluster, `${p} providers`, "open", o.scaleRate, o.scaleSeconds));
    }
    w.providerCount = o.providers;
    for (const c of o.clients) runs.push(await measure(w, cluster, `${c} clients`, "closed", c, o.scaleSeconds));
    const ceil = await ceilings(cluster, tmp);
    const processes = [...cluster.pids].map(([name, pid]) => ({ name, peakRssMiB: peakRssMiB(pid), cpuSeconds: processCpuMs(pid) / 1000 }));
    const head = runs[0];
    const report: MixedReport = {
      machine,
      runs,
      ceilings: ceil,
      processes,
      targets: {
        rate: o.rate,
        p99Ms: 50,
        met: head.perSec >= o.rate * 0.98 && head.p99Ms < 50 && head.errors === 0 && head.notSent === 0,
        rssMet: processes.every((p) => p.peakRssMiB * 1.048576 < 200),
      },
    };
    const md = renderMixedMarkdown(report);
    console.log("\n" + md);
    if (o.write) {
      const paths = writeResults("mixed", report, md);
      console.log(`\nwrote ${paths.md} and ${paths.json}`);
    }
  });
}
