// Retention with a fake clock (the right files go, the newest SUCCEEDED backup of a target always
// stays, dryRun only reports) and the in-process cron schedule driven by the same fake clock; closing
// the service interrupts a scheduled run and waits for all of it.
import type { Caller } from "../../services/runtime/caller.js";
import { access } from "node:fs/promises";
import path from "node:path";
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { sql } from "kysely";
import { BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import {
  BackupService,
  GetBackupRequestSchema,
  ListBackupsRequestSchema,
  PruneBackupsRequestSchema,
  VerifyBackupRequestSchema,
} from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { findBackup } from "../../services/backup/repositories/backup.repository.js";
import type { BackupRow } from "../../services/backup/db/backup.table.js";
import { BackupServiceImpl } from "../../services/backup/backup-service.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import { createCatalogDb, createService, ctxAs, fakeLockPeer, tempDir } from "../helpers/backup-catalog.js";

t.setTimeout(90_000);
const DAY = 86_400_000;
const T0 = new Date("2026-01-01T03:00:00Z");
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const exists = (p: string) => access(p).then(() => true, () => false);

const catalog = await createCatalogDb(t);
const caller: Caller = { subject: "svc-1", role: "service", roles: ["service"], ownOnly: false, onBehalfOf: undefined };

t.test("retention: old files go, the newest SUCCEEDED backup stays, dryRun changes nothing", async (t) => {
  const clock = createFakeClock(T0);
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = createService(t, {
    db: catalog.db,
    clock,
    config: { backupDir: dir, databaseUrl: catalog.databaseUrl, backupKeepPostgresMs: 14 * DAY },
    peers: fakeLockPeer().peers,
  });
  const make = async (days: number): Promise<BackupRow> => {
    clock.set(at(days));
    const r = await svc.runner.start("POSTGRES", caller, `ret-${days}`);
    await svc.runner.waitForIdle();
    const row = (await findBackup(catalog.db as never, r.backup_id))!;
    t.equal(row.state, "SUCCEEDED", `day ${days}: ${row.error ?? ""}`);
    return row;
  };
  const a = await make(0);
  const b = await make(5);
  // A FAILED backup on day 6 (no file): retention drops it from the catalog listing too.
  await sql`insert into backup.backups (backup_id, target, state, started_at, finished_at, error) values ('b-failed-6', 'POSTGRES', 'FAILED', ${at(6)}, ${at(6)}, 'boom')`.execute(catalog.db);
  const c = await make(10);
  const d = await make(20);
  const file = (r: BackupRow) => path.join(dir, r.location!);

  // The gauges read the catalog at scrape time: the newest SUCCEEDED backup, whichever process took it.
  const scraped = await metricsRegistry.metrics();
  t.match(scraped, new RegExp(`backup_last_success_timestamp_seconds\\{target="postgres"\\} ${d.finished_at!.getTime() / 1000}\\b`));
  t.match(scraped, new RegExp(`backup_size_bytes\\{target="postgres"\\} ${d.size_bytes}\\b`));
  t.match(scraped, /backup_duration_seconds_count\{target="postgres"\} [1-9]/);

  // ListBackups pages newest first.
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await svc.listBackups(create(ListBackupsRequestSchema, { target: BackupTarget.POSTGRES, pageSize: 2, pageToken }), ctxAs(BackupService.method.listBackups));
    seen.push(...page.backups!.map((x) => x.backupId!));
    pageToken = page.nextPageToken!;
  } while (pageToken);
  t.same(seen, [d.backup_id, c.backup_id, "b-failed-6", b.backup_id, a.backup_id], "every entry once, newest first, over three pages");

  clock.set(at(21));
  const prune = (dryRun: boolean, target = BackupTarget.POSTGRES) =>
    svc.pruneBackups(create(PruneBackupsRequestSchema, { target, dryRun }), ctxAs(BackupService.method.pruneBackups));
  const dry = await prune(true);
  t.same(dry.deleted!.map((x) => x.backupId), ["b-failed-6", b.backup_id, a.backup_id], "dryRun: what would go (older than 14 days), newest first");
  t.same(dry.kept!.map((x) => x.backupId), [d.backup_id, c.backup_id]);
  t.ok((await exists(file(a))) && (await exists(file(b))), "dryRun deleted nothing");

  const real = await prune(false);
  t.same(real.deleted!.map((x) => x.backupId), ["b-failed-6", b.backup_id, a.backup_id]);
  t.notOk(await exists(file(a)), "day 0 file gone");
  t.notOk(await exists(file(b)), "day 5 file gone");
  t.ok((await exists(file(c))) && (await exists(file(d))), "day 10 and 20 kept");
  const list = await svc.listBackups(create(ListBackupsRequestSchema, { target: BackupTarget.POSTGRES }), ctxAs(BackupService.method.listBackups));
  t.same(list.backups!.map((x) => x.backupId), [d.backup_id, c.backup_id], "pruned entries leave the listing");
  const gone = await svc.getBackup(create(GetBackupRequestSchema, { backupId: a.backup_id }), ctxAs(BackupService.method.getBackup));
  t.ok(gone.backup!.deletedAt, "the catalog keeps the pruned entry with deletedAt");
  await t.rejects(svc.verifyBackup(create(VerifyBackupRequestSchema, { backupId: a.backup_id }), ctxAs(BackupService.method.verifyBackup)), { code: 9, message: /deleted by retention/ });

  // Sixty days on, every backup is older than the window: the newest SUCCEEDED one still stays,
  // also when a newer backup FAILED.
  clock.set(at(59));
  await sql`insert into backup.backups (backup_id, target, state, started_at, finished_at, error) values ('b-failed-59', 'POSTGRES', 'FAILED', ${at(59)}, ${at(59)}, 'boom')`.execute(catalog.db);
  clock.set(at(80));
  const late = await prune(false);
  t.same(late.deleted!.map((x) => x.backupId), ["b-failed-59", c.backup_id]);
  t.same(late.kept!.map((x) => x.backupId), [d.backup_id], "the last good backup always stays");
  t.ok(await exists(file(d)));
  const again = await prune(false);
  t.same(again.deleted, [], "nothing more to prune");
  t.same(again.kept!.map((x) => x.backupId), [d.backup_id]);

  const audit = await sql<{ action: string; n: number }>`select action, count(*)::int as n from backup.audit_log where action = 'PruneBackups' group by action`.execute(catalog.db);
  t.same(audit.rows, [{ action: "PruneBackups", n: 2 }], "real prunes are audited, dry runs and no-ops are not");
  await sql`delete from backup.backups`.execute(catalog.db);
});

