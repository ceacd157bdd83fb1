// What a clinic's screens see across RestoreBackup, against any running system reached at one gRPC
// address (the test system's server, `npm start`'s gateway, `npm run cluster`'s gateway): a display
// board's WatchQueue and the reception's WatchAppointments are open; a backup is taken; tickets are
// issued and an appointment booked; the backup is restored; more are issued and booked. The streams
// must not go silent, and no ticket number of the day is handed out twice.
import type { DescService } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import type { Test } from "tap";
import { BackupState, BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService, type WatchQueueResponse } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService, type WatchAppointmentsResponse } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { waitForBackup } from "./backup.js";
import { setUpProvider } from "./scheduling.js";
import { StreamReader } from "./stream-reader.js";

/** RestoreScenarioTarget is the system under test: a gRPC address and a token per role. */
export interface RestoreScenarioTarget {
  /** address is "host:port" of a server that serves every service (or forwards to them). */
  address: string;
  /** tokens sign the calls: admin (backups), receptionist (queues, bookings), display (the board). */
  tokens: { admin: string; receptionist: string; display: string };
  /** prefix is the ticket prefix of the scenario's queue (unique in the system). */
  prefix: string;
}

/** RestoreScenarioResult is what the scenario saw, for callers that look further (e.g. at the database). */
export interface RestoreScenarioResult {
  /** queueId is the queue the board watched. */
  queueId: string;
  /** ticketsAfterBackup are the ids of the tickets issued between the backup and the restore. */
  ticketsAfterBackup: string[];
  /** appointmentAfterBackup is the id of the appointment booked between the backup and the restore. */
  appointmentAfterBackup: string;
  /** ticketAfterRestore is the id of the first ticket issued after the restore. */
  ticketAfterRestore: string;
}

const MIN = 60_000;

function clientAt<S extends DescService>(t: Test, address: string, service: S, token: string): Client<S> {
  const transport = createGrpcJsTransport({ addresses: [address], headers: { authorization: `Bearer ${token}` } });
  t.teardown(() => transport.close());
  return createClient(service, transport);
}

function numbersOf(m: WatchQueueResponse): string[] {
  return m.tickets.map((x) => x.number);
}

function appointmentIdsOf(m: WatchAppointmentsResponse): string[] {
  return m.appointments.map((a) => a.appointmentId);
}

