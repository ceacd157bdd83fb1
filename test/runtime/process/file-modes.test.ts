// Patient data on disk is readable by its owner only (issue 18, hardening): npm start and a service
// process create DATA_DIR, BACKUP_DIR and everything in them (PGlite's files, the generated keys,
// backups full of patient ids and visit reasons) as 0700 directories and 0600 files, whatever the
// umask they were started with; an existing DATA_DIR open to other users is made owner-only, with a
// warning. Before, a missing DATA_DIR was made 0755, PGlite's files and the backups 0644.
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { chmod, lstat, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { BackupState, BackupTarget } from "../../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { Health } from "../../../gen/health/v1/health_pb.js";
import { signToken } from "../../../services/runtime/auth/dev-tokens.js";
import { freePort } from "../../../services/runtime/server/free-port.js";
import { createGrpcJsTransport } from "../../../services/runtime/clients/grpc-transport.js";
import { migrateAll } from "../../../scripts/migrate.js";
import { callGrpcJs } from "../../helpers/clients.js";
import { startNpmStart, type NpmStart } from "../../helpers/npm-start.js";
import { createTestDatabase } from "../../helpers/postgres.js";
import { TEST_KEYS_ENV, TEST_PAGE_TOKEN_SECRET, TEST_SECRET } from "../../helpers/system.js";

/** HANG_BOUND_MS only guards against a hang. */
const HANG_BOUND_MS = 120_000;

/** openToOthers lists every directory and file under `root` (itself included) that group or others may use, with its mode. */
async function openToOthers(root: string): Promise<{ entries: number; open: string[] }> {
  const open: string[] = [];
  let entries = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    entries++;
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) open.push(`${path.relative(root, p) || "."} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const name of await readdir(p)) await walk(path.join(p, name));
  };
  await walk(root);
  return { entries, open };
}

/** backupViaConnect takes a POSTGRES backup through npm start's Connect JSON API and waits for it. */
async function backupViaConnect(app: NpmStart, requestId: string): Promise<string> {
  const call = async (method: string, body: unknown) =>
    (await (
      await fetch(`${app.base}/medschedule.backup.v1.BackupService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.tokens.admin}` },
        body: JSON.stringify(body),
      })
    ).json()) as { backup?: { backupId: string; state: string; error?: string } };
  let backup = (await call("StartBackup", { target: "BACKUP_TARGET_POSTGRES", requestId })).backup!;
  const started = Date.now();
  while (backup.state === "BACKUP_STATE_RUNNING" && Date.now() - started < HANG_BOUND_MS) {
    await new Promise((r) => setTimeout(r, 200));
    backup = (await call("GetBackup", { backupId: backup.backupId })).backup!;
  }
  return backup.error ? `${backup.state}: ${backup.error}` : backup.state;
}

t.test("npm start, under a permissive umask: DATA_DIR, BACKUP_DIR and what is in them are owner-only", async (t) => {
  const parent = await mkdtemp(path.join(os.tmpdir(), "medschedule-modes-"));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const dataDir = path.join(parent, "clinic", "data");
  const backupDir = path.join(parent, "elsewhere", "backups");
  const previous = process.umask(0o022); // what the child inherits: the usual default
  let app: NpmStart;
  try {
    app = await startNpmStart(t, { BACKUP_DIR: backupDir, DEMO_CLINIC: "on" }, { dataDir });
  } finally {
    process.umask(previous);
  }
  t.equal(await backupViaConnect(app, "modes-1"), "BACKUP_STATE_SUCCEEDED", "a backup of the embedded database");
  t.equal(await app.stop(), 0);
  for (const [label, dir] of [["DATA_DIR", dataDir], ["BACKUP_DIR", backupDir]]) {
    const { entries, open } = await openToOthers(dir);
    t.ok(entries > (label === "DATA_DIR" ? 10 : 1), `${label}: ${entries} entries looked at`);
    t.same(open, [], `${label}: nothing open to group or others`);
  }
  // The data keys npm start generated: without them no backup restores, and with them the patient data is open.
  for (const key of ["patient-encryption-keys", "patient-index-key", "scheduling-encryption-keys"]) {
    t.equal((await lstat(path.join(dataDir, key))).mode & 0o777, 0o600, `DATA_DIR/${key} exists, owner-only`);
  }
  t.same((await openToOthers(path.join(parent, "clinic"))).open.filter((l) => l.startsWith(". ")), [], "the parent npm start made is owner-only too");
});

t.test("an existing DATA_DIR open to others is made owner-only, and the log says so", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-open-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await chmod(dataDir, 0o755);
  const app = await startNpmStart(t, { DEMO_CLINIC: "off" }, { dataDir });
  t.equal((await lstat(dataDir)).mode & 0o777, 0o700, "now 0700");
  t.match(app.stdout(), /DATA_DIR .* was open to other users; made it owner-only \(0700\)/, "a warning says so");
  t.equal(await app.stop(), 0);
});

/** startService runs `node dist/services/<name>/main.js` under the usual umask 022 and waits until its health is SERVING. */
async function startService(t: Test, name: string, env: Record<string, string>): Promise<{ port: number; stop(): Promise<number | null> }> {
  const port = await freePort();
  const previous = process.umask(0o022);
  const child = spawn(process.execPath, [`dist/services/${name}/main.js`], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port), METRICS_PORT: "0", AUTH_HS256_SECRET: TEST_SECRET, PAGE_TOKEN_SECRET: TEST_PAGE_TOKEN_SECRET, LOG_LEVEL: "warn", ...TEST_KEYS_ENV, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  process.umask(previous);
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const started = Date.now();
  for (let serving = false; !serving; ) {
    if (child.exitCode !== null || Date.now() - started > HANG_BOUND_MS) throw new Error(`${name} did not start`);
    const health = await callGrpcJs(`127.0.0.1:${port}`, Health, Health.method.check, {}, {});
    serving = (health.response as { status?: string } | undefined)?.status === "SERVING";
    if (!serving) await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

t.test("a service process on embedded PGlite: DATA_DIR and the database files are owner-only", async (t) => {
  const parent = await mkdtemp(path.join(os.tmpdir(), "medschedule-svc-modes-"));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const dataDir = path.join(parent, "data");
  const svc = await startService(t, "scheduling", { DATA_DIR: dataDir });
  t.equal(await svc.stop(), 0, "exit 0");
  const { entries, open } = await openToOthers(dataDir);
  t.ok(entries > 10, `${entries} entries looked at`);
  t.same(open, [], "nothing under DATA_DIR open to group or others");
});

t.test("the backup service process on Postgres: BACKUP_DIR and the backups (pg_dump) are owner-only", async (t) => {
  const databaseUrl = await createTestDatabase(t);
  await migrateAll(databaseUrl);
  const parent = await mkdtemp(path.join(os.tmpdir(), "medschedule-svc-modes-"));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const backupDir = path.join(parent, "backups");
  const svc = await startService(t, "backup", { DATABASE_URL: databaseUrl, DATA_DIR: path.join(parent, "data"), BACKUP_DIR: backupDir });
  const admin = await signToken(TEST_SECRET, "ops", ["admin"]);
  const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${svc.port}`], headers: { authorization: `Bearer ${admin}` } });
  t.teardown(() => transport.close());
  const client = createClient(BackupService, transport);
  let backup = (await client.startBackup({ target: BackupTarget.POSTGRES, requestId: "modes-pg" })).backup!;
  const started = Date.now();
  while (backup.state === BackupState.RUNNING && Date.now() - started < HANG_BOUND_MS) {
    await new Promise((r) => setTimeout(r, 200));
    backup = (await client.getBackup({ backupId: backup.backupId })).backup!;
  }
  t.equal(backup.state, BackupState.SUCCEEDED, `a backup ${backup.error}`);
  t.equal(await svc.stop(), 0, "exit 0");
  const { entries, open } = await openToOthers(backupDir);
  t.ok(entries >= 3, `${entries} entries looked at`);
  t.same(open, [], "nothing under BACKUP_DIR open to group or others");
});

t.test("a DATA_DIR that cannot be created is one configuration line, exit 2", async (t) => {
  const parent = await mkdtemp(path.join(os.tmpdir(), "medschedule-ro-"));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  // A path through a file: not creatable even by root.
  await writeFile(path.join(parent, "a-file"), "");
  for (const [label, main, env] of [
    ["a service", "dist/services/scheduling/main.js", { AUTH_HS256_SECRET: TEST_SECRET, ...TEST_KEYS_ENV }],
    ["npm start", "dist/gateway/main.js", {}],
  ] as const) {
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? "", PORT: "0", METRICS_PORT: "0", DATA_DIR: path.join(parent, "a-file", "data"), LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    t.teardown(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    t.equal(code, 2, `${label}: exit 2`);
    t.match(stderr, /configuration error: DATA_DIR .* cannot be created/, `${label}: ${stderr.trim()}`);
    t.equal(stderr.trim().split("\n").length, 1, `${label}: one line`);
  }
});
