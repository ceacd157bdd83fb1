/**
 * The lock benchmark: acquire+release pairs per second and p50/p99 latency at 1, 16 and 64
 * concurrent clients (each client on its own resource), for
 *   - the in-process library (LockManager over Redis, issuing fencing tokens),
 *   - the gRPC API (LockService on serveGrpc with the runtime's interceptors, JWT auth included),
 *   - in the same run: `redlock` on the same Redis, `redis-benchmark` running our acquire and
 *     release Lua scripts (the ceiling), and a no-op LockService pair through the same server stack.
 * gRPC clients run in a worker thread (their own event loop); the in-process paths in the main one.
 * Paths are interleaved per concurrency level, so background load spreads over all of them.
 *
 * `npm run bench -- lock [--duration=3000] [--warmup=500] [--concurrency=1,16,64] [--no-write]`
 */
import { spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Redis } from "ioredis";
import Redlock from "redlock";
import { LeaseSchema, LockBackend } from "../gen/medschedule/lock/v1/lock_pb.js";
import { LockService } from "../gen/medschedule/lock/v1/lock_service_pb.js";
import { lockModule } from "../services/lock/lock.module.js";
import { createLockManager } from "../services/lock/lock-service.js";
import { ACQUIRE_LUA, RELEASE_LUA, RedisLockBackend } from "../services/lock/redis-lock.backend.js";
import { signToken } from "../services/runtime/auth/dev-tokens.js";
import { createDatabase, migrateToLatest } from "../services/runtime/db/index.js";
import { serveGrpc } from "../services/runtime/server/grpc-server.js";
import { buildRegistrations, createRuntime } from "../services/runtime/host.js";
import { redisOptions } from "../services/runtime/clients/redis.js";
import { createTestDatabase } from "../test/helpers/postgres.js";
import { startRedis } from "../test/helpers/redis.js";
import { closedLoop, type LoopResult } from "./closed-loop.js";
import type { LockGrpcJob } from "./lock-grpc-worker.js";
import { describeMachine, fmt, markdownTable, writeResults } from "./results.js";
import { withBenchHost } from "./teardown.js";

const SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789";

interface Options {
  durationMs: number;
  warmupMs: number;
  concurrency: number[];
  /** rounds is how many alternating paired runs measure each target ratio at the top concurrency. */
  rounds: number;
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { durationMs: 3_000, warmupMs: 500, concurrency: [1, 16, 64], rounds: 3, write: true };
  for (const a of args) {
    const [k, v] = a.replace(/^--/, "").split("=");
    if (k === "duration") o.durationMs = Number(v);
    else if (k === "warmup") o.warmupMs = Number(v);
    else if (k === "concurrency") o.concurrency = v.split(",").map(Number);
    else if (k === "rounds") o.rounds = Number(v);
    else if (k === "no-write") o.write = false;
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`--rounds needs a positive integer, got ${o.rounds}`);
  return o;
}

/** LockRow is one path at one concurrency. */
interface LockRow extends LoopResult {
  path: string;
}

/** PairedRatio is a target ratio measured in alternating rounds, so that drift in the machine's load hits both sides. */
interface PairedRatio {
  of: string;
  to: string;
  concurrency: number;
  /** ratios holds each round's of/to pairs-per-second ratio. */
  ratios: number[];
  median: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const PATHS = {
  library: "in-process library (LockManager, Redis, fencing tokens)",
  grpc: "gRPC API (serveGrpc + interceptors + JWT, grpc-js client)",
  noop: "no-op LockService pair, same server stack",
  redlock: "redlock 5 on the same Redis (no fencing tokens)",
  ceiling: "redis-benchmark: our acquire + release Lua (ceiling)",
} as const;
type PathId = keyof typeof PATHS;

function runWorker(job: LockGrpcJob): Promise<LoopResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./lock-grpc-worker.js", import.meta.url), { workerData: job });
    w.once("message", (m: LoopResult) => resolve(m));
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code !== 0) reject(new Error(`grpc worker exited with ${code}`));
    });
  });
}

