// A fault run: the system as separate processes (system-cluster.ts) over a fresh Postgres database
// and a private Redis behind a TCP proxy, the seeded clinic workload (workload.ts) running through
// the gateway, and faults injected one after another, each bounded in time; then the checker
// (checker.ts). Used by test/system/fault-run.test.ts (short) and `npm run soak` (long).
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { codeName } from "../../services/runtime/observability/metrics.js";
import { createTestDatabase, type TeardownHost } from "../helpers/postgres.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { TEST_SECRET } from "../helpers/system.js";
import { checkRun, type CheckReport, type FaultWindow } from "./checker.js";
import { startSystemCluster, type MemberName, type SystemCluster } from "./system-cluster.js";
import { createTcpProxy, type TcpProxy } from "./tcp-proxy.js";
import { isAnswered, startWorkload, type RequestLog, type Workload, type WorkloadOptions } from "./workload.js";

/** FaultName names the faults a run can inject. */
export type FaultName = "redis-kill" | "redis-slow-unreachable" | "replica-sigterm" | "postgres-terminate" | "lock-holder-pause";

/** ALL_FAULTS in the order a run injects them. */
export const ALL_FAULTS: readonly FaultName[] = ["redis-kill", "postgres-terminate", "replica-sigterm", "redis-slow-unreachable", "lock-holder-pause"];

/** SCHEDULING_LOCK_TTL_MS is the scheduling service's provider lock lease (DEFAULT_SCHEDULING_OPTIONS.lockTtlMs): a pause must outlast it. */
export const SCHEDULING_LOCK_TTL_MS = 10_000;

/** FaultRunOptions configure a run. */
export interface FaultRunOptions {
  /** host receives the teardowns (a tap test, or the soak script's own list). */
  host: TeardownHost;
  /** seed of the workload. */
  seed: number;
  /** durationMs is the whole run's length from the first workload request (faults cycle until it is over). */
  durationMs: number;
  /** faults to inject, in order (default ALL_FAULTS); a long run repeats them. */
  faults?: readonly FaultName[];
  /** warmupMs before the first fault (default 8 s). */
  warmupMs?: number;
  /** gapMs between a fault's recovery and the next fault (default 5 s). */
  gapMs?: number;
  /** tailMs of quiet at the end, at least (default 10 s). */
  tailMs?: number;
  /** repeat: cycle the faults until durationMs is over (default false: each once). */
  repeat?: boolean;
  /** workload overrides. */
  workload?: Partial<Omit<WorkloadOptions, "gatewayAddress" | "secret" | "seed">>;
  /** progress receives one line per step. */
  progress?: (line: string) => void;
}

