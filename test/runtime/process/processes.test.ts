// The processes as a user starts them: `npm start` (the gateway on embedded PGlite) answers HTTP/1.1
// (Connect JSON, /metrics) and h2c gRPC on one port, with reflection (how fast is the benchmarks'
// business; here a generous bound only guards against a hang); bad config, a bad port and an
// unreachable database each end with one readable line and a non-zero exit, never a hang; a service
// that fails to build fails the start, so nothing serves half-built.
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { callGrpcJs } from "../../helpers/clients.js";
import { freePort } from "../../../services/runtime/server/free-port.js";
import { createRuntime } from "../../../services/runtime/host.js";
import { queueModule } from "../../../services/queue/queue.module.js";

const run = promisify(execFile);
const BUF = path.resolve("node_modules/.bin/buf");

/** runToExit runs a command with a hard limit and returns its exit code and output. */
function runToExit(args: string[], env: Record<string, string>, limitMs = 20_000): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

t.test("bad configuration: exit 2 with one readable line", async (t) => {
  const untouched = path.join(os.tmpdir(), `medschedule-untouched-${process.pid}`);
  t.teardown(() => rm(untouched, { recursive: true, force: true }));
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ["bad PORT", ["dist/services/lock/main.js"], { PORT: "http", AUTH_HS256_SECRET: "x".repeat(40) }, /PORT must be a port number/],
    ["bad DATABASE_URL", ["dist/services/queue/main.js"], { DATABASE_URL: "mysql://root:hunter2@db/x", AUTH_HS256_SECRET: "x".repeat(40) }, /DATABASE_URL must start with postgres:\/\//],
    ["no token key for a service", ["dist/services/scheduling/main.js"], { PORT: "0", METRICS_PORT: "0" }, /no token key/],
    ["bad PORT at the gateway", ["dist/gateway/main.js"], { PORT: "-1" }, /PORT must be a port number/],
    // npm start runs the backup schedule in-process, so it checks it as the backup service does.
    ["bad backup schedule at npm start", ["dist/gateway/main.js"], { PORT: "0", DATA_DIR: untouched, BACKUP_SCHEDULE_POSTGRES: "61 2 * * *" }, /BACKUP_SCHEDULE_POSTGRES: .*minute/],
    ["bad backup schedule at the backup service", ["dist/services/backup/main.js"], { PORT: "0", METRICS_PORT: "0", AUTH_HS256_SECRET: "x".repeat(40), BACKUP_SCHEDULE_REDIS: "every night" }, /BACKUP_SCHEDULE_REDIS: /],
  ];
  for (const [label, args, env, pattern] of cases) {
    const r = await runToExit(args, env);
    t.equal(r.code, 2, `${label}: exit code 2`);
    t.match(r.stderr, pattern, `${label}: says what is wrong`);
    t.equal(r.stderr.trim().split("\n").length, 1, `${label}: one line`);
    t.notMatch(r.stderr, /hunter2|    at /, `${label}: no password, no stack trace`);
  }
});

t.test("a service that fails to build fails the start: ready rejects, nothing serves half-built", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-nobuild-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const broken = { ...queueModule, create: () => { throw new Error("cannot build the queue service"); } };
  const runtime = await createRuntime({ name: "test", modules: [broken], defaultPort: 0, env: { DATA_DIR: dataDir, AUTH_HS256_SECRET: "x".repeat(40), PAGE_TOKEN_SECRET: "y".repeat(40), LOG_LEVEL: "silent" } });
  t.teardown(() => runtime.close());
  await t.rejects(runtime.ready, /cannot build the queue service/, "main's await of ready fails, so the process exits instead of serving errors");
});

