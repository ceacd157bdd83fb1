// A clean shutdown logs no warning (issue 18, hardening): every service stops its background work
// (the queue's change sequencer sweep, WatchQueue's and WatchAppointments' polls and fetches, the
// scheduling offer sweep, the lock monitor, the backup schedule, pending NOTIFYs) before the database
// closes. Before, the queue service had no close at all, and a shutdown logged "queue change
// sequencer: sweep failed: driver has already been destroyed". The fixture keeps the process alive
// after closing so that any timer left behind gets to fire; then npm start and the service processes
// are stopped with SIGTERM as an operator does.
import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Health } from "../../../gen/health/v1/health_pb.js";
import { freePort } from "../../../services/runtime/server/free-port.js";
import { callGrpcJs } from "../../helpers/clients.js";
import { createTestDatabase } from "../../helpers/postgres.js";
import { startNpmStart } from "../../helpers/npm-start.js";
import { TEST_KEYS_ENV, TEST_PAGE_TOKEN_SECRET, TEST_SECRET } from "../../helpers/system.js";

/** HANG_BOUND_MS only guards against a hang. */
const HANG_BOUND_MS = 120_000;

/** complaints are the log lines at warn level or above in `output` (pino JSON, or anything not JSON). */
function complaints(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => {
      try {
        return ["warn", "error", "fatal"].includes((JSON.parse(line) as { level?: string }).level ?? "");
      } catch {
        return !/^closed$/.test(line.trim());
      }
    });
}

/** run starts `args` with `env` and collects stdout and stderr. */
function run(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  const timer = setTimeout(() => child.kill("SIGKILL"), HANG_BOUND_MS);
  void exited.then(() => clearTimeout(timer));
  return { child, output: () => output, exited };
}

const BASE_ENV = { AUTH_HS256_SECRET: TEST_SECRET, PAGE_TOKEN_SECRET: TEST_PAGE_TOKEN_SECRET, LOG_LEVEL: "warn", METRICS_PORT: "0", ...TEST_KEYS_ENV };

t.test("every module closed: no timer touches the database afterwards (Postgres and PGlite)", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-linger-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  for (const [label, env] of [
    ["Postgres", { DATABASE_URL: await createTestDatabase(t) }],
    ["PGlite", { DATA_DIR: dataDir }],
  ] as const) {
    const p = run(["dist/test/fixtures/close-and-linger.js"], { ...BASE_ENV, ...env, LINGER_MS: "3000" });
    t.equal(await p.exited, 0, `${label}: the fixture ran to its end`);
    t.match(p.output(), /^closed$/m, `${label}: closed`);
    t.same(complaints(p.output()), [], `${label}: nothing logged at warn or above, during or after close`);
  }
});

t.test("npm start: SIGTERM after start-up logs no warning", async (t) => {
  const app = await startNpmStart(t, { LOG_LEVEL: "warn" });
  const before = app.stdout().length;
  t.equal(await app.stop(), 0, "exit 0");
  t.same(complaints(app.stdout().slice(before).split("\n").filter((l) => l.startsWith("{")).join("\n")), [], "nothing at warn or above on stdout while shutting down");
});

t.test("service processes: SIGTERM after start-up logs no warning", async (t) => {
  const databaseUrl = await createTestDatabase(t);
  for (const name of ["scheduling", "queue", "lock", "backup", "patient"]) {
    const port = await freePort();
    const p = run([`dist/services/${name}/main.js`], { ...BASE_ENV, DATABASE_URL: databaseUrl, PORT: String(port), BACKUP_SCHEDULE_POSTGRES: "0 3 * * *" });
    t.teardown(() => {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
    });
    const started = Date.now();
    let serving = false;
    while (!serving && Date.now() - started < HANG_BOUND_MS && p.child.exitCode === null) {
      const health = await callGrpcJs(`127.0.0.1:${port}`, Health, Health.method.check, {}, {});
      serving = health.code === 0 && (health.response as { status?: string })?.status === "SERVING";
      if (!serving) await new Promise((r) => setTimeout(r, 200));
    }
    t.ok(serving, `${name}: serving`);
    // Let the background work run a round or two (sweeps, polls, monitors) before stopping.
    await new Promise((r) => setTimeout(r, 1_500));
    p.child.kill("SIGTERM");
    t.equal(await p.exited, 0, `${name}: exit 0`);
    t.same(complaints(p.output()), [], `${name}: nothing logged at warn or above`);
  }
});
