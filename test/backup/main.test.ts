// The backup service as its own process (services/backup/main.ts): a BACKUP_SCHEDULE_* it cannot run
// stops it before it serves, with one line naming the variable and what is wrong, and exit code 2;
// an expression that parses but matches no date (February 31st) included.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** startBackupProcess runs dist/services/backup/main.js with `env`; a process that serves is killed after a generous bound. */
async function startBackupProcess(env: Record<string, string>, dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const base = { PATH: process.env.PATH ?? "", AUTH_HS256_SECRET: "x".repeat(40), PORT: "0", METRICS_PORT: "0", DATA_DIR: dataDir };
  return run(process.execPath, ["dist/services/backup/main.js"], { env: { ...base, ...env }, timeout: 30_000, killSignal: "SIGKILL" }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (err: { code?: number | string; stderr?: string }) => ({ code: typeof err.code === "number" ? err.code : null, stderr: err.stderr ?? "" }),
  );
}

t.test("a schedule the backup service cannot run: exit 2 with one line naming it", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-backup-main-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const cases: [Record<string, string>, RegExp][] = [
    [{ BACKUP_SCHEDULE_POSTGRES: "60 2 * * *" }, /BACKUP_SCHEDULE_POSTGRES: cron "60 2 \* \* \*": minute 60 is outside 0-59/],
    [{ BACKUP_SCHEDULE_POSTGRES: "0 2 * *" }, /BACKUP_SCHEDULE_POSTGRES: cron "0 2 \* \*" must have 5 fields/],
    [{ BACKUP_SCHEDULE_REDIS: "0 2 * * xyz" }, /BACKUP_SCHEDULE_REDIS: cron "0 2 \* \* xyz": day of week "xyz" is not a number/],
    [{ BACKUP_SCHEDULE_POSTGRES: "0 0 31 feb *" }, /BACKUP_SCHEDULE_POSTGRES: cron "0 0 31 feb \*" never matches/],
  ];
  for (const [env, pattern] of cases) {
    const label = Object.entries(env)[0].join("=");
    const r = await startBackupProcess(env, dataDir);
    t.equal(r.code, 2, `${label}: exit code 2`);
    t.match(r.stderr, /^medschedule backup: configuration error: /, `${label}: a configuration error`);
    t.match(r.stderr, pattern, `${label}: says what is wrong`);
    t.equal(r.stderr.trim().split("\n").length, 1, `${label}: one line`);
  }
});
