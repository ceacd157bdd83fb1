// Postgres backups that cannot succeed end FAILED with a clear error, counted in
// backup_failures_total, the catalog consistent, and no file left that looks like a backup: a
// database that does not exist, a store directory that fills up (a 256 KiB tmpfs), a failure after
// the file was written, a failure the catalog cannot take at once (recorded later, never left
// RUNNING), and a RUNNING backup whose process died (it does not block the target forever); a
// restore whose input fails the last check before commit changes nothing.
import type { Caller } from "../../services/runtime/caller.js";
import { execFile } from "node:child_process";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { sql } from "kysely";
import { backupFailures, backupLastSuccess } from "../../services/backup/backup.metrics.js";
import { PgToolsEngine } from "../../services/backup/engines/pg-tools.engine.js";
import { withDatabase } from "../../services/backup/engines/run-tool.js";
import { FilesystemBackupStore } from "../../services/backup/store/filesystem-backup.store.js";
import { findBackup, findRunning } from "../../services/backup/repositories/backup.repository.js";
import type { BackupServiceImpl } from "../../services/backup/backup-service.js";
import { createCatalogDb, createService, fakeLockPeer, tempDir } from "../helpers/backup-catalog.js";
import type { TeardownHost } from "../helpers/postgres.js";

const run = promisify(execFile);
t.setTimeout(90_000);

const catalog = await createCatalogDb(t);
const caller: Caller = { subject: "svc-1", role: "service", roles: ["service"], ownOnly: false, onBehalfOf: undefined };

async function metric(m: typeof backupFailures | typeof backupLastSuccess, target: string): Promise<number> {
  const v = await m.get();
  return v.values.find((x) => x.labels.target === target)?.value ?? 0;
}

/** serviceOver builds a BackupServiceImpl storing under `dir` and backing up `databaseUrl` (the catalog's database by default). */
function serviceOver(t: TeardownHost, dir: string, databaseUrl = catalog.databaseUrl): BackupServiceImpl {
  return createService(t, { db: catalog.db, config: { backupDir: dir, databaseUrl }, peers: fakeLockPeer().peers });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(e.name);
  return out;
}

t.test("pg_dump of a database that does not exist", async (t) => {
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = serviceOver(t, dir, withDatabase(catalog.databaseUrl, "medschedule_no_such_database"));
  const before = await metric(backupFailures, "postgres");
  const started = await svc.runner.start("POSTGRES", caller, "nodb-1");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "FAILED");
  t.match(row.error, /POSTGRES backup failed: .*database "medschedule_no_such_database" does not exist/);
  t.ok(row.finished_at && row.sha256 === null && row.location === null, "ended, no checksum, no file");
  t.equal(await metric(backupFailures, "postgres"), before + 1, "counted");
  t.same(await filesUnder(dir), [], "nothing in the store");
  t.notOk(await findRunning(catalog.db as never, "POSTGRES"), "nothing left RUNNING: the next backup may start");
});

