// Distributed mode as an operator runs it: `node dist/services/queue/main.js` and
// `node dist/gateway/main.js` with *_ADDR, as separate processes; and the configuration errors of
// that mode (some *_ADDR only, no token key) as one line with exit code 2.
import t from "tap";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { TEST_SECRET } from "../helpers/system.js";
import { freePort } from "../../services/runtime/server/free-port.js";

const run = promisify(execFile);
const BUF = path.resolve("node_modules/.bin/buf");

function start(t: { teardown(fn: () => unknown): void }, script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", METRICS_PORT: "0", ...env }, stdio: ["ignore", "ignore", "inherit"] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return child;
}

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["dist/gateway/main.js"], { env: { PATH: process.env.PATH ?? "", PORT: "0", ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

t.test("the gateway process forwards to a service process", async (t) => {
  const queuePort = await freePort();
  const gatewayPort = await freePort();
  const addr = `127.0.0.1:${queuePort}`;
  start(t, "dist/services/queue/main.js", { PORT: String(queuePort), DATABASE_URL: await createTestDatabase(t), AUTH_HS256_SECRET: TEST_SECRET });
  // Only the queue service runs here; the other services' addresses point at it too (they answer UNIMPLEMENTED).
  const gateway = start(t, "dist/gateway/main.js", {
    PORT: String(gatewayPort),
    AUTH_HS256_SECRET: TEST_SECRET,
    SCHEDULING_ADDR: addr,
    QUEUE_ADDR: addr,
    LOCK_ADDR: addr,
    BACKUP_ADDR: addr,
    PATIENT_ADDR: addr,
  });
  const base = `http://127.0.0.1:${gatewayPort}`;
  const started = Date.now();
  let services = "";
  while (Date.now() - started < 15_000) {
    try {
      services = (await run(BUF, ["curl", "--http2-prior-knowledge", "--list-services", base], { timeout: 5_000 })).stdout;
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  t.match(services, /medschedule\.queue\.v1\.QueueService/, "the gateway's own reflection lists the services");
  t.match(services, /grpc\.health\.v1\.Health/);
  const token = await signToken(TEST_SECRET, "desk", ["receptionist"]);
  let res: Response | undefined;
  // The queue service may still be migrating: UNAVAILABLE until it listens.
  for (let i = 0; i < 60; i++) {
    res = await fetch(`${base}/medschedule.queue.v1.QueueService/CreateQueue`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ queueId: "proc", displayName: "Proc", prefix: "P", timeZone: "UTC" }),
    });
    if (res.status !== 503) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(res?.status, 200, "Connect JSON through the gateway process to the queue process");
  t.match(await res?.json(), { queue: { queueId: "proc" } });
  t.equal((await fetch(`${base}/dev-tokens.json`)).status, 404, "no dev tokens in distributed mode");
  gateway.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => gateway.on("exit", r));
  t.equal(code, 0, "SIGTERM: clean exit");
});

t.test("distributed-mode configuration errors: one line, exit 2", async (t) => {
  const some = await runToExit({ AUTH_HS256_SECRET: TEST_SECRET, QUEUE_ADDR: "127.0.0.1:1" });
  t.equal(some.code, 2);
  t.match(some.stderr, /configuration error: set all of SCHEDULING_ADDR, QUEUE_ADDR, LOCK_ADDR, BACKUP_ADDR and PATIENT_ADDR .* or none .*missing: SCHEDULING_ADDR, LOCK_ADDR, BACKUP_ADDR, PATIENT_ADDR/);
  t.equal(some.stderr.trim().split("\n").length, 1);
  const addrs = { SCHEDULING_ADDR: "127.0.0.1:1", QUEUE_ADDR: "127.0.0.1:1", LOCK_ADDR: "127.0.0.1:1", BACKUP_ADDR: "127.0.0.1:1", PATIENT_ADDR: "127.0.0.1:1" };
  const noKey = await runToExit(addrs);
  t.equal(noKey.code, 2);
  t.match(noKey.stderr, /no token key: set AUTH_HS256_SECRET/);
});