t.test("unreachable database: exit 1 quickly with a clear line", async (t) => {
  const port = await freePort();
  // The backup service makes its BACKUP_DIR at start: in a temp DATA_DIR, not in the working directory.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-nodb-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const r = await runToExit(["dist/services/backup/main.js"], {
    DATA_DIR: dataDir,
    DATABASE_URL: `postgres://medschedule:s3cret-pw@127.0.0.1:${port}/medschedule`,
    AUTH_HS256_SECRET: "x".repeat(40),
    PORT: "0",
    METRICS_PORT: "0",
  });
  t.equal(r.code, 1, "exit code 1");
  t.match(r.stderr, /cannot start: .*Postgres/i, "names the database");
  t.notMatch(r.stderr, /s3cret-pw/, "no password");
  t.notMatch(r.stderr, /    at /, "no stack trace");
  t.ok(r.ms < 15_000, `gave up in ${r.ms} ms, no hang`);
});

t.test("port already in use: exit 1 with a clear line", async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, r));
  t.teardown(() => blocker.close());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-port-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const r = await runToExit(["dist/gateway/main.js"], { PORT: String((blocker.address() as net.AddressInfo).port), DATA_DIR: dataDir });
  t.equal(r.code, 1);
  t.match(r.stderr, /EADDRINUSE|in use/);
});

/** HANG_BOUND_MS is how long `npm start` may take to answer reflection before the test calls it a hang (it takes seconds; 25 s was seen on a loaded machine). */
const HANG_BOUND_MS = 120_000;

t.test("npm start: one process on one port, HTTP/1.1 and h2c, reflection without a hang", async (t) => {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-start-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const started = Date.now();
  const child = spawn(process.execPath, ["dist/gateway/main.js"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const base = `http://127.0.0.1:${port}`;
  let services = "";
  while (Date.now() - started < HANG_BOUND_MS) {
    try {
      services = (await run(BUF, ["curl", "--http2-prior-knowledge", "--list-services", base], { timeout: 10_000 })).stdout;
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const ms = Date.now() - started;
  t.match(services, /medschedule\.scheduling\.v1\.SchedulingService/, `reflection answered after ${ms} ms`);

  const tokens = JSON.parse(await readFile(path.join(dataDir, "dev-tokens.json"), "utf8")) as Record<string, string>;
  t.same(Object.keys(tokens).sort(), ["admin", "display", "doctor", "patient", "receptionist", "service"], "dev tokens for every role");

  // HTTP/1.1: Connect JSON, as curl or a browser sends it.
  const res = await fetch(`${base}/medschedule.scheduling.v1.SchedulingService/ListProviders`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${tokens.receptionist}` },
    body: "{}",
  });
  t.equal(res.headers.get("content-type"), "application/json", "Connect JSON answer");
  const body = (await res.json()) as { code?: string };
  t.ok(res.status === 200 || body.code === "unimplemented", `Connect JSON over HTTP/1.1 answers (${res.status} ${JSON.stringify(body)})`);
  // That call waited for the database; the banner with the tokens comes once it is ready.
  for (let i = 0; i < HANG_BOUND_MS / 100 && !/buf curl/.test(stdout); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(stdout, /buf curl/, "prints a ready buf curl example");
  const noToken = await fetch(`${base}/medschedule.scheduling.v1.SchedulingService/ListProviders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  t.equal(noToken.status, 401, "no token: 401 unauthenticated");
  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.match(metrics, /rpc_server_duration_seconds_bucket\{.*service="medschedule\.scheduling\.v1\.SchedulingService",method="ListProviders"/, "/metrics over HTTP/1.1 counts the call");

  // h2c gRPC with a plain grpc-js client.
  const viaGrpc = await callGrpcJs(`127.0.0.1:${port}`, LockService, LockService.method.listLocks, {}, { authorization: `Bearer ${tokens.admin}` });
  t.not(viaGrpc.code, Code.Unauthenticated, "h2c gRPC answers");
  t.not(viaGrpc.code, Code.Unavailable, "h2c gRPC answers");
  const denied = await callGrpcJs(`127.0.0.1:${port}`, SchedulingService, SchedulingService.method.createProvider, { displayName: "X", timeZone: "UTC" }, { authorization: `Bearer ${tokens.patient}` });
  t.equal(denied.code, Code.PermissionDenied, "a patient may not create providers");

  child.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  t.equal(code, 0, "SIGTERM: clean exit");
});
