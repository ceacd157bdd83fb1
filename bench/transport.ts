/**
 * The transport benchmark: one no-op unary RPC (grpc.health.v1.Health/Check) served by bare grpc-js,
 * by our serveGrpc() (with and without the runtime's interceptors) and by serveConnect() (gRPC and
 * Connect protocols, h2c and HTTP/1.1), driven by h2load. Every server runs in its own child process
 * (bench/transport-server.ts); h2load is its own process too. Runs are interleaved round-robin across
 * the targets so background load on a shared machine spreads evenly over them.
 *
 * Besides req/s, each run records the server process's CPU time per request, which a busy machine
 * disturbs far less than throughput, and how much CPU other processes took meanwhile. Before each
 * run the benchmark waits (up to --wait-idle seconds) for the machine to be at least --min-idle idle.
 *
 * `npm run bench -- transport [--requests=60000] [--warmup=20000] [--runs=3] [--clients=16]
 *   [--streams=32] [--targets=id,id] [--wait-idle=15] [--min-idle=0.9] [--cpu-prof=DIR] [--no-write]`
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../gen/health/v1/health_pb.js";
import { cpuCount, cpuSnapshot, waitForIdle } from "./cpu.js";
import { ensureH2load, runH2load, type H2loadResult } from "./h2load.js";
import { loadHealthProto } from "./health-proto.js";
import { describeMachine, fmt, machineInfo, markdownTable, median, writeResults, type MachineInfo } from "./results.js";
import type { RunnerMessage, ServerKind, ServerMessage } from "./transport-server.js";

/** TransportTarget is one row of the benchmark: a server kind and how h2load talks to it. */
export interface TransportTarget {
  /** id names the target on the command line (--targets) and in the JSON. */
  id: string;
  /** label is the row name in the table. */
  label: string;
  /** server is the kind of server child to start. */
  server: ServerKind;
  /** protocol is the RPC protocol h2load speaks (gRPC with length prefix, or Connect unary). */
  protocol: "grpc" | "connect";
  /** h1 makes h2load speak HTTP/1.1 (--h1) instead of h2c. */
  h1?: boolean;
  /** streams overrides --streams (for HTTP/1.1, -m above 1 would mean pipelining). */
  streams?: number;
  /** clients overrides --clients. */
  clients?: number;
}

/** transportTargets are the rows, in table order; the first is the baseline. */
export const transportTargets: TransportTarget[] = [
  { id: "grpc-js", label: "bare grpc-js (proto-loader)", server: "grpc-js", protocol: "grpc" },
  { id: "serveGrpc", label: "serveGrpc()", server: "serveGrpc", protocol: "grpc" },
  { id: "serveGrpc+interceptors", label: "serveGrpc() + interceptors (metrics)", server: "serveGrpc+interceptors", protocol: "grpc" },
  { id: "serveConnect-grpc", label: "serveConnect(), gRPC (h2c)", server: "serveConnect", protocol: "grpc" },
  { id: "serveConnect-connect-h2c", label: "serveConnect(), Connect proto (h2c)", server: "serveConnect", protocol: "connect" },
  // HTTP/1.1 without pipelining (as browsers do): 64 connections, one request in flight on each.
  { id: "serveConnect-connect-h1", label: "serveConnect(), Connect proto (HTTP/1.1)", server: "serveConnect", protocol: "connect", h1: true, streams: 1, clients: 64 },
];

/** PATH is the procedure every target serves. */
const PATH = "/grpc.health.v1.Health/Check";
/** SERVICE is what the request asks about; every server registers it as SERVING. */
const SERVICE = "grpc.health.v1.Health";

