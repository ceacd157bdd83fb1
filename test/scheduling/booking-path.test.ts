// The booking path's one-statement write, against real Postgres with the class called directly and
// a fake lock client (the lock service itself is proven in test/lock and booking-concurrency.test.ts):
// a fenced-out holder writes nothing at all, an exclusion violation found only by the write is still
// "slot taken" and claims no requestId, row waits are bounded by lock_timeout without leaking it into
// the pooled session, concurrent retries without the lock get the first response, CompleteAppointment
// (CHECKED_IN -> FULFILLED), and the scheduling metrics as scraped from GET /metrics.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  CompleteAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { serveMetrics } from "../../services/runtime/observability/metrics.js";
import type { LockClient } from "../../services/runtime/clients/with-lock.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createProviderIn } from "../helpers/scheduling.js";
import { domainFailure as failure } from "../helpers/call-outcome.js";
import { createModuleDatabase, openAnotherPool } from "../helpers/module-database.js";

const MIN = 60_000;
const m = SchedulingService.method;
// One pooled connection: what one statement leaves in the session, the next one sees.
const database = await createModuleDatabase(t, [schedulingModule], { maxConnections: 1 });
const db = database.db;
// A second pool, for the test's own blocking transactions.
const other = await openAnotherPool(t, database);

/** fakeLock hands out the queued fencing tokens, one per acquire. */
function fakeLock(tokens: bigint[]): LockClient {
  let n = 0;
  return {
    acquire: async () => ({ lease: { leaseId: `lease-${n}`, fencingToken: tokens[n++] ?? BigInt(1000 + n), expiresAt: undefined } }),
    extend: async () => ({ lease: { leaseId: "x", fencingToken: 0n } }),
    release: async () => ({ released: true }),
  };
}

// A few days before the bookings below, whenever the test runs: no booking starts in the past.
const clock = createFakeClock(new Date("2027-02-26T08:00:00Z"));

function instance(opts: { tokens?: bigint[]; useLock: boolean; lockWaitMs?: number }): SchedulingServiceImpl {
  const svc = new SchedulingServiceImpl(
    { db, clock, lockClient: opts.tokens ? fakeLock(opts.tokens) : undefined },
    { useLock: opts.useLock, lockWaitMs: opts.lockWaitMs, offerSweepIntervalMs: 0, listen: false },
  );
  t.teardown(() => svc.close());
  return svc;
}

const ts = (ms: number) => timestampFromDate(new Date(ms));
const DAY = Date.parse("2027-03-01T00:00:00Z");

const provider = (svc: SchedulingServiceImpl, providerId: string) =>
  createProviderIn(svc, ctx, { providerId, displayName: "Dr. P", start: "08:00", end: "18:00", slotMinutes: 30 });

const bookReq = (providerId: string, requestId: string, startMs: number) =>
  create(BookAppointmentRequestSchema, { requestId, providerId, patientId: "pat-1", startTime: ts(startMs), duration: { seconds: 1800n } });