/** restoreWithOpenStreams runs the scenario of the file comment with tap assertions. */
export async function restoreWithOpenStreams(t: Test, target: RestoreScenarioTarget): Promise<RestoreScenarioResult> {
  const admin = clientAt(t, target.address, BackupService, target.tokens.admin);
  const queue = clientAt(t, target.address, QueueService, target.tokens.receptionist);
  const board = clientAt(t, target.address, QueueService, target.tokens.display);
  const scheduling = clientAt(t, target.address, SchedulingService, target.tokens.receptionist);
  const p = target.prefix;
  const queueId = `q-restore-${p.toLowerCase()}`;
  let req = 0;
  const issue = async () => {
    const n = ++req;
    return (await queue.issueTicket({ requestId: `rs-${p}-${n}`, queueId, patientId: `pat-rs-${n}`, priority: TicketPriority.ROUTINE })).ticket!;
  };

  await queue.createQueue({ queueId, displayName: "Restore check", prefix: p, timeZone: "UTC" });
  const providerId = await setUpProvider(scheduling, { timeZone: "UTC", slotMinutes: 15 });
  // A whole day ahead (in the future, inside the booking horizon); the reception watches that day.
  const day0 = Math.ceil((Date.now() + 2 * 86_400_000) / 86_400_000) * 86_400_000;
  const date = new Date(day0).toISOString().slice(0, 10);
  let slot = 0;
  const book = async () =>
    (
      await scheduling.bookAppointment({
        requestId: `rs-${p}-${++req}`,
        providerId,
        patientId: `pat-rs-${req}`,
        startTime: timestampFromDate(new Date(day0 + 15 * MIN * slot++)),
        duration: { seconds: 15n * 60n },
      })
    ).appointment!;

  const first = await issue();
  t.equal(first.number, `${p}-001`);
  const kept = await book();

  const boardWatch = new StreamReader<WatchQueueResponse>((signal) => board.watchQueue({ queueId }, { signal }));
  const receptionWatch = new StreamReader<WatchAppointmentsResponse>((signal) => scheduling.watchAppointments({ providerId, date }, { signal }));
  // The calendar of the location `default` (where every booking lands until it names one): its own sequence.
  const locationWatch = new StreamReader<WatchAppointmentsResponse>((signal) => scheduling.watchAppointments({ locationId: "default", date }, { signal }));
  t.teardown(() => (boardWatch.close(), receptionWatch.close(), locationWatch.close()));
  const boardSnap = await boardWatch.next("the board's first snapshot");
  t.ok(boardSnap.snapshot, "the board starts with a snapshot");
  t.same(numbersOf(boardSnap), [`${p}-001`]);
  const receptionSnap = await receptionWatch.next("the reception's first snapshot");
  t.same(appointmentIdsOf(receptionSnap), [kept.appointmentId]);
  t.ok(appointmentIdsOf(await locationWatch.next("the location's first snapshot")).includes(kept.appointmentId));

  const { backup } = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: `rs-backup-${p}` });
  const done = await waitForBackup(admin, backup!.backupId, 120_000);
  t.equal(done.state, BackupState.SUCCEEDED, done.error);

  // After the backup: three tickets and a booking, each reaching the open streams.
  const ticketsAfterBackup: string[] = [];
  let lastBoardSequence = boardSnap.sequence;
  for (let i = 0; i < 3; i++) {
    const ticket = await issue();
    ticketsAfterBackup.push(ticket.ticketId);
    const { match } = await boardWatch.until((m) => m.tickets.some((x) => x.ticketId === ticket.ticketId), `the board sees ${ticket.number}`);
    lastBoardSequence = match.sequence;
  }
  t.same(ticketsAfterBackup.length, 3);
  const lost = await book();
  const { match: lostSeen } = await receptionWatch.until((m) => appointmentIdsOf(m).includes(lost.appointmentId), "the reception sees the booking");
  const lastReceptionSequence = lostSeen.sequence;
  const { match: lostSeenAtLocation } = await locationWatch.until((m) => appointmentIdsOf(m).includes(lost.appointmentId), "the location sees the booking");
  // A board on a queue that exists only after the backup.
  const newQueueId = `q-after-backup-${p.toLowerCase()}`;
  await queue.createQueue({ queueId: newQueueId, displayName: "Made after the backup", prefix: `${p}Z`.slice(0, 3), timeZone: "UTC" });
  const goneWatch = new StreamReader<WatchQueueResponse>((signal) => board.watchQueue({ queueId: newQueueId }, { signal }));
  t.teardown(() => goneWatch.close());
  t.ok((await goneWatch.next("the new queue's snapshot")).snapshot);

  const restored = await admin.restoreBackup({ backupId: done.backupId, confirm: done.backupId });
  t.ok(restored.fencingEpoch > 0n, "restored");

  // As reported: right after the restore, one more ticket. Its number is not one handed out today.
  const afterRestore = await issue();
  t.equal(afterRestore.number, `${p}-005`, "the next number after the last one handed out (005, not a second 002)");

  // Each screen in its own subtest: a stream that stays silent fails there (the hang bound), and
  // the other screens and the caller's checks still run.
  await t.test("the board: a fresh snapshot saying it missed changes, then changes again", async (t) => {
    // Without the rolled-back tickets; the new ticket in that snapshot or as the change after it.
    const boardFresh = await boardWatch.next("the board's message after the restore");
    t.ok(boardFresh.snapshot, "the board gets a fresh snapshot");
    t.ok(boardFresh.resumeFailed, "saying it missed changes");
    t.ok(boardFresh.sequence > lastBoardSequence, `its sequence ${boardFresh.sequence} is past every one seen before (${lastBoardSequence})`);
    t.notOk(numbersOf(boardFresh).some((n) => [`${p}-002`, `${p}-003`, `${p}-004`].includes(n)), "the rolled-back tickets are gone from the board");
    t.ok(numbersOf(boardFresh).includes(`${p}-001`), "the restored ticket is on the board");
    if (!numbersOf(boardFresh).includes(afterRestore.number)) {
      const m = await boardWatch.next(`the board sees ${afterRestore.number}`);
      t.same(numbersOf(m), [afterRestore.number], "the ticket issued after the restore reaches the board");
      t.notOk(m.snapshot);
    }
    const next = await issue();
    t.equal(next.number, `${p}-006`);
    const nextSeen = await boardWatch.next(`the board sees ${next.number}`);
    t.same({ snapshot: nextSeen.snapshot, numbers: numbersOf(nextSeen) }, { snapshot: false, numbers: [next.number] }, "and later tickets as changes");
  });

  await t.test("the reception: the same for appointments", async (t) => {
    const receptionFresh = await receptionWatch.next("the reception's message after the restore");
    t.ok(receptionFresh.snapshot && receptionFresh.resumeFailed, "the reception gets a fresh snapshot saying it missed changes");
    t.ok(receptionFresh.sequence > lastReceptionSequence, "past every sequence seen before");
    t.same(appointmentIdsOf(receptionFresh), [kept.appointmentId], "the booking made after the backup is gone from the screen");
    const booked = await book();
    const bookedSeen = await receptionWatch.next("the reception sees the booking made after the restore");
    t.same({ snapshot: bookedSeen.snapshot, ids: appointmentIdsOf(bookedSeen) }, { snapshot: false, ids: [booked.appointmentId] }, "a booking after the restore reaches the open stream");
  });

  await t.test("the location's calendar: the same, with the location's own sequence", async (t) => {
    const fresh = await locationWatch.until((m) => m.snapshot, "the location's snapshot after the restore");
    t.ok(fresh.match.resumeFailed, "saying it missed changes");
    t.ok(fresh.match.sequence > lostSeenAtLocation.sequence, "past every sequence seen before");
    t.notOk(appointmentIdsOf(fresh.match).includes(lost.appointmentId), "the booking made after the backup is gone from the screen");
    const booked = await book();
    await locationWatch.until((m) => !m.snapshot && appointmentIdsOf(m).includes(booked.appointmentId), "the location sees the booking made after the restore");
  });

  await t.test("a board resuming from a sequence seen before the restore gets a snapshot, not the new history as a continuation", async (t) => {
    const resumed = new StreamReader<WatchQueueResponse>((signal) => board.watchQueue({ queueId, afterSequence: lastBoardSequence }, { signal }));
    t.teardown(() => resumed.close());
    const resumedFirst = await resumed.next("the resumed board's first message");
    t.ok(resumedFirst.snapshot && resumedFirst.resumeFailed, "a resume from before the restore gets a snapshot saying so");
    resumed.close();
  });

  await t.test("the board of a queue the restore removed is told so instead of waiting", async (t) => {
    const goneError = await goneWatch.ending("the board of a queue the restore removed ends");
    t.equal(ConnectError.from(goneError).code, Code.NotFound, "its stream ends with NOT_FOUND");
  });

  boardWatch.close();
  receptionWatch.close();
  locationWatch.close();
  return { queueId, ticketsAfterBackup, appointmentAfterBackup: lost.appointmentId, ticketAfterRestore: afterRestore.ticketId };
}