t.test("the store's directory is full", async (t) => {
  const mount = await tempDir(t, "medschedule-small-store-");
  try {
    await run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount]);
  } catch (err) {
    t.plan(0, `skipped: cannot mount a size-limited tmpfs here (needs root): ${(err as Error).message}`);
    return;
  }
  t.teardown(() => run("umount", ["-l", mount]).catch(() => undefined));
  // About 2 MB of incompressible content in a domain table: far more than the store can hold.
  await sql`create table queue.zz_backup_filler (id int primary key, data text not null)`.execute(catalog.db);
  t.teardown(() => sql`drop table if exists queue.zz_backup_filler`.execute(catalog.db));
  await sql`insert into queue.zz_backup_filler select g, string_agg(md5(random()::text || g || i), '') from generate_series(1, 500) g, generate_series(1, 130) i group by g`.execute(
    catalog.db,
  );
  const dir = path.join(mount, "backups");
  await mkdir(dir);
  const svc = serviceOver(t, dir);
  const before = await metric(backupFailures, "postgres");
  const started = await svc.runner.start("POSTGRES", caller, "full-1");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "FAILED");
  t.match(row.error, /POSTGRES backup failed: the backup store is full \(ENOSPC/);
  t.ok(row.finished_at && row.sha256 === null && row.location === null);
  t.equal(await metric(backupFailures, "postgres"), before + 1, "counted");
  t.same(await filesUnder(dir), [], "the partial file was removed");
  t.notOk(await findRunning(catalog.db as never, "POSTGRES"));
  const scratch = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = 'pg_dump'`.execute(catalog.db);
  t.equal(scratch.rows[0].n, 0, "pg_dump did not linger");
});

/** refuseUpdates makes the catalog refuse an update to `state` (the first `times` ones, or all) until teardown. */
async function refuseUpdates(t: { teardown(fn: () => unknown): void }, state: string, times?: number): Promise<void> {
  await sql`create sequence backup.zz_refusals`.execute(catalog.db);
  const limit = times ?? 2_147_483_647;
  await sql
    .raw(
      `create function backup.zz_refuse() returns trigger language plpgsql as $$
       begin
         if new.state = '${state}' and nextval('backup.zz_refusals') <= ${limit} then
           raise exception 'the catalog refuses % (test)', new.state;
         end if;
         return new;
       end $$`,
    )
    .execute(catalog.db);
  await sql`create trigger zz_refuse before update on backup.backups for each row execute function backup.zz_refuse()`.execute(catalog.db);
  t.teardown(async () => {
    await sql`drop trigger if exists zz_refuse on backup.backups`.execute(catalog.db);
    await sql`drop function if exists backup.zz_refuse()`.execute(catalog.db);
    await sql`drop sequence if exists backup.zz_refusals`.execute(catalog.db);
  });
}

t.test("a backup that fails after its file was written leaves no file in the store", async (t) => {
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = serviceOver(t, dir);
  await refuseUpdates(t, "SUCCEEDED");
  const started = await svc.runner.start("POSTGRES", caller, "late-fail-1");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "FAILED");
  t.match(row.error, /POSTGRES backup failed: .*the catalog refuses SUCCEEDED/);
  t.ok(row.location === null && row.sha256 === null);
  t.same(await filesUnder(dir), [], "the written dump was deleted: a FAILED backup has no file");
  t.notOk(await findRunning(catalog.db as never, "POSTGRES"));
});

t.test("a failure the catalog cannot take at once is recorded when it can: never left RUNNING", async (t) => {
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = serviceOver(t, dir, withDatabase(catalog.databaseUrl, "medschedule_no_such_database"));
  await refuseUpdates(t, "FAILED", 2);
  const started = await svc.runner.start("POSTGRES", caller, "unrecorded-1");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "FAILED", "recorded on a later attempt");
  t.match(row.error, /POSTGRES backup failed: .*does not exist/, "with the backup's own error");
  t.ok(row.finished_at);
  t.same(await filesUnder(dir), []);
  t.notOk(await findRunning(catalog.db as never, "POSTGRES"), "the next backup may start");
});

t.test("a RUNNING backup whose process died (no heartbeat) does not block the target forever", async (t) => {
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = serviceOver(t, dir);
  const old = new Date(Date.now() - 10 * 60_000);
  await sql`insert into backup.backups (backup_id, target, state, started_at, heartbeat_at) values ('b-dead', 'POSTGRES', 'RUNNING', ${old}, ${old})`.execute(catalog.db);
  const started = await svc.runner.start("POSTGRES", caller, "after-dead");
  await svc.runner.waitForIdle();
  t.equal((await findBackup(catalog.db as never, started.backup_id))!.state, "SUCCEEDED", "the new backup ran");
  const dead = (await findBackup(catalog.db as never, "b-dead"))!;
  t.equal(dead.state, "FAILED");
  t.match(dead.error, /abandoned/);
  // A RUNNING backup with a fresh heartbeat (another replica's) still blocks.
  await sql`insert into backup.backups (backup_id, target, state, started_at, heartbeat_at) values ('b-live', 'POSTGRES', 'RUNNING', now(), now())`.execute(catalog.db);
  await t.rejects(svc.runner.start("POSTGRES", caller, "while-live"), { code: 9, message: /already running \(b-live\)/ });
  await sql`delete from backup.backups where backup_id = 'b-live'`.execute(catalog.db);
});

t.test("a restore whose input fails the last check before commit changes nothing", async (t) => {
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = serviceOver(t, dir);
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values ('q-check', 'Before', 'B', 'UTC', now())`.execute(catalog.db);
  const started = await svc.runner.start("POSTGRES", caller, "check-1");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "SUCCEEDED", row.error ?? "");
  await sql`update queue.queues set display_name = 'After' where queue_id = 'q-check'`.execute(catalog.db);
  const engine = new PgToolsEngine(catalog.databaseUrl);
  const store = new FilesystemBackupStore(dir);
  let checked = false;
  await t.rejects(
    engine.restore(await store.read(row.location!), ["queue", "lock"], new AbortController().signal, () => {
      checked = true;
      throw new Error("hash differs");
    }),
    { message: "hash differs" },
  );
  t.ok(checked, "the check ran after the whole file was read");
  const q = await sql<{ display_name: string }>`select display_name from queue.queues where queue_id = 'q-check'`.execute(catalog.db);
  t.equal(q.rows[0].display_name, "After", "nothing was restored (the drop of the schemas rolled back too)");
  await engine.restore(await store.read(row.location!), ["queue", "lock"], new AbortController().signal, () => undefined);
  const r = await sql<{ display_name: string }>`select display_name from queue.queues where queue_id = 'q-check'`.execute(catalog.db);
  t.equal(r.rows[0].display_name, "Before", "with a passing check the same file restores");
});