/** redis-benchmark requests/s for one EVALSHA command line. */
function redisBenchmark(port: number, concurrency: number, requests: number, command: string[]): number {
  const r = spawnSync("redis-benchmark", ["-h", "127.0.0.1", "-p", String(port), "-c", String(concurrency), "-n", String(requests), "-r", "100000", "-q", ...command], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr || r.stdout}`);
  const m = /([\d.]+) requests per second/.exec(r.stdout);
  if (!m) throw new Error(`cannot parse redis-benchmark output: ${r.stdout}`);
  return Number(m[1]);
}


export async function main(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const top = Math.max(...o.concurrency);
  const rows: LockRow[] = [];
  const paired: PairedRatio[] = [];
  const machine = await withBenchHost(async (host, machine) => {
    const databaseUrl = await createTestDatabase(host);
    const server = await startRedis(host);
    const dataDir = await host.tempDir("bench-lock-");

    // The gRPC server: the lock module in a runtime, as `node dist/services/lock/main.js` runs it.
    const runtime = await createRuntime({
      name: "bench-lock",
      modules: [lockModule],
      defaultPort: 0,
      env: { DATABASE_URL: databaseUrl, REDIS_URL: server.url, AUTH_HS256_SECRET: SECRET, LOG_LEVEL: "silent", METRICS_PORT: "0", DATA_DIR: dataDir },
    });
    host.teardown(() => runtime.close());
    await runtime.ready;
    const grpcServer = await serveGrpc({ port: 0, host: "127.0.0.1", services: runtime.registrations });
    host.teardown(() => grpcServer.close(500));
    // The no-op pair: a LockService answering constants, behind the same interceptors.
    const now = timestampFromDate(new Date());
    const noopLease = create(LeaseSchema, { resource: "noop", leaseId: "noop", owner: "bench", fencingToken: 1n, expiresAt: now, acquiredAt: now, backend: LockBackend.REDIS });
    const noopImpl = { acquire: async () => ({ lease: noopLease }), release: async () => ({ released: true }) };
    const noopServer = await serveGrpc({ port: 0, host: "127.0.0.1", services: buildRegistrations([{ service: LockService, impl: noopImpl }], runtime.interceptors, runtime.health) });
    host.teardown(() => noopServer.close(500));
    const token = await signToken(SECRET, "bench", ["service"]);

    // The in-process library: its own pool and Redis client, as a service embedding it would have.
    const database = await createDatabase({ databaseUrl, dataDir });
    host.teardown(() => database.close());
    await migrateToLatest(database.db, { schema: lockModule.schema, migrationsFolder: lockModule.migrationsFolder });
    const libRedis = new Redis(server.url, redisOptions());
    libRedis.on("error", () => undefined);
    host.teardown(() => libRedis.disconnect());
    const manager = createLockManager({ db: database.db, redis: libRedis });
    host.teardown(() => manager.close());
    await manager.start();
    if (manager.backend !== "redis") throw new Error("the library did not reach Redis");

    const redlockRedis = new Redis(server.url);
    host.teardown(() => redlockRedis.disconnect());
    const redlock = new Redlock([redlockRedis], { retryCount: 0 });

    // The ceiling: our scripts, loaded, with a valid epoch record so the acquire path runs in full.
    const admin = new Redis(server.url);
    host.teardown(() => admin.disconnect());
    const acquireSha = (await admin.script("LOAD", ACQUIRE_LUA)) as string;
    const releaseSha = (await admin.script("LOAD", RELEASE_LUA)) as string;
    const ceilingEpoch = 4_000_000_000;
    await new RedisLockBackend(admin).recordEpoch(ceilingEpoch);

    const measure: Record<PathId, (c: number, run: number) => Promise<LoopResult>> = {
      library: (c, run) =>
        closedLoop(c, o.durationMs, o.warmupMs, async (i) => {
          const lease = await manager.acquire({ resource: `bench:lib:${run}:${i}`, owner: "bench", ttlMs: 5_000, waitTimeoutMs: 0 });
          await manager.release(lease.resource, lease.leaseId);
        }),
      grpc: (c, run) => runWorker({ address: `127.0.0.1:${grpcServer.port}`, token, concurrency: c, durationMs: o.durationMs, warmupMs: o.warmupMs, resourcePrefix: `bench:grpc:${run}` }),
      noop: (c, run) => runWorker({ address: `127.0.0.1:${noopServer.port}`, token, concurrency: c, durationMs: o.durationMs, warmupMs: o.warmupMs, resourcePrefix: `bench:noop:${run}` }),
      redlock: (c, run) =>
        closedLoop(c, o.durationMs, o.warmupMs, async (i) => {
          const lock = await redlock.acquire([`bench:redlock:${run}:${i}`], 5_000);
          await lock.release();
        }),
      ceiling: async (c) => {
        // Two redis-benchmark runs (acquire, then release on the same random keys) combined into a pair rate.
        const n = Math.max(20_000, Math.round(((o.durationMs / 1000) * 40_000 * Math.min(c, 16)) / 16));
        const acq = redisBenchmark(server.port, c, n, ["EVALSHA", acquireSha, "4", "mslock:lease:rb:__rand_int__", "mslock:fence:rb:__rand_int__", "mslock:meta", "mslock:wait:rb:__rand_int__", "lease-__rand_int__", "bench", "50", String(ceilingEpoch), "0", "1700000000000"]);
        const rel = redisBenchmark(server.port, c, n, ["EVALSHA", releaseSha, "2", "mslock:lease:rb:__rand_int__", "mslock:wait:rb:__rand_int__", "lease-__rand_int__", "rb:__rand_int__", "mslock:released"]);
        const pairs = 1 / (1 / acq + 1 / rel);
        return { concurrency: c, ops: n, errors: 0, opsPerSec: pairs, p50Ms: Number.NaN, p95Ms: Number.NaN, p99Ms: Number.NaN };
      },
    };
    let run = 0;
    for (const c of o.concurrency) {
      for (const id of Object.keys(PATHS) as PathId[]) {
        const r = await measure[id](c, run++);
        rows.push({ path: id, ...r });
        console.log(`${id.padEnd(8)} c=${String(c).padStart(2)}: ${fmt(r.opsPerSec)} pairs/s, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms${r.errors ? `, ${r.errors} errors (${r.firstError})` : ""}`);
      }
    }
    // The two ratio targets, each side measured right after the other, in alternating order, so a
    // change in the machine's load between runs does not decide the verdict.
    for (const [of, to] of [["library", "redlock"], ["grpc", "noop"]] as const) {
      const ratios: number[] = [];
      for (let round = 0; round < o.rounds; round++) {
        const order = round % 2 ? [to, of] : [of, to];
        const [first, second] = [await measure[order[0]](top, run++), await measure[order[1]](top, run++)];
        const [a, b] = round % 2 ? [second, first] : [first, second];
        ratios.push(a.opsPerSec / b.opsPerSec);
      }
      paired.push({ of, to, concurrency: top, ratios, median: median(ratios) });
      console.log(`${of} / ${to} at ${top} clients, ${o.rounds} alternating rounds: ${ratios.map((r) => fmt(r, 2)).join(", ")}`);
    }
    return machine;
  });

  const at = (p: PathId, c: number) => rows.find((r) => r.path === p && r.concurrency === c);
  const verdicts: string[] = [];
  const pairedOf = (of: string) => paired.find((p) => p.of === of)!;
  const spread = (p: PairedRatio, scale: number, digits: number) => `${p.ratios.length} alternating rounds ${p.ratios.map((r) => fmt(r * scale, digits)).join(" / ")}`;
  const libVsRedlock = pairedOf("library");
  verdicts.push(
    `in-process library vs redlock at ${top} clients: ${fmt(libVsRedlock.median, 2)}x, median of ${spread(libVsRedlock, 1, 2)} (target ≥ 1.30x): ${libVsRedlock.median >= 1.3 ? "MET" : "NOT MET"}`,
  );
  const grpcVsNoop = pairedOf("grpc");
  verdicts.push(
    `gRPC pairs vs no-op pairs at ${top} clients: ${fmt(grpcVsNoop.median * 100, 1)}%, median of ${spread(grpcVsNoop, 100, 1)} (target ≥ 70%): ${grpcVsNoop.median >= 0.7 ? "MET" : "NOT MET"}`,
  );
  for (const p of ["library", "grpc"] as const) {
    const r = at(p, 16);
    if (r) verdicts.push(`${p} p99 at 16 clients: ${fmt(r.p99Ms, 2)} ms (target < 5 ms): ${r.p99Ms < 5 ? "MET" : "NOT MET"}`);
  }
  const errors = rows.reduce((n, r) => n + r.errors, 0);
  if (errors > 0) verdicts.push(`${errors} operations failed; see the JSON`);
  console.log(["", ...verdicts].join("\n"));
  if (!o.write) return;
  const table = markdownTable(
    ["path", ">clients", ">pairs/s", ">p50 ms", ">p99 ms", ">errors"],
    rows.map((r) => [PATHS[r.path as PathId], String(r.concurrency), fmt(r.opsPerSec), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), String(r.errors)]),
  );
  const md = [
    "# Lock benchmark",
    "",
    `\`npm run bench -- lock\`, ${machine.date}. Machine: ${describeMachine(machine)}.`,
    "",
    `Each client acquires and releases its own resource back to back for ${o.durationMs} ms after a ${o.warmupMs} ms warm-up.`,
    "The ceiling row is the harmonic combination of two redis-benchmark runs (acquire script, release script) on random keys.",
    `The two ratio targets are then measured again in ${o.rounds} rounds at ${top} clients, each round running both sides back to back in alternating order; the verdict takes the median round, so a change in the machine's load between two runs does not decide it.`,
    "",
    table,
    "",
    ...verdicts.map((v) => `* ${v}`),
  ].join("\n");
  const paths = writeResults("lock", { machine, options: o, rows, paired, verdicts }, md);
  console.log(`results: ${paths.md}`);
}