/**
 * auditKeptAcrossRestore checks, in the system's database, that the restore lost no audit row: who
 * issued the rolled-back tickets and booked the rolled-back appointment is still on record, before the
 * rows written after the restore; and no schema moved aside by the restore is left behind.
 */
export async function auditKeptAcrossRestore(t: Test, db: Kysely<any>, seen: RestoreScenarioResult): Promise<void> {
  const issued = await sql<{ id: string; record_id: string }>`
    select id::text, record_id from queue.audit_log
     where action = 'IssueTicket' and record_id = any(${[...seen.ticketsAfterBackup, seen.ticketAfterRestore]}::text[])
     order by id`.execute(db);
  t.same(
    issued.rows.map((r) => r.record_id),
    [...seen.ticketsAfterBackup, seen.ticketAfterRestore],
    "who issued the tickets the restore rolled back is still in the queue audit log, before the ticket issued after it",
  );
  const booked = await sql<{ n: number }>`
    select count(*)::int as n from scheduling.audit_log where action = 'BookAppointment' and record_id = ${seen.appointmentAfterBackup}`.execute(db);
  t.equal(booked.rows[0].n, 1, "who booked the appointment the restore rolled back is still in the scheduling audit log");
  const leftovers = await sql<{ nspname: string }>`select nspname from pg_namespace where nspname like '%before_restore'`.execute(db);
  t.same(leftovers.rows, [], "the live schemas moved aside during the restore are gone");
}
