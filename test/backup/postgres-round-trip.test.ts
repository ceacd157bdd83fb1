// Postgres backups end to end on real Postgres, through the four services over gRPC: seed appointments,
// tickets and locks, back up, change and delete data, restore, compare row by row; fencing tokens after
// the restore are larger than any issued before; idempotency, the one-running-backup rule, roles,
// audit, the restore CLI, and corrupted backups (one flipped byte; tampered content with a matching
// hash) that are reported and never restored.
import { execFile } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { BackupState, BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { libpqEnv, runTool } from "../../services/backup/engines/run-tool.js";
import { rpcCodeOf as codeOf } from "../helpers/call-outcome.js";
import { startTestSystem } from "../helpers/system.js";
import { CARRIED_OVER, clientOf, lastSequences, seedAppointments, snapshotDomain, waitForBackup, withoutSequences } from "../helpers/backup.js";

const run = promisify(execFile);
t.setTimeout(120_000);

const sys = await startTestSystem(t);
const database = await sys.runtime.ready;
const db = database.db;
const databaseUrl = sys.runtime.config.databaseUrl!;
const backupDir = sys.runtime.config.backupDir;
const adminToken = await sys.token(["admin"], "adm-1");
const serviceToken = await sys.token(["service"], "svc-1");
const admin = clientOf(t, sys, BackupService, adminToken);
const service = clientOf(t, sys, BackupService, serviceToken);
const queue = clientOf(t, sys, QueueService, adminToken);
const lock = clientOf(t, sys, LockService, adminToken);

async function acquireToken(resource: string): Promise<bigint> {
  const { lease } = await lock.acquire({ resource, owner: "test", ttl: { seconds: 30n } });
  await lock.release({ resource, leaseId: lease!.leaseId });
  return lease!.fencingToken;
}

// ---- seed -----------------------------------------------------------------------------------------
await queue.createQueue({ queueId: "q-main", displayName: "Main", prefix: "A", timeZone: "Europe/Istanbul" });
await queue.openCounter({ queueId: "q-main", counterId: "c1" });
const tickets: string[] = [];
for (let i = 0; i < 5; i++) {
  const { ticket } = await queue.issueTicket({ requestId: `issue-${i}`, queueId: "q-main", patientId: `pat-${i}`, priority: TicketPriority.ROUTINE });
  tickets.push(ticket!.ticketId);
}
await queue.callNext({ queueId: "q-main", counterId: "c1" });
const appointments = await seedAppointments(db, "prov-1", 4);
if (!appointments) t.comment("scheduling.appointments does not exist yet: the round trip covers queue and lock tables only");
let maxToken = 0n;
for (const r of ["provider:prov-1", "queue:q-main", "provider:prov-1"]) {
  const tok = await acquireToken(r);
  if (tok > maxToken) maxToken = tok;
}
const before = await snapshotDomain(db);
const beforeSequenced = await withoutSequences(db);

// ---- back up ----------------------------------------------------------------------------------------
const started = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "rt-1" });
const backupId = started.backup!.backupId;

// While the first backup runs (pg_dump takes far longer than these calls), nothing else may start.
const second = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "rt-2" }).catch((e: unknown) => ConnectError.from(e));
const retry = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "rt-1" });
const otherTarget = await codeOf(admin.startBackup({ target: BackupTarget.REDIS, requestId: "rt-1" }));
const done = await waitForBackup(admin, backupId);

t.test("StartBackup returns RUNNING at once; a second backup of the target meanwhile is FAILED_PRECONDITION", async (t) => {
  t.equal(started.backup!.state, BackupState.RUNNING);
  t.notOk(started.backup!.finishedAt, "no end yet");
  t.ok(second instanceof ConnectError && second.code === Code.FailedPrecondition, "second concurrent backup refused");
  t.match((second as ConnectError).rawMessage, /already running/);
  t.equal(retry.backup!.backupId, backupId, "a retry with the same requestId returns the same backup");
  t.equal(otherTarget, Code.AlreadyExists, "same requestId, other target");
});

t.test("the backup SUCCEEDED with its sha256, size, file and per-table stats", async (t) => {
  t.equal(done.state, BackupState.SUCCEEDED, done.error);
  t.match(done.sha256, /^[0-9a-f]{64}$/);
  t.match(done.location, /^postgres\/.+\.pgdump$/);
  const file = await readFile(path.join(backupDir, done.location));
  t.equal(BigInt(file.length), done.sizeBytes, "size recorded");
  t.equal((await import("node:crypto")).createHash("sha256").update(file).digest("hex"), done.sha256, "sha256 recorded");
  t.equal(file.subarray(0, 5).toString(), "PGDMP", "pg_dump custom format");
  const names = done.recordedTables.map((x) => x.name);
  t.ok(names.includes("queue.tickets") && names.includes("queue.request_keys") && names.includes("lock.fencing_epoch"), "domain tables and requestId records recorded");
  t.notOk(names.some((n) => n.startsWith("backup.")), "the catalog is not in the backup");
  t.equal(Number(done.recordedTables.find((x) => x.name === "queue.tickets")!.rows), 5);
  const list = await service.listBackups({ target: BackupTarget.POSTGRES });
  t.same(list.backups.map((b) => b.backupId), [backupId], "listed");
  const files = await readdir(path.join(backupDir, "postgres"));
  t.same(files, [path.basename(done.location)], "one file, no partial files");
});

