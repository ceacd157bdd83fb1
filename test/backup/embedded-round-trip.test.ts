// The same Postgres round trip in embedded mode (PGlite, `npm start`'s default): PGlite's pg_dump
// behind the same engine API, a scratch PGlite for verification, restore in the one shared session.
import { readFile } from "node:fs/promises";
import path from "node:path";
import t from "tap";
import { sql } from "kysely";
import { BackupState, BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { startTestSystem } from "../helpers/system.js";
import { CARRIED_OVER, clientOf, lastSequences, seedAppointments, snapshotDomain, waitForBackup, withoutSequences } from "../helpers/backup.js";

t.setTimeout(120_000);

t.test("embedded round trip: back up, verify, change, restore, compare row by row", async (t) => {
  const t0 = Date.now();
  const lap = (what: string) => t.comment(`${what}: ${Date.now() - t0} ms`);
  const sys = await startTestSystem(t, { embedded: true });
  lap("system up");
  const database = await sys.runtime.ready;
  t.equal(database.kind, "pglite");
  const db = database.db;
  const adminToken = await sys.token(["admin"], "adm-1");
  const admin = clientOf(t, sys, BackupService, adminToken);
  const queue = clientOf(t, sys, QueueService, adminToken);
  const lock = clientOf(t, sys, LockService, adminToken);

  await queue.createQueue({ queueId: "q-emb", displayName: "Embedded", prefix: "E", timeZone: "UTC" });
  const tickets: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { ticket } = await queue.issueTicket({ requestId: `emb-${i}`, queueId: "q-emb", patientId: `pat-${i}`, priority: TicketPriority.ROUTINE });
    tickets.push(ticket!.ticketId);
  }
  const appointments = await seedAppointments(db, "prov-e", 2);
  let maxToken = 0n;
  for (let i = 0; i < 2; i++) {
    const { lease } = await lock.acquire({ resource: "provider:prov-e", owner: "test", ttl: { seconds: 30n } });
    await lock.release({ resource: "provider:prov-e", leaseId: lease!.leaseId });
    if (lease!.fencingToken > maxToken) maxToken = lease!.fencingToken;
  }
  const before = await snapshotDomain(db);
  const beforeSequenced = await withoutSequences(db);

  const { backup } = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "emb-backup" });
  lap("seeded");
  const b = await waitForBackup(admin, backup!.backupId);
  lap("backed up");
  t.equal(b.state, BackupState.SUCCEEDED, b.error);
  t.match(b.location, /^postgres\/.+\.sql$/, "PGlite's plain SQL dump");
  const text = await readFile(path.join(sys.runtime.config.backupDir, b.location), "utf8");
  t.match(text, /PostgreSQL database dump/);
  t.notMatch(text, /CREATE SCHEMA backup|backup\.backups/, "the catalog is not in the dump");
  t.equal(Number(b.recordedTables.find((x) => x.name === "queue.tickets")?.rows), 3);

  const v = await admin.verifyBackup({ backupId: b.backupId });
  t.ok(v.ok, v.details.join("\n"));
  lap("verified");
  if (appointments) t.ok(v.details.some((d) => /no overlapping active appointments/.test(d)));

  await sql`delete from queue.tickets where ticket_id = ${tickets[0]}`.execute(db);
  await sql`update queue.queues set display_name = 'Changed'`.execute(db);
  if (appointments) await sql`delete from scheduling.appointments`.execute(db);
  await queue.issueTicket({ requestId: "emb-late", queueId: "q-emb", patientId: "pat-late", priority: TicketPriority.ROUTINE });
  const live = await snapshotDomain(db);
  const liveSequences = await lastSequences(db);
  const r = await admin.restoreBackup({ backupId: b.backupId, confirm: b.backupId });
  t.ok(r.fencingEpoch > 0n);
  lap("restored");
  const after = await snapshotDomain(db);
  for (const name of Object.keys(before)) {
    if (CARRIED_OVER.includes(name)) continue;
    t.same(after[name], before[name], `${name} as at backup time`);
  }
  t.same(await withoutSequences(db), beforeSequenced, "queues and providers as at backup time, but for their sequences");
  for (const [key, sequence] of await lastSequences(db)) t.equal(sequence, liveSequences.get(key)! + 1n, `${key}: sequence one past the live one`);
  t.same(after["queue.ticket_days"], live["queue.ticket_days"], "today's ticket numbers go on from the last one handed out");
  t.same(after["queue.audit_log"], live["queue.audit_log"], "audit rows written after the backup are kept");
  const { ticket } = await queue.issueTicket({ requestId: "emb-after", queueId: "q-emb", patientId: "pat-after", priority: TicketPriority.ROUTINE });
  t.equal(ticket!.number, "E-005", "the number after the last one handed out (E-004 was issued after the backup)");
  const { lease } = await lock.acquire({ resource: "provider:prov-e", owner: "test", ttl: { seconds: 30n } });
  t.ok(lease!.fencingToken > maxToken, "fencing token after the restore is larger than before");
  // The shared PGlite session still works for the services (search_path restored).
  const q = await queue.getQueue({ queueId: "q-emb" });
  t.equal(q.queue!.displayName, "Embedded");
  const again = await admin.getBackup({ backupId: b.backupId });
  t.equal(again.backup!.state, BackupState.SUCCEEDED, "catalog kept");
});