/** FaultRunResult is what a run produced. */
export interface FaultRunResult {
  report: CheckReport;
  windows: FaultWindow[];
  log: RequestLog;
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface FaultContext {
  cluster: SystemCluster;
  redis: TestRedis;
  proxy: TcpProxy;
  databaseUrl: string;
  workload: Workload;
  /** round counts how many times this fault ran (alternates replicas, names lock resources). */
  round: number;
}

type Injector = (ctx: FaultContext, w: FaultWindow) => Promise<void>;

const INJECTORS: Record<FaultName, Injector> = {
  // Redis dies (SIGKILL) and comes back empty: no keys, no counters (the run's Redis has no AOF).
  "redis-kill": async ({ redis }, w) => {
    await redis.kill("SIGKILL");
    await sleep(3_000);
    await redis.restart();
    w.notes.push("redis SIGKILLed, down 3 s, restarted empty");
  },

  // Redis slow (every chunk delayed past the client's command timeout), then unreachable (connections cut and refused).
  "redis-slow-unreachable": async ({ proxy }, w) => {
    proxy.setMode({ kind: "slow", delayMs: 700 });
    await sleep(4_000);
    proxy.setMode({ kind: "down" });
    await sleep(4_000);
    proxy.setMode({ kind: "pass" });
    w.notes.push("redis slow (+700 ms per chunk) 4 s, then unreachable 4 s");
  },

  // A replica of scheduling and one of queue SIGTERMed together (they must drain and exit 0), then started again.
  "replica-sigterm": async ({ cluster, round }, w) => {
    const names: MemberName[] = round % 2 === 0 ? ["scheduling-1", "queue-1"] : ["scheduling-2", "queue-2"];
    await Promise.all(
      names.map(async (name) => {
        const m = cluster.members[name];
        const started = Date.now();
        const code = await m.stop(20_000);
        w.notes.push(`${name} exited ${code} after SIGTERM in ${Date.now() - started} ms`);
        if (code !== 0) w.violations.push(`${name} did not exit 0 after SIGTERM (exit ${code}); log:\n${m.log()}`);
      }),
    );
    await sleep(1_000);
    await Promise.all(names.map((name) => cluster.members[name].start()));
  },

  // Every connection of the services to their database terminated by the server, repeatedly, for 4 s.
  "postgres-terminate": async ({ databaseUrl }, w) => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    let terminated = 0;
    try {
      const until = Date.now() + 4_000;
      while (Date.now() < until) {
        const r = await admin.query("select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
        terminated += r.rows[0].n as number;
        await sleep(250);
      }
    } finally {
      await admin.end();
    }
    w.notes.push(`${terminated} backends terminated over 4 s`);
    if (terminated === 0) w.violations.push("no backend was terminated: the fault did not happen");
  },

  // A lock holder paused past its TTL: a scheduling replica SIGSTOPped past the provider lock's lease
  // (its in-flight bookings hold leases that expire meanwhile), and a lease taken through the gateway
  // whose holder "sleeps" past its TTL, after which the next holder must get a larger token and the
  // stale holder can neither extend nor release.
  "lock-holder-pause": async ({ cluster, workload, round }, w) => {
    const name: MemberName = round % 2 === 0 ? "scheduling-2" : "scheduling-1";
    const paused = (async () => {
      cluster.members[name].signal("SIGSTOP");
      await sleep(SCHEDULING_LOCK_TTL_MS + 3_000);
      cluster.members[name].signal("SIGCONT");
      w.notes.push(`${name} SIGSTOPped ${SCHEDULING_LOCK_TTL_MS + 3_000} ms`);
    })();
    const resource = `system-test:paused-holder:${round}`;
    const { lock, adminHeaders, log } = workload;
    const call = async <T>(rpc: string, fields: Record<string, string>, fn: () => Promise<T>, fill: (r: T) => Record<string, string | undefined>) => {
      const start = Date.now();
      try {
        const res = await fn();
        log.add({ actor: "fault", rpc, attempt: 1, start, end: Date.now(), code: "OK", message: "", resource, ...fields, ...fill(res) });
        return { res, code: "OK" };
      } catch (err) {
        const ce = ConnectError.from(err);
        log.add({ actor: "fault", rpc, attempt: 1, start, end: Date.now(), code: codeName(ce.code), message: ce.rawMessage, resource, ...fields });
        return { code: codeName(ce.code) };
      }
    };
    const o = { headers: adminHeaders, timeoutMs: 10_000 };
    const a = await call("LockService/Acquire", {}, () => lock.acquire({ resource, owner: "holder-a", ttl: durationFromMs(2_000), waitTimeout: durationFromMs(5_000) }, o), (r) => ({ leaseId: r.lease?.leaseId, fencingToken: r.lease?.fencingToken.toString() }));
    if (!a.res?.lease) {
      w.violations.push(`the first holder could not acquire ${resource}: ${a.code}`);
    } else {
      await sleep(3_500); // the holder is "paused" past its 2 s TTL
      const b = await call("LockService/Acquire", {}, () => lock.acquire({ resource, owner: "holder-b", ttl: durationFromMs(5_000), waitTimeout: durationFromMs(5_000) }, o), (r) => ({ leaseId: r.lease?.leaseId, fencingToken: r.lease?.fencingToken.toString() }));
      const ext = await call("LockService/Extend", { leaseId: a.res.lease.leaseId }, () => lock.extend({ resource, leaseId: a.res!.lease!.leaseId, ttl: durationFromMs(2_000) }, o), (r) => ({ fencingToken: r.lease?.fencingToken.toString() }));
      const rel = await call("LockService/Release", { leaseId: a.res.lease.leaseId }, () => lock.release({ resource, leaseId: a.res!.lease!.leaseId }, o), () => ({}));
      if (!b.res?.lease) w.violations.push(`the next holder could not acquire ${resource} after the TTL: ${b.code}`);
      else {
        if (b.res.lease.fencingToken <= a.res.lease.fencingToken) w.violations.push(`the next holder's token ${b.res.lease.fencingToken} is not above the paused holder's ${a.res.lease.fencingToken}`);
        w.notes.push(`paused holder token ${a.res.lease.fencingToken}, next holder ${b.res.lease.fencingToken}`);
        await call("LockService/Release", { leaseId: b.res.lease.leaseId }, () => lock.release({ resource, leaseId: b.res!.lease!.leaseId }, o), () => ({}));
      }
      if (ext.code !== "FAILED_PRECONDITION") w.violations.push(`the paused holder's Extend answered ${ext.code}, not FAILED_PRECONDITION`);
      if (rel.code !== "OK" || rel.res?.released !== false) w.violations.push(`the paused holder's Release answered ${rel.code} released=${String(rel.res?.released)}, not OK released=false`);
    }
    await paused;
  },
};

/**
 * awaitRecovery probes (a booking, a ticket, a call at a counter) every 300 ms from the fault's end
 * until each kind got an answer; resolves with the ms from `since` to the last kind's first answer,
 * or undefined after `giveUpMs`.
 */
async function awaitRecovery(workload: Workload, since: number, giveUpMs = 60_000): Promise<number | undefined> {
  const answered: Partial<Record<"book" | "issueTicket" | "callNext", number>> = {};
  const inflight = new Set<Promise<void>>();
  const done = () => answered.book !== undefined && answered.issueTicket !== undefined && answered.callNext !== undefined;
  while (!done() && Date.now() - since < giveUpMs) {
    const p = workload.probe().then((codes) => {
      const at = Date.now();
      for (const k of ["book", "issueTicket", "callNext"] as const) if (answered[k] === undefined && isAnswered(codes[k])) answered[k] = at;
    });
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
    await Promise.race([sleep(300), p]);
    if (inflight.size >= 6) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (!done()) return undefined;
  return Math.max(answered.book!, answered.issueTicket!, answered.callNext!) - since;
}

/** runFaultRun runs the system, the workload and the faults, and checks the outcome. */
export async function runFaultRun(opts: FaultRunOptions): Promise<FaultRunResult> {
  const say = opts.progress ?? (() => {});
  const faults = opts.faults ?? ALL_FAULTS;
  const warmupMs = opts.warmupMs ?? 8_000;
  const gapMs = opts.gapMs ?? 5_000;
  const tailMs = opts.tailMs ?? 10_000;
  const databaseUrl = await createTestDatabase(opts.host);
  const redis = await startRedis(opts.host, { appendonly: false });
  const proxy = await createTcpProxy({ port: redis.port });
  opts.host.teardown(() => proxy.close());
  say(`redis on ${redis.port} behind proxy ${proxy.port}; starting the cluster`);
  const bootStarted = Date.now();
  const cluster = await startSystemCluster({ databaseUrl, redisUrl: `redis://127.0.0.1:${proxy.port}`, secret: TEST_SECRET });
  opts.host.teardown(() => cluster.close());
  say(`cluster serving in ${Date.now() - bootStarted} ms (gateway ${cluster.gatewayAddress}); starting the workload (seed ${opts.seed})`);
  const workload = await startWorkload({ gatewayAddress: cluster.gatewayAddress, secret: TEST_SECRET, seed: opts.seed, ...opts.workload });
  opts.host.teardown(() => workload.close());
  const started = Date.now();
  const windows: FaultWindow[] = [];
  const rounds = new Map<FaultName, number>();
  try {
    await sleep(warmupMs);
    let i = 0;
    for (;;) {
      const name = faults[i % faults.length];
      if (i >= faults.length && !opts.repeat) break;
      // A long run stops injecting when the next fault (about 30 s with its recovery) would eat the tail.
      if (opts.repeat && i >= faults.length && Date.now() - started > opts.durationMs - tailMs - 30_000) break;
      i++;
      const round = rounds.get(name) ?? 0;
      rounds.set(name, round + 1);
      const w: FaultWindow = { name: round > 0 ? `${name}#${round + 1}` : name, start: Date.now(), end: 0, notes: [], violations: [] };
      say(`fault ${w.name}: start`);
      try {
        await INJECTORS[name]({ cluster, redis, proxy, databaseUrl, workload, round }, w);
      } catch (err) {
        w.violations.push(`the fault could not be injected or lifted: ${(err as Error).stack ?? err}`);
      }
      w.end = Date.now();
      w.recoveryMs = await awaitRecovery(workload, w.end);
      windows.push(w);
      say(`fault ${w.name}: lasted ${w.end - w.start} ms, serving again after ${w.recoveryMs ?? "never"} ms${w.violations.length ? `; ${w.violations.length} violation(s)` : ""}`);
      await sleep(gapMs);
    }
    const left = opts.durationMs - (Date.now() - started);
    await sleep(Math.max(tailMs, left));
  } finally {
    say("stopping the workload");
    await workload.stop();
  }
  const elapsedMs = Date.now() - started;
  say(`checking ${workload.log.records.length} requests`);
  const report = await checkRun(databaseUrl, workload.log, windows);
  return { report, windows, log: workload.log, elapsedMs };
}