/** verifyDatabases are the scratch databases of VerifyBackup that exist on the server now (other tests' included). */
async function verifyDatabases(): Promise<string[]> {
  const r = await sql<{ datname: string }>`select datname from pg_database where datname like 'medschedule_verify_%'`.execute(db);
  return r.rows.map((x) => x.datname);
}

t.test("VerifyBackup restores into a scratch database and matches every table", async (t) => {
  const before = new Set(await verifyDatabases());
  const v = await service.verifyBackup({ backupId });
  t.ok(v.ok, v.details.join("\n"));
  t.ok(v.tables.length >= 5);
  t.ok(v.tables.every((x) => x.ok));
  t.ok(v.restoreDuration, "restore time measured");
  t.ok(v.backup!.verifiedAt && v.backup!.verifiedOk && v.backup!.verifyRestoreDuration, "recorded in the catalog");
  if (appointments) t.ok(v.details.some((d) => /no overlapping active appointments/.test(d)), "invariant 1 checked");
  // Another test file may be verifying a backup on the same server meanwhile: its scratch database
  // goes away when it finishes, one this verify left behind stays.
  let left: string[] = [];
  for (let i = 0; i < 300; i++) {
    left = (await verifyDatabases()).filter((name) => !before.has(name));
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.same(left, [], "scratch database dropped");
});

t.test("roles: only admin may restore", async (t) => {
  t.equal(await codeOf(service.restoreBackup({ backupId, confirm: backupId })), Code.PermissionDenied, "service");
  const rec = clientOf(t, sys, BackupService, await sys.token(["receptionist"], "rec-1"));
  t.equal(await codeOf(rec.restoreBackup({ backupId, confirm: backupId })), Code.PermissionDenied, "receptionist");
  t.equal(await codeOf(admin.restoreBackup({ backupId, confirm: "nope" })), Code.InvalidArgument, "confirm must match");
  t.equal(await codeOf(admin.restoreBackup({ backupId: "b-unknown", confirm: "b-unknown" })), Code.NotFound);
});

t.test("restore: changed and deleted data comes back row by row; fencing tokens go on growing", async (t) => {
  await sql`delete from queue.tickets where ticket_id = ${tickets[4]}`.execute(db);
  await sql`update queue.queues set display_name = 'Changed'`.execute(db);
  await queue.issueTicket({ requestId: "issue-after", queueId: "q-main", patientId: "pat-late", priority: TicketPriority.URGENT });
  if (appointments) await sql`delete from scheduling.appointments where appointment_id = 'prov-1-a0'`.execute(db);
  for (let i = 0; i < 3; i++) {
    const tok = await acquireToken("provider:prov-1");
    if (tok > maxToken) maxToken = tok;
  }
  const live = await snapshotDomain(db);
  t.not(JSON.stringify(live), JSON.stringify(before), "the data did change");
  const liveSequences = await lastSequences(db);

  const r = await admin.restoreBackup({ backupId, confirm: backupId });
  t.ok(r.fencingEpoch > 0n, `epoch ${r.fencingEpoch}`);
  t.ok(r.restoreDuration);
  const after = await snapshotDomain(db);
  const restored = (snap: Record<string, string[]>) => Object.fromEntries(Object.entries(snap).filter(([name]) => !CARRIED_OVER.includes(name)));
  t.same(restored(after), restored(before), "every row of every other domain table is as at backup time");
  t.same(await withoutSequences(db), beforeSequenced, "queues and providers as at backup time, but for their sequences");
  for (const [key, sequence] of await lastSequences(db)) t.equal(sequence, liveSequences.get(key)! + 1n, `${key}: sequence one past the live one`);
  t.same(after["queue.ticket_days"], live["queue.ticket_days"], "today's ticket numbers go on from the last one handed out");
  t.same(after["queue.audit_log"], live["queue.audit_log"], "queue audit rows written after the backup are kept");
  t.same(after["scheduling.audit_log"], live["scheduling.audit_log"], "scheduling audit rows kept");
  t.same(after["lock.audit_log"].filter((row) => live["lock.audit_log"].includes(row)), live["lock.audit_log"], "lock audit rows kept");
  t.equal(after["lock.audit_log"].length, live["lock.audit_log"].length + 1, "plus the AdvanceEpoch entry");

  for (const res of ["provider:prov-1", "queue:q-main", "provider:new"]) {
    const tok = await acquireToken(res);
    t.ok(tok > maxToken, `token ${tok} for ${res} > every token issued before (${maxToken})`);
  }
  const again = await queue.issueTicket({ requestId: "issue-0", queueId: "q-main", patientId: "pat-0", priority: TicketPriority.ROUTINE });
  t.equal(again.ticket!.ticketId, tickets[0], "restored requestId records still answer retries with the first result");

  const audit = await sql<{ actor: string; role: string; action: string; resource: string }>`select actor, role, action, resource from backup.audit_log where action = 'RestoreBackup'`.execute(db);
  t.same(audit.rows, [{ actor: "adm-1", role: "admin", action: "RestoreBackup", resource: backupId }], "audited");
  const still = await admin.getBackup({ backupId });
  t.equal(still.backup!.state, BackupState.SUCCEEDED, "the catalog survived the restore");
});

t.test("the restore CLI", async (t) => {
  await sql`delete from queue.tickets`.execute(db);
  const env = { ...process.env, BACKUP_ADDR: `127.0.0.1:${sys.grpc.port}`, BACKUP_TOKEN: adminToken };
  const { stdout } = await run(process.execPath, ["dist/services/backup/cli.js", "restore", backupId], { env });
  t.match(JSON.parse(stdout), { restored: backupId });
  const n = await sql<{ n: number }>`select count(*)::int as n from queue.tickets`.execute(db);
  t.equal(n.rows[0].n, 5, "tickets back");
  const bad = await run(process.execPath, ["dist/services/backup/cli.js", "restore", "b-nope"], { env }).catch((e: { code: number; stderr: string }) => e);
  t.equal((bad as { code: number }).code, 1, "non-zero exit on failure");
  t.match((bad as { stderr: string }).stderr, /NotFound/);
  const usage = await run(process.execPath, ["dist/services/backup/cli.js", "run", "mysql"], { env }).catch((e: { code: number }) => e);
  t.equal((usage as { code: number }).code, 2, "usage error exits 2");
  const ran = await run(process.execPath, ["dist/services/backup/cli.js", "run", "postgres"], { env });
  t.match(JSON.parse(ran.stdout), { state: "BACKUP_STATE_SUCCEEDED", target: "BACKUP_TARGET_POSTGRES" }, "`run postgres` waits for SUCCEEDED");
  const redis = await run(process.execPath, ["dist/services/backup/cli.js", "run", "redis"], { env }).catch((e: { code: number; stderr: string }) => e);
  t.equal((redis as { code: number }).code, 1, "`run redis` without a Redis fails with exit 1");
  t.match((redis as { stderr: string }).stderr, /FailedPrecondition.*REDIS_URL/);
});

t.test("one flipped byte: verify and restore report it, nothing is restored", async (t) => {
  const { backup } = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "flip" });
  const b = await waitForBackup(admin, backup!.backupId);
  t.equal(b.state, BackupState.SUCCEEDED, b.error);
  const file = path.join(backupDir, b.location);
  const bytes = await readFile(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  await writeFile(file, bytes);
  await sql`update queue.queues set display_name = 'After flip'`.execute(db);
  const v = await admin.verifyBackup({ backupId: b.backupId });
  t.notOk(v.ok);
  t.match(v.details.join("\n"), /sha256 mismatch/);
  t.equal(v.backup!.verifiedOk, false);
  const err = await admin.restoreBackup({ backupId: b.backupId, confirm: b.backupId }).catch((e: unknown) => ConnectError.from(e));
  t.ok(err instanceof ConnectError && err.code === Code.FailedPrecondition, "restore refused");
  t.match((err as ConnectError).rawMessage, /failed verification, nothing was restored.*sha256 mismatch/);
  const q = await sql<{ display_name: string }>`select display_name from queue.queues`.execute(db);
  t.equal(q.rows[0].display_name, "After flip", "live data untouched");
});

