/**
 * The booking benchmark: BookAppointment over gRPC (serveGrpc, the scheduling service with the lock
 * service in the same process, as `npm start` mounts them) against real Postgres and Redis, across
 * 2,000 providers, at 16 and 64 concurrent clients; next to the ceiling measured in the same run:
 * pgbench running one INSERT per transaction into the same table with the same exclusion constraint
 * over the same providers. Then ListAvailableSlots for 7 days of a provider with 500 appointments,
 * and finally the overlaps counted by SQL (must be 0).
 *
 * The load generator runs in a worker thread of the server's process (the Connect client over the
 * grpc-js transport, as the gateway calls the services, over loopback), so the server's event loop
 * serves bookings and nothing else, as it would with clients elsewhere; on this 2-core machine the
 * clients still take CPU from the server and Postgres, so the numbers are a floor. Each run books for
 * 2 s before it is measured.
 *
 * `npm run bench -- booking [--seconds=10] [--providers=2000] [--clients=16,64] [--no-write]`
 * (DATABASE_URL and REDIS_URL as for the tests; a scratch database is created and dropped.)
 */
import { execFile } from "node:child_process";
import { Session } from "node:inspector/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import pg from "pg";
import { SchedulingService } from "../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../services/runtime/auth/dev-tokens.js";
import { serveGrpc } from "../services/runtime/server/grpc-server.js";
import { createGrpcJsTransport } from "../services/runtime/clients/grpc-transport.js";
import { describeMachine, machineInfo, markdownTable, writeResults } from "./results.js";
import { BENCH_SECRET, withScratchRuntime } from "./scratch-runtime.js";
import type { BookingJob } from "./booking-worker.js";
import type { LoopResult } from "./closed-loop.js";

const DAY_MS = 86_400_000;
/** BASE is where bookings start: midnight UTC a week from now (no booking may start in the past). */
const BASE = Math.floor(Date.now() / DAY_MS) * DAY_MS + 7 * DAY_MS;
/** Bookings go to the 96 slots of each of 365 days from BASE, per provider: collisions stay rare. */
const SLOTS = 365 * 96;
/** SEARCH_BASE is the week the slot search reads: past the bookings, inside the bench's horizon. */
const SEARCH_BASE = BASE + 400 * DAY_MS;
/** HORIZON lets bookings and the slot search reach that far ahead (SCHEDULING_BOOKING_HORIZON). */
const HORIZON = "500d";

interface Options {
  seconds: number;
  providers: number;
  clients: number[];
  write: boolean;
}

function parse(args: string[]): Options {
  const o: Options = { seconds: 10, providers: 2000, clients: [16, 64], write: true };
  for (const a of args) {
    const [k, v] = a.replace(/^--/, "").split("=");
    if (k === "seconds") o.seconds = Number(v);
    else if (k === "providers") o.providers = Number(v);
    else if (k === "clients") o.clients = v.split(",").map(Number);
    else if (k === "no-write") o.write = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/**
 * startProfile starts a CPU profile of this process when BENCH_CPU_PROFILE_DIR is set (the booking
 * phase only, unlike node --cpu-prof); stop writes `<dir>/<name>.cpuprofile`.
 */
async function startProfile(): Promise<{ stop(name: string): Promise<void> } | undefined> {
  const dir = process.env.BENCH_CPU_PROFILE_DIR;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    stop: async (name) => {
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** WARMUP_MS of booking before each measured run (connections, JIT, each connection's prepared statements). */
const WARMUP_MS = 2_000;

/**
 * runWorker runs one closed loop of clients in a worker thread; onWindow hears when its measured
 * window opens and closes.
 */
function runWorker(job: BookingJob, onWindow: (window: "open" | "closed") => void): Promise<LoopResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./booking-worker.js", import.meta.url), { workerData: job });
    w.on("message", (m: LoopResult | { window: "open" | "closed" }) => ("window" in m ? onWindow(m.window) : resolve(m)));
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code !== 0) reject(new Error(`booking worker exited with ${code}`));
    });
  });
}