interface Options {
  requests: number;
  warmup: number;
  runs: number;
  clients: number;
  streams: number;
  targets: TransportTarget[];
  waitIdleSec: number;
  minIdle: number;
  cpuProf?: string;
  write: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { requests: 60_000, warmup: 20_000, runs: 3, clients: 16, streams: 32, targets: transportTargets, waitIdleSec: 15, minIdle: 0.9, write: true };
  for (const arg of args) {
    const [key, value = ""] = arg.replace(/^--/, "").split("=", 2);
    const num = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--${key} needs a positive integer, got "${value}"`);
      return n;
    };
    switch (key) {
      case "requests": o.requests = num(); break;
      case "warmup": o.warmup = num(); break;
      case "runs": o.runs = num(); break;
      case "clients": o.clients = num(); break;
      case "streams": o.streams = num(); break;
      case "wait-idle": o.waitIdleSec = value === "0" ? 0 : num(); break;
      case "min-idle": {
        o.minIdle = Number(value);
        if (!(o.minIdle >= 0 && o.minIdle <= 1)) throw new Error(`--min-idle needs a fraction 0..1, got "${value}"`);
        break;
      }
      case "cpu-prof": o.cpuProf = resolve(value || "bench/results/profiles"); break;
      case "no-write": o.write = false; break;
      case "targets": {
        const ids = value.split(",").filter(Boolean);
        const unknown = ids.filter((id) => !transportTargets.some((t) => t.id === id));
        if (unknown.length) throw new Error(`unknown target(s) ${unknown.join(", ")}; known: ${transportTargets.map((t) => t.id).join(", ")}`);
        o.targets = transportTargets.filter((t) => ids.includes(t.id));
        break;
      }
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return o;
}

/** A running server child with its IPC helpers. */
interface ServerChild {
  child: ChildProcess;
  port: number;
  count(): Promise<{ ok: number; failed: number; cpuMs: number }>;
  stop(): Promise<void>;
}

function nextMessage<T extends ServerMessage["type"]>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ServerMessage, { type: T }>> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => done(new Error(`server child sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: ServerMessage) => {
      if (m.type === type) done(undefined, m as Extract<ServerMessage, { type: T }>);
    };
    const onExit = (code: number | null) => done(new Error(`server child exited (${code}) before sending "${type}"`));
    function done(err?: Error, m?: Extract<ServerMessage, { type: T }>) {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolvePromise(m!);
    }
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

async function startServer(target: TransportTarget, cpuProf: string | undefined): Promise<ServerChild> {
  const script = fileURLToPath(new URL("./transport-server.js", import.meta.url));
  const execArgv = cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${target.id}.cpuprofile`] : [];
  const child = fork(script, [target.server], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ready = await nextMessage(child, "ready", 30_000);
  const send = (m: RunnerMessage) => child.send(m);
  return {
    child,
    port: ready.port,
    async count() {
      const reply = nextMessage(child, "count", 10_000);
      send({ type: "count" });
      const m = await reply;
      return { ok: m.ok, failed: m.failed, cpuMs: m.cpuMs };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      send({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function requestHeaders(t: TransportTarget): Record<string, string> {
  return t.protocol === "grpc"
    ? { "content-type": "application/grpc", te: "trailers" }
    : { "content-type": "application/proto", "connect-protocol-version": "1" };
}

/** requestBodies builds the request message with protobuf-es: plain for Connect, length-prefixed for gRPC. */
function requestBodies(): { connect: Buffer; grpc: Buffer } {
  const message = Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: SERVICE })));
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(0, 0); // not compressed
  prefix.writeUInt32BE(message.length, 1);
  return { connect: message, grpc: Buffer.concat([prefix, message]) };
}

/** rawCheck sends exactly the bytes and headers h2load will send and checks the answer byte by byte. */
async function rawCheck(t: TransportTarget, port: number, body: Buffer): Promise<string> {
  const headers = requestHeaders(t);
  const res = await new Promise<{ status: number; headers: Record<string, unknown>; trailers: Record<string, unknown>; body: Buffer }>(
    (resolvePromise, reject) => {
      if (t.h1) {
        const req = http.request(
          { host: "127.0.0.1", port, method: "POST", path: PATH, headers: { ...headers, "content-length": body.length }, agent: false },
          (r) => {
            const chunks: Buffer[] = [];
            r.on("data", (c: Buffer) => chunks.push(c));
            r.on("end", () => resolvePromise({ status: r.statusCode ?? 0, headers: r.headers, trailers: r.trailers, body: Buffer.concat(chunks) }));
            r.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(body);
        return;
      }
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", reject);
      const req = session.request({ ":method": "POST", ":path": PATH, ...headers });
      let resHeaders: Record<string, unknown> = {};
      let trailers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => (resHeaders = h));
      req.on("trailers", (h) => (trailers = h));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        session.close();
        resolvePromise({ status: Number(resHeaders[":status"]), headers: resHeaders, trailers, body: Buffer.concat(chunks) });
      });
      req.on("error", reject);
      req.end(body);
    },
  );
  const fail = (why: string) => new Error(`${t.id}: raw request check failed: ${why} (status ${res.status}, headers ${JSON.stringify(res.headers)}, trailers ${JSON.stringify(res.trailers)}, body ${res.body.toString("hex")})`);
  if (res.status !== 200) throw fail("HTTP status is not 200");
  let message: Buffer;
  if (t.protocol === "grpc") {
    const grpcStatus = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
    if (grpcStatus !== "0") throw fail(`grpc-status is ${String(grpcStatus)}`);
    if (!String(res.headers["content-type"]).startsWith("application/grpc")) throw fail("content-type is not application/grpc");
    if (res.body.length < 5 || res.body.readUInt32BE(1) !== res.body.length - 5) throw fail("body is not one length-prefixed message");
    message = res.body.subarray(5);
  } else {
    if (res.headers["content-type"] !== "application/proto") throw fail("content-type is not application/proto");
    message = res.body;
  }
  const decoded = fromBinary(HealthCheckResponseSchema, message);
  if (decoded.status !== ServingStatus.SERVING) throw fail(`status is ${ServingStatus[decoded.status]}`);
  return t.protocol === "grpc" ? "HTTP 200, grpc-status 0, SERVING" : "HTTP 200, application/proto, SERVING";
}

/** clientCheck makes one call with a real client: grpc-js for gRPC, connect-node for Connect. */
async function clientCheck(t: TransportTarget, port: number): Promise<string> {
  if (t.protocol === "grpc") {
    const HealthClient = loadHealthProto();
    const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const res = await new Promise<{ status: string }>((resolvePromise, reject) =>
        client.Check({ service: SERVICE }, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, r: { status: string }) =>
          err ? reject(err) : resolvePromise(r),
        ),
      );
      if (res.status !== "SERVING") throw new Error(`${t.id}: grpc-js client got status ${res.status}`);
      return "grpc-js client: OK, SERVING";
    } finally {
      client.close();
    }
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: false });
  const sessionManager = t.h1 ? undefined : new Http2SessionManager(baseUrl);
  const transport = t.h1
    ? createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, nodeOptions: { agent } })
    : createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager });
  try {
    const res = await createClient(Health, transport).check({ service: SERVICE }, { timeoutMs: 5_000 });
    if (res.status !== ServingStatus.SERVING) throw new Error(`${t.id}: Connect client got status ${ServingStatus[res.status]}`);
    return `connect-node client (${t.h1 ? "HTTP/1.1" : "HTTP/2"}, binary): OK, SERVING`;
  } finally {
    sessionManager?.abort();
    agent.destroy();
  }
}

/** TransportRun is one measured h2load run of one target, with its checks. */
export interface TransportRun {
  /** reqPerSec is the run's throughput. */
  reqPerSec: number;
  /** h2load is the parsed h2load report (without its raw output). */
  h2load: Omit<H2loadResult, "output">;
  /** handlerOk is how many Check calls the server answered SERVING during the run. */
  handlerOk: number;
  /** serverCpuUsPerRequest is the server process's user+system CPU time per request, in µs. */
  serverCpuUsPerRequest: number;
  /** serverCores is the server's CPU time over the wall time (1 = one core busy throughout). */
  serverCores: number;
  /** h2loadCores is h2load's CPU time over the wall time. */
  h2loadCores: number;
  /** othersShare is the share of all CPUs that other processes used during the run (noise). */
  othersShare: number;
  /** idleBefore is the machine's idle share just before the run, after waiting for it. */
  idleBefore?: number;
  /** problems lists every failed check of the run (empty when clean). */
  problems: string[];
}

/** TransportRow is one target's result: the median run and everything it rests on. */
export interface TransportRow {
  /** id is the target's id (see TransportTarget). */
  id: string;
  /** label is the row name in the table. */
  label: string;
  /** h2loadCommand is the measured command line (URL port varies). */
  h2loadCommand: string;
  /** sanity is what the one-call checks before measuring found. */
  sanity: string[];
  /** runs are the measured runs in the order they ran. */
  runs: TransportRun[];
  /** medianReqPerSec is the median throughput of the runs. */
  medianReqPerSec: number;
  /** ratio is medianReqPerSec over the baseline's. */
  ratio: number;
  /** latency is from the median run: h2load's mean/max and the log's p50/p99, in ms. */
  latency: { p50Ms: number; p99Ms: number; meanMs: number; maxMs: number };
  /** medianServerCpuUsPerRequest is the median over the runs of the server CPU µs per request. */
  medianServerCpuUsPerRequest: number;
  /** cpuRatio is medianServerCpuUsPerRequest over the baseline's (above 1: costlier). */
  cpuRatio: number;
  /** maxOthersShare is the largest share of the CPUs other processes took during one of the runs. */
  maxOthersShare: number;
}

/** TransportReport is what bench/results/transport.json holds. */
export interface TransportReport {
  /** benchmark is "transport". */
  benchmark: "transport";
  /** machine is where and when it ran. */
  machine: MachineInfo;
  /** loadAverageAtEnd is the load average when the last run finished. */
  loadAverageAtEnd: number[];
  /** h2loadVersion is h2load's --version line. */
  h2loadVersion: string;
  /** method describes the measurement. */
  method: Record<string, unknown>;
  /** rows are the targets, baseline first. */
  rows: TransportRow[];
  /** verdicts are the one-line conclusions. */
  verdicts: string[];
}

/** commandLine renders h2load's arguments for copy and paste: no log file, body and port as placeholders. */
function commandLine(args: string[]): string {
  const shown: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--log-file") {
      i++;
      continue;
    }
    const arg = args[i].replace(/^.*[/\\](check\.(grpc|connect)\.bin)$/, "$1").replace(/127\.0\.0\.1:\d+/, "127.0.0.1:PORT");
    shown.push(/[\s']/.test(arg) ? `'${arg}'` : arg);
  }
  return `h2load ${shown.join(" ")}`;
}


const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`;

function verdict(name: string, rows: TransportRow[]): string | undefined {
  const row = rows.find((r) => r.id === name);
  if (!row || rows[0].id !== "grpc-js") return undefined;
  const diff = (row.ratio - 1) * 100;
  return `${row.label.replace("()", "")} within 15% of bare grpc-js: ${diff >= -15 ? "yes" : "no"} (${signed(diff)})`;
}

function cpuVerdict(name: string, rows: TransportRow[]): string | undefined {
  const row = rows.find((r) => r.id === name);
  if (!row || rows[0].id !== "grpc-js") return undefined;
  return `${row.label.replace("()", "")} server CPU per request vs bare grpc-js: ${signed((row.cpuRatio - 1) * 100)} (${row.medianServerCpuUsPerRequest.toFixed(1)} vs ${rows[0].medianServerCpuUsPerRequest.toFixed(1)} µs)`;
}

/** renderTransportMarkdown renders the report as the markdown of bench/results/transport.md. */
export function renderTransportMarkdown(r: TransportReport): string {
  const table = markdownTable(
    ["target", ">req/s (median)", ">runs req/s", ">vs bare grpc-js", ">p50 ms", ">p99 ms", ">mean ms", ">max ms", ">server CPU µs/req", ">other load (max)"],
    r.rows.map((row) => [
      row.label,
      fmt(row.medianReqPerSec),
      row.runs.map((x) => fmt(x.reqPerSec)).join(" / "),
      `${(row.ratio * 100).toFixed(1)}%`,
      fmt(row.latency.p50Ms, 2),
      fmt(row.latency.p99Ms, 2),
      fmt(row.latency.meanMs, 2),
      fmt(row.latency.maxMs, 2),
      `${fmt(row.medianServerCpuUsPerRequest, 1)} (${(row.cpuRatio * 100).toFixed(0)}%)`,
      `${(row.maxOthersShare * 100).toFixed(0)}%`,
    ]),
  );
  const m = r.method;
  return [
    "# Transport benchmark: no-op unary RPC",
    "",
    `Date: ${r.machine.date}. Machine: ${describeMachine(r.machine)}; at end ${r.loadAverageAtEnd.join(" / ")}. ${r.h2loadVersion}.`,
    "",
    table,
    "",
    ...r.verdicts.map((v) => `**${v}**`),
    "",
    "Method:",
    `* RPC: \`${PATH}\` (grpc.health.v1.Health/Check, the same method on every server), request \`{ service: "${SERVICE}" }\` built with protobuf-es \`toBinary(HealthCheckRequestSchema, create(...))\` (${m.requestBytes} bytes; gRPC adds the 5-byte length prefix); the handler looks the service up in a table and answers SERVING.`,
    `* Client: h2load, \`-n ${m.requests} -c ${m.clients} -m ${m.streams} -t 1\`, h2c with prior knowledge (HTTP/1.1 row: \`--h1 -c 64 -m 1\`, no pipelining); gRPC headers \`content-type: application/grpc\`, \`te: trailers\`; Connect headers \`content-type: application/proto\`, \`connect-protocol-version: 1\`; body via \`-d\`.`,
    `* Each server in its own Node child process; one warm-up run of ${m.warmup} requests per target, then ${m.runs} measured runs per target interleaved round-robin; req/s is the median run, latency columns come from that run.`,
    "* Latency is per request under this saturating load (up to 512 requests in flight), so it includes queueing; p50/p99 are from h2load's --log-file, mean/max from its \"time for request\" line.",
    "* Checks: before measuring, one call per target with the exact h2load bytes (HTTP 200, grpc-status 0, SERVING) and one with a real client (grpc-js / connect-node); every run had 0 failed, errored and timed-out requests, all 2xx, and the server counted exactly as many successful Check calls as requests.",
    "* Both cores are shared by h2load and the server. \"server CPU µs/req\" is the server process's user+system CPU time per request (median of the runs; in brackets vs bare grpc-js): it measures the server's cost and is disturbed far less than req/s by other work on the machine. \"other load\" is the largest share of both CPUs that other processes took during one of the target's runs; before each run the benchmark waited up to " +
      `${m.waitIdleSec} s for the machine to be ${Math.round(Number(m.minIdle) * 100)}% idle.`,
    "",
  ].join("\n");
}

/** main runs the transport benchmark with the given command-line options. */
export async function main(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const h2loadVersion = ensureH2load();
  const machine = machineInfo();
  console.log(`machine: ${describeMachine(machine)}`);
  if (machine.loadAverage[0] > machine.cpus * 0.5) {
    console.log(`warning: the machine is busy (load ${machine.loadAverage[0]} on ${machine.cpus} CPUs); figures will be noisy`);
  }
  const tmp = mkdtempSync(join(os.tmpdir(), "bench-transport-"));
  const bodies = requestBodies();
  const bodyFile = { grpc: join(tmp, "check.grpc.bin"), connect: join(tmp, "check.connect.bin") };
  writeFileSync(bodyFile.grpc, bodies.grpc);
  writeFileSync(bodyFile.connect, bodies.connect);
  if (o.cpuProf) console.log(`profiling the server processes into ${o.cpuProf}`);

  const servers = new Map<string, ServerChild>();
  const rows: TransportRow[] = [];
  try {
    for (const t of o.targets) {
      const s = await startServer(t, o.cpuProf);
      servers.set(t.id, s);
      const sanity = [await rawCheck(t, s.port, bodies[t.protocol]), await clientCheck(t, s.port)];
      console.log(`${t.id}: pid ${s.child.pid}, port ${s.port}; ${sanity.join("; ")}`);
      rows.push({
        id: t.id,
        label: t.label,
        h2loadCommand: "",
        sanity,
        runs: [],
        medianReqPerSec: 0,
        ratio: 0,
        latency: { p50Ms: 0, p99Ms: 0, meanMs: 0, maxMs: 0 },
        medianServerCpuUsPerRequest: 0,
        cpuRatio: 0,
        maxOthersShare: 0,
      });
    }
    const h2loadOptions = (t: TransportTarget, port: number, requests: number, logFile?: string) => ({
      url: `http://127.0.0.1:${port}${PATH}`,
      requests,
      clients: t.clients ?? o.clients,
      streams: t.streams ?? o.streams,
      threads: 1,
      headers: requestHeaders(t),
      dataFile: bodyFile[t.protocol],
      h1: t.h1,
      logFile,
    });
    const cpus = cpuCount();
    const measure = async (t: TransportTarget, requests: number, logFile?: string, waitIdle = true): Promise<TransportRun> => {
      const s = servers.get(t.id)!;
      const idle = waitIdle && o.waitIdleSec > 0 ? await waitForIdle(o.minIdle, o.waitIdleSec * 1000) : undefined;
      const before = await s.count();
      const m0 = cpuSnapshot();
      const res = await runH2load(h2loadOptions(t, s.port, requests, logFile));
      const m1 = cpuSnapshot();
      const after = await s.count();
      const handlerOk = after.ok - before.ok;
      const wallMs = m1.at - m0.at;
      const serverMs = after.cpuMs - before.cpuMs;
      const h2loadMs = m1.childrenMs - m0.childrenMs;
      const othersMs = Math.max(0, m1.busyMs - m0.busyMs - serverMs - h2loadMs - (m1.selfMs - m0.selfMs));
      const problems: string[] = [];
      if (res.succeeded !== requests) problems.push(`${res.succeeded}/${requests} succeeded`);
      if (res.failed || res.errored || res.timeout) problems.push(`${res.failed} failed, ${res.errored} errored, ${res.timeout} timeout`);
      if (res.status2xx !== requests) problems.push(`${res.status2xx}/${requests} 2xx`);
      if (res.percentiles && (res.percentiles.non2xx || res.percentiles.count !== requests)) problems.push(`log: ${res.percentiles.count} lines, ${res.percentiles.non2xx} non-2xx`);
      if (handlerOk !== requests) problems.push(`server answered ${handlerOk} Check calls OK (${after.failed - before.failed} failed) for ${requests} requests`);
      const { output: _output, ...h2load } = res;
      return {
        reqPerSec: res.reqPerSec,
        h2load,
        handlerOk,
        serverCpuUsPerRequest: (serverMs * 1000) / requests,
        serverCores: serverMs / wallMs,
        h2loadCores: h2loadMs / wallMs,
        othersShare: m1.busyMs > 0 ? Math.min(1, othersMs / (wallMs * cpus)) : 0,
        idleBefore: idle?.idle,
        problems,
      };
    };

    for (const t of o.targets) {
      const warm = await measure(t, o.warmup, undefined, false);
      console.log(`${t.id}: warm-up ${fmt(warm.reqPerSec)} req/s${warm.problems.length ? ` PROBLEMS: ${warm.problems.join("; ")}` : ""}`);
      if (warm.problems.length) throw new Error(`${t.id}: warm-up run failed its checks: ${warm.problems.join("; ")}`);
    }
    for (let round = 1; round <= o.runs; round++) {
      for (const [i, t] of o.targets.entries()) {
        const logFile = join(tmp, `${t.id}-${round}.log`);
        const run = await measure(t, o.requests, logFile);
        rmSync(logFile, { force: true });
        rows[i].runs.push(run);
        rows[i].h2loadCommand = commandLine(run.h2load.args);
        const p = run.h2load.percentiles!;
        console.log(
          `${t.id}: run ${round}/${o.runs}: ${fmt(run.reqPerSec)} req/s, p50 ${fmt(p.p50Ms, 2)} ms, p99 ${fmt(p.p99Ms, 2)} ms, ` +
            `server ${run.serverCpuUsPerRequest.toFixed(1)} µs CPU/req (${run.serverCores.toFixed(2)} cores), h2load ${run.h2loadCores.toFixed(2)} cores, ` +
            `others ${(run.othersShare * 100).toFixed(0)}%${run.idleBefore !== undefined ? ` (idle before ${(run.idleBefore * 100).toFixed(0)}%)` : ""}` +
            `${run.problems.length ? ` PROBLEMS: ${run.problems.join("; ")}` : ", checks OK"}`,
        );
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }

  for (const row of rows) {
    row.medianReqPerSec = median(row.runs.map((r) => r.reqPerSec));
    const mid = [...row.runs].sort((a, b) => a.reqPerSec - b.reqPerSec)[(row.runs.length - 1) >> 1];
    const p = mid.h2load.percentiles!;
    row.latency = { p50Ms: p.p50Ms, p99Ms: p.p99Ms, meanMs: mid.h2load.latency.meanMs, maxMs: mid.h2load.latency.maxMs };
    row.ratio = row.medianReqPerSec / rows[0].medianReqPerSec;
    row.medianServerCpuUsPerRequest = median(row.runs.map((r) => r.serverCpuUsPerRequest));
    row.cpuRatio = row.medianServerCpuUsPerRequest / rows[0].medianServerCpuUsPerRequest;
    row.maxOthersShare = Math.max(...row.runs.map((r) => r.othersShare));
  }
  const verdicts = [
    verdict("serveGrpc", rows),
    verdict("serveGrpc+interceptors", rows),
    cpuVerdict("serveGrpc", rows),
    cpuVerdict("serveGrpc+interceptors", rows),
  ].filter((v): v is string => v !== undefined);
  const report: TransportReport = {
    benchmark: "transport",
    machine,
    loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    h2loadVersion,
    method: {
      rpc: PATH,
      request: { service: SERVICE },
      requestBytes: bodies.connect.length,
      requests: o.requests,
      warmup: o.warmup,
      runs: o.runs,
      clients: o.clients,
      streams: o.streams,
      threads: 1,
      order: "one warm-up per target, then measured runs interleaved round-robin across targets",
      waitIdleSec: o.waitIdleSec,
      minIdle: o.minIdle,
      cpuProfiled: Boolean(o.cpuProf),
    },
    rows,
    verdicts,
  };
  const markdown = renderTransportMarkdown(report);
  console.log("\n" + markdown);
  const problems = rows.flatMap((r) => r.runs.flatMap((run) => run.problems.map((p) => `${r.id}: ${p}`)));
  const complete = o.targets.length === transportTargets.length && !o.cpuProf;
  if (o.write && complete && problems.length === 0) {
    const paths = writeResults("transport", report, markdown);
    console.log(`wrote ${paths.json} and ${paths.md}`);
  } else if (o.write) {
    console.log(`results not written (${problems.length ? "runs failed their checks" : "partial or profiled run"})`);
  }
  if (problems.length) throw new Error(`transport: ${problems.length} run(s) failed their checks:\n${problems.join("\n")}`);
}