t.test("tampered table content inside a valid-looking dump: the checksums catch it", async (t) => {
  const { backup } = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "tamper" });
  const b = await waitForBackup(admin, backup!.backupId);
  t.equal(b.state, BackupState.SUCCEEDED, b.error);
  // Forge a well-formed dump with different ticket content and make the catalog's hash and size match it.
  await sql`update queue.tickets set patient_id = 'forged' where ticket_id = ${tickets[1]}`.execute(db);
  const file = path.join(backupDir, b.location);
  await runTool("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--schema=scheduling", "--schema=queue", "--schema=lock", "--schema=patient", `--file=${file}`], { env: libpqEnv(databaseUrl) });
  const forged = await readFile(file);
  const sha = (await import("node:crypto")).createHash("sha256").update(forged).digest("hex");
  await sql`update backup.backups set sha256 = ${sha}, size_bytes = ${forged.length} where backup_id = ${b.backupId}`.execute(db);
  const v = await admin.verifyBackup({ backupId: b.backupId });
  t.notOk(v.ok, "not ok");
  const bad = v.tables.filter((x) => !x.ok).map((x) => x.name);
  t.same(bad, ["queue.tickets"], "the tampered table is named");
  t.match(v.details.join("\n"), /sha256 .* matches/);
  t.match(v.details.join("\n"), /queue\.tickets: recorded 5 rows \/ [0-9a-f]{32}, restored 5 rows \/ [0-9a-f]{32}/);
  t.equal(await codeOf(admin.restoreBackup({ backupId: b.backupId, confirm: b.backupId })), Code.FailedPrecondition, "restore refused");
});