async function count(table: string, where: ReturnType<typeof sql>): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from ${sql.table(`scheduling.${table}`)} where ${where}`.execute(db);
  return Number(rows[0].n);
}

async function lastSequence(providerId: string): Promise<string> {
  const { rows } = await sql<{ s: string }>`select last_sequence::text as s from scheduling.providers where provider_id = ${providerId}`.execute(db);
  return rows[0].s;
}

t.test("a holder fenced out by a newer token writes nothing: no appointment, requestId, audit or change", async (t) => {
  const svc = instance({ tokens: [50n, 40n, 60n], useLock: true });
  await provider(svc, "p-fence");
  const first = await svc.bookAppointment(bookReq("p-fence", "f-1", DAY + 9 * 60 * MIN), ctx(m.bookAppointment));
  t.equal(first.appointment?.fencingToken, 50n);
  const seq = await lastSequence("p-fence");
  const audits = await count("audit_log", sql`action = 'BookAppointment'`);

  const err = await failure(svc.bookAppointment(bookReq("p-fence", "f-2", DAY + 10 * 60 * MIN), ctx(m.bookAppointment)));
  t.equal(err.code, Code.Aborted, "a stale token is ABORTED");
  t.equal(err.reason, "FENCING_REJECTED");
  t.equal(await count("appointments", sql`provider_id = 'p-fence'`), 1, "no appointment");
  t.equal(await count("request_keys", sql`request_id = 'f-2'`), 0, "the requestId is not claimed");
  t.equal(await count("audit_log", sql`action = 'BookAppointment'`), audits, "no audit row");
  t.equal(await lastSequence("p-fence"), seq, "no change event, no sequence used");

  const retried = await svc.bookAppointment(bookReq("p-fence", "f-2", DAY + 10 * 60 * MIN), ctx(m.bookAppointment));
  t.equal(retried.appointment?.fencingToken, 60n, "the retry under a newer lease books");
  t.equal(await lastSequence("p-fence"), String(BigInt(seq) + 1n), "one change event, the next sequence");
});

/**
 * holdAppointment inserts a BOOKED 30-minute appointment in another session's open transaction and
 * resolves once it is in; `release()` then ends that transaction (commit or roll back) and `holder`
 * settles with it.
 */
async function holdAppointment(appointmentId: string, providerId: string, start: number, end: "commit" | "roll back") {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let inserted!: () => void;
  const blocking = new Promise<void>((r) => (inserted = r));
  const holder = other.db.transaction().execute(async (trx) => {
    await sql`insert into scheduling.appointments (appointment_id, provider_id, patient_id, during, blocked, status, created_at, updated_at)
      values (${appointmentId}, ${providerId}, 'pat-2', tstzrange(${new Date(start)}, ${new Date(start + 30 * MIN)}, '[)'),
        tstzrange(${new Date(start)}, ${new Date(start + 30 * MIN)}, '[)'), 'BOOKED', now(), now())`.execute(trx);
    inserted();
    await released;
    if (end === "roll back") throw new Error("roll back");
  });
  await blocking;
  return { holder, release };
}

t.test("an overlap only the write sees is still FAILED_PRECONDITION slot taken, and claims no requestId", async (t) => {
  const svc = instance({ tokens: [], useLock: true, lockWaitMs: 5_000 });
  await provider(svc, "p-race");
  const start = DAY + 11 * 60 * MIN;
  // Another writer's uncommitted appointment over the same time: invisible to the booking's read,
  // waited for by its exclusion check.
  const { holder, release } = await holdAppointment("a-other", "p-race", start, "commit");
  const booking = failure(svc.bookAppointment(bookReq("p-race", "r-1", start), ctx(m.bookAppointment)));
  await new Promise((r) => setTimeout(r, 300));
  release();
  await holder;
  const err = await booking;
  t.equal(err.code, Code.FailedPrecondition);
  t.equal(err.reason, "SLOT_TAKEN", "the exclusion constraint's answer");
  t.equal(await count("request_keys", sql`request_id = 'r-1'`), 0, "the requestId is free for another try");
  t.equal(await count("appointments", sql`provider_id = 'p-race'`), 1, "only the other writer's appointment");
});

t.test("row waits end at lock_timeout (ABORTED), and lock_timeout does not stay in the pooled session", async (t) => {
  const svc = instance({ tokens: [], useLock: true, lockWaitMs: 300 });
  await provider(svc, "p-wait");
  const start = DAY + 12 * 60 * MIN;
  const { holder, release } = await holdAppointment("a-wait", "p-wait", start, "roll back");
  const began = Date.now();
  const err = await failure(svc.bookAppointment(bookReq("p-wait", "w-1", start), ctx(m.bookAppointment)));
  const waited = Date.now() - began;
  release();
  await holder.catch(() => undefined);
  t.equal(err.code, Code.Aborted, "a row wait past lock_timeout is ABORTED");
  t.ok(waited >= 250 && waited < 5_000, `waited ${waited} ms, about lockWaitMs`);
  const { rows } = await sql<{ v: string }>`select current_setting('lock_timeout') as v`.execute(db);
  t.equal(rows[0].v, "0", "the session's lock_timeout is back to the default");
  const ok = await svc.bookAppointment(bookReq("p-wait", "w-1", start), ctx(m.bookAppointment));
  t.equal(ok.appointment?.status, AppointmentStatus.BOOKED, "once the other writer rolled back, the retry books");
});

t.test("without the lock, 10 concurrent calls with one requestId book once and all get the first response", async (t) => {
  const svc = instance({ useLock: false });
  await provider(svc, "p-idem");
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, () => svc.bookAppointment(bookReq("p-idem", "i-1", DAY + 13 * 60 * MIN), ctx(m.bookAppointment))),
  );
  const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as DomainError] : []));
  t.same(failed.map((e) => e.code).filter((c) => c !== Code.Aborted), [], "failures, if any, are retryable ABORTED");
  t.ok(ok.length > 0);
  t.equal(new Set(ok.map((r) => r.appointment?.appointmentId)).size, 1, "one appointment id in every answer");
  t.equal(await count("appointments", sql`provider_id = 'p-idem'`), 1, "one appointment");
  const again = await svc.bookAppointment(bookReq("p-idem", "i-1", DAY + 13 * 60 * MIN), ctx(m.bookAppointment));
  t.same(again, ok[0], "a later retry returns the same response");
  const other = await failure(svc.bookAppointment(bookReq("p-idem", "i-1", DAY + 14 * 60 * MIN), ctx(m.bookAppointment)));
  t.equal(other.code, Code.AlreadyExists);
});

t.test("CompleteAppointment: CHECKED_IN -> FULFILLED, idempotent, audited; other states refused", async (t) => {
  const svc = instance({ useLock: false });
  await provider(svc, "p-done");
  const booked = (await svc.bookAppointment(bookReq("p-done", "d-1", DAY + 15 * 60 * MIN), ctx(m.bookAppointment))).appointment!;
  const early = await failure(svc.completeAppointment(create(CompleteAppointmentRequestSchema, { appointmentId: booked.appointmentId, requestId: "c-0" }), ctx(m.completeAppointment)));
  t.equal(early.code, Code.FailedPrecondition, "a BOOKED appointment (never checked in) cannot be fulfilled");
  // Check-in goes through the QueueService (scheduling-service.test.ts); here the state is set directly.
  await sql`update scheduling.appointments set status = 'CHECKED_IN' where appointment_id = ${booked.appointmentId}`.execute(db);
  const req = create(CompleteAppointmentRequestSchema, { appointmentId: booked.appointmentId, requestId: "c-1" });
  const done = await svc.completeAppointment(req, ctx(m.completeAppointment));
  t.equal(done.appointment?.status, AppointmentStatus.FULFILLED);
  t.same(await svc.completeAppointment(req, ctx(m.completeAppointment)), done, "a retry returns the first response");
  t.equal(await count("audit_log", sql`action = 'CompleteAppointment' and record_id = ${booked.appointmentId}`), 1, "audited once");
  const again = await failure(svc.completeAppointment(create(CompleteAppointmentRequestSchema, { appointmentId: booked.appointmentId, requestId: "c-2" }), ctx(m.completeAppointment)));
  t.equal(again.code, Code.FailedPrecondition, "FULFILLED is final");
});

t.test("scheduling metrics: bookings by outcome, transitions by status, the waitlist, scraped from GET /metrics", async (t) => {
  const svc = instance({ useLock: false });
  await provider(svc, "p-metrics");
  const server = await serveMetrics(0);
  t.teardown(() => server.close());
  const scrape = async () => (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const value = (text: string, series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };
  const before = await scrape();
  const start = DAY + 9 * 60 * MIN;
  await svc.bookAppointment(bookReq("p-metrics", "m-1", start), ctx(m.bookAppointment));
  await svc.bookAppointment(bookReq("p-metrics", "m-1", start), ctx(m.bookAppointment));
  await failure(svc.bookAppointment(bookReq("p-metrics", "m-2", start), ctx(m.bookAppointment)));
  await failure(svc.bookAppointment(bookReq("p-metrics", "m-3", DAY + 3 * 60 * MIN), ctx(m.bookAppointment)));
  await failure(svc.bookAppointment(bookReq("p-nobody", "m-4", start), ctx(m.bookAppointment)));
  await svc.joinWaitlist(
    create(JoinWaitlistRequestSchema, { requestId: "m-w", providerId: "p-metrics", patientId: "pat-9", windowStartTime: ts(DAY), windowEndTime: ts(DAY + 86_400_000) }),
    ctx(m.joinWaitlist),
  );
  const after = await scrape();
  const delta = (series: string) => value(after, series) - value(before, series);
  t.equal(delta('scheduling_bookings_total{outcome="booked"}'), 1);
  t.equal(delta('scheduling_bookings_total{outcome="replayed"}'), 1);
  t.equal(delta('scheduling_bookings_total{outcome="slot_taken"}'), 1);
  t.equal(delta('scheduling_bookings_total{outcome="not_bookable"}'), 1, "outside working hours");
  t.equal(delta('scheduling_bookings_total{outcome="rejected"}'), 1, "unknown provider");
  t.equal(delta('scheduling_appointment_transitions_total{to="BOOKED"}'), 1, "one appointment created BOOKED");
  t.ok(value(after, "scheduling_waitlist_waiting") >= 1, "the waiting entry is counted");
  t.match(after, /# TYPE scheduling_bookings_total counter/);
  t.notMatch(after, /pat-|p-metrics/, "no patient or provider id in any label");
});