/** main runs the benchmark. */
export async function main(args: string[]): Promise<void> {
  const opts = parse(args);
  const info = machineInfo();
  const env = { SCHEDULING_BOOKING_HORIZON: HORIZON, ...(process.env.SCHEDULING_BOOKING_LOCK ? { SCHEDULING_BOOKING_LOCK: process.env.SCHEDULING_BOOKING_LOCK } : {}) };
  await withScratchRuntime(env, async ({ runtime, databaseUrl }) => {
    const database = await runtime.ready;
    const server = await serveGrpc({ port: 0, host: "127.0.0.1", services: runtime.registrations });
    const token = await signToken(BENCH_SECRET, "bench", ["service"]);
    const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${server.port}`], headers: { authorization: `Bearer ${token}` } });
    const client = createClient(SchedulingService, transport);

    // Providers (UTC, open around the clock, 15-minute slots) written straight into the tables.
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const hours = JSON.stringify([1, 2, 3, 4, 5, 6, 7].map((d) => ({ dayOfWeek: d, startMinute: 0, endMinute: 1440 })));
    await db.query(`insert into scheduling.providers (provider_id, display_name, time_zone, specialty, created_at)
      select 'bp-' || g, 'Bench ' || g, 'UTC', '', now() from generate_series(1, $1) g`, [opts.providers]);
    await db.query(`insert into scheduling.availability (provider_id, weekly_hours, breaks, exceptions, slot_minutes, buffer_minutes, updated_at)
      select provider_id, $1::jsonb, '[]', '[]', 15, 0, now() from scheduling.providers`, [hours]);
    console.log(`${opts.providers} providers ready`);

    const rows: { label: string; clients: number; ok: number; taken: number; aborted: number; other: number; perSec: number; p50: number; p99: number; cpuMsPerBooking: number; firstError?: string }[] = [];
    for (const [run, clients] of opts.clients.entries()) {
      const profile = await startProfile();
      let cpu0 = process.cpuUsage();
      let cpu: NodeJS.CpuUsage | undefined;
      const r = await runWorker(
        { address: `127.0.0.1:${server.port}`, token, clients, durationMs: opts.seconds * 1000, warmupMs: WARMUP_MS, providers: opts.providers, base: BASE, slots: SLOTS, requestIdPrefix: `bench-${run}` },
        (window) => {
          if (window === "open") cpu0 = process.cpuUsage();
          else cpu = process.cpuUsage(cpu0);
        },
      );
      cpu ??= process.cpuUsage(cpu0);
      await profile?.stop(`booking-${clients}`);
      const taken = r.outcomes?.taken ?? 0;
      const aborted = r.outcomes?.aborted ?? 0;
      const ok = r.ops - taken - aborted;
      // process.cpuUsage is the whole process: the server's thread, the clients' worker, V8's helpers.
      const cpuMsPerBooking = ok > 0 ? (cpu.user + cpu.system) / 1000 / ok : 0;
      const row = { label: "BookAppointment over gRPC", clients, ok, taken, aborted, other: r.errors, perSec: ok / opts.seconds, p50: r.p50Ms, p99: r.p99Ms, cpuMsPerBooking, firstError: r.firstError };
      rows.push(row);
      console.log(JSON.stringify(row));
    }

    // The ceiling: pgbench, one INSERT per transaction, same table, same constraint, same providers.
    const scriptDir = mkdtempSync(join(os.tmpdir(), "medschedule-pgbench-"));
    const script = join(scriptDir, "insert.sql");
    writeFileSync(
      script,
      `\\set p random(1, ${opts.providers})
\\set s random(0, ${SLOTS - 1})
insert into scheduling.appointments (appointment_id, provider_id, patient_id, during, blocked, status, created_at, updated_at)
values (gen_random_uuid()::text, 'bp-' || :p, 'pgbench',
  tstzrange(timestamptz '2028-01-03 00:00:00+00' + :s * interval '15 minutes', timestamptz '2028-01-03 00:00:00+00' + (:s + 1) * interval '15 minutes', '[)'),
  tstzrange(timestamptz '2028-01-03 00:00:00+00' + :s * interval '15 minutes', timestamptz '2028-01-03 00:00:00+00' + (:s + 1) * interval '15 minutes', '[)'),
  'BOOKED', now(), now())
on conflict do nothing;
`,
    );
    const ceiling: { clients: number; tps: number; p50?: number; p99?: number }[] = [];
    for (const clients of opts.clients) {
      const out = await run("pgbench", ["-n", "-f", script, "-c", String(clients), "-j", "2", "-T", String(opts.seconds), "-r", databaseUrl]);
      const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0);
      const avg = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? 0);
      ceiling.push({ clients, tps, p50: avg });
      console.log(JSON.stringify({ label: "pgbench INSERT", clients, tps, latencyAvgMs: avg }));
    }
    rmSync(scriptDir, { recursive: true, force: true });

    // Slot search: a provider with 500 appointments in the 7 days searched.
    await db.query(`insert into scheduling.appointments (appointment_id, provider_id, patient_id, during, blocked, status, created_at, updated_at)
      select 'busy-' || g, 'bp-1', 'p', tstzrange(t, t + interval '15 minutes', '[)'), tstzrange(t, t + interval '15 minutes', '[)'), 'BOOKED', now(), now()
      from (select g, $1::timestamptz + (g * 1.3)::int * interval '15 minutes' as t from generate_series(0, 499) g) x
      on conflict do nothing`, [new Date(SEARCH_BASE)]);
    // Statistics as autovacuum would have them after the bulk writes above (the bookings, pgbench).
    await db.query("analyze scheduling.appointments");
    const search: number[] = [];
    // 20 warm-up searches, then 500 measured: a p99 of 50 samples is just their maximum.
    for (let i = 0; i < 520; i++) {
      const t0 = performance.now();
      const res = await client.listAvailableSlots({
        providerId: "bp-1",
        startTime: timestampFromDate(new Date(SEARCH_BASE)),
        endTime: timestampFromDate(new Date(SEARCH_BASE + 7 * DAY_MS)),
      });
      if (i >= 20) search.push(performance.now() - t0);
      if (i === 0) console.log(`slot search: ${res.slots.length} free slots of ${7 * 96}`);
    }
    search.sort((a, b) => a - b);
    const overlaps = Number(
      (
        await db.query(`select count(*) as n from scheduling.appointments a join scheduling.appointments b
          on a.provider_id = b.provider_id and a.appointment_id < b.appointment_id and a.blocked && b.blocked
          where a.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN') and b.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN')`)
      ).rows[0].n,
    );
    await db.end();
    transport.close();
    await server.close(200);
    await runtime.close();

    const table = markdownTable(
      ["what", ">clients", ">bookings/s", ">% of ceiling", ">p50 ms", ">p99 ms", ">CPU ms/booking", ">taken", ">aborted", ">other"],
      rows.map((r) => {
        const c = ceiling.find((x) => x.clients === r.clients);
        return [r.label, String(r.clients), r.perSec.toFixed(0), c && c.tps > 0 ? ((100 * r.perSec) / c.tps).toFixed(0) : "-", r.p50.toFixed(1), r.p99.toFixed(1), r.cpuMsPerBooking.toFixed(2), String(r.taken), String(r.aborted), String(r.other)];
      }),
    );
    const ceilingTable = markdownTable([">clients", ">pgbench INSERT tps", ">avg latency ms"], ceiling.map((c) => [String(c.clients), c.tps.toFixed(0), (c.p50 ?? 0).toFixed(2)]));
    const md = [
      "# Booking benchmark",
      "",
      describeMachine(info),
      "",
      `${opts.providers} providers, ${opts.seconds} s per run after ${WARMUP_MS / 1000} s of warm-up, Redis lock backend, clients in a worker thread of the server's process (CPU per booking is the whole process's: server, clients, V8's helper threads).`,
      "",
      table,
      "",
      "Ceiling (same table, same exclusion constraint, same providers):",
      "",
      ceilingTable,
      "",
      `ListAvailableSlots, 7 days, provider with 500 appointments: p50 ${percentile(search, 50).toFixed(1)} ms, p99 ${percentile(search, 99).toFixed(1)} ms (target < 20 ms).`,
      "",
      `Overlapping active appointments afterwards (SQL): ${overlaps}.`,
    ].join("\n");
    console.log(`\n${md}`);
    if (opts.write) {
      const paths = writeResults("booking", { machine: info, options: opts, booking: rows, ceiling, slotSearchMs: { p50: percentile(search, 50), p99: percentile(search, 99) }, overlaps }, md);
      console.log(`\nwrote ${paths.json} and ${paths.md}`);
    }
    if (overlaps !== 0) process.exitCode = 1;
  });
}