t.test("the in-process schedule starts one backup per due minute, then prunes", async (t) => {
  const clock = createFakeClock(new Date("2026-03-02T02:29:00Z"));
  const dir = await tempDir(t, "medschedule-backups-");
  const config = { backupDir: dir, databaseUrl: catalog.databaseUrl, backupSchedulePostgres: "30 2 * * *", backupKeepPostgresMs: DAY };
  const svc = createService(t, { db: catalog.db, clock, config, peers: fakeLockPeer().peers }, { schedule: true });
  // A second replica with the same schedule: the same requestId makes the two start one backup.
  const replica = createService(t, { db: catalog.db, clock, config, peers: fakeLockPeer().peers }, { schedule: true });
  t.same(svc.scheduler!.nextRuns(), { POSTGRES: new Date("2026-03-02T02:30:00Z") });
  t.same(svc.scheduler!.tick(), [], "not due yet");
  clock.set(new Date("2026-03-02T02:30:20Z"));
  const runs = [...svc.scheduler!.tick(), ...replica.scheduler!.tick()];
  t.equal(runs.length, 2);
  await Promise.all(runs);
  await svc.runner.waitForIdle();
  const rows = await sql<{ request_caller: string; request_id: string; state: string }>`select request_caller, request_id, state from backup.backups`.execute(catalog.db);
  t.same(rows.rows, [{ request_caller: "schedule", request_id: "schedule-postgres-2026-03-02T02:30:00.000Z", state: "SUCCEEDED" }], "one backup for both replicas");
  t.same(svc.scheduler!.tick(), [], "the same minute does not run twice");
  t.same(svc.scheduler!.nextRuns(), { POSTGRES: new Date("2026-03-03T02:30:00Z") });

  clock.set(new Date("2026-03-04T02:30:05Z"));
  await Promise.all(svc.scheduler!.tick());
  const after = await sql<{ state: string; deleted: boolean }>`select state, deleted_at is not null as deleted from backup.backups order by started_at`.execute(catalog.db);
  t.same(after.rows, [{ state: "SUCCEEDED", deleted: true }, { state: "SUCCEEDED", deleted: false }], "the run pruned the backup older than BACKUP_KEEP_POSTGRES");
});

t.test("close interrupts a scheduled run and waits for all of it: nothing reads the catalog afterwards", async (t) => {
  const clock = createFakeClock(new Date("2026-03-05T02:30:10Z"));
  const dir = await tempDir(t, "medschedule-backups-");
  const config = { backupDir: dir, databaseUrl: catalog.databaseUrl, backupSchedulePostgres: "30 2 * * *", backupKeepPostgresMs: DAY };
  const svc = new BackupServiceImpl({ db: catalog.db, clock, config, peers: fakeLockPeer().peers }, { schedule: true });
  clock.set(new Date("2026-03-06T02:30:10Z"));
  const runs = svc.scheduler!.tick();
  t.equal(runs.length, 1, "a run started");
  let settled = false;
  void Promise.all(runs).then(() => (settled = true));
  await svc.close();
  // Before, close returned while the run still read the catalog (and might prune): with the
  // database closed next, that read failed and logged "scheduled backup failed".
  t.ok(settled, "the scheduled run had ended when close returned");
});
