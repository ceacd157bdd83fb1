// What a patient may do on their own (issue 18's class "impossible clinic actions are accepted",
// cases found after its first wave): a patient cannot cancel, move or accept an appointment once it
// has started (that would erase a no-show before reception marks it), while staff still can; a
// patient booking themselves holds at most SCHEDULING_MAX_UPCOMING_PER_PATIENT appointments that have
// not ended (so one token cannot book out a doctor's days), staff booking for them are not limited,
// and concurrent self-bookings cannot all slip under the limit; a patient waits on a provider's
// waitlist once per stretch of time, also when the joins race. The class against real Postgres under
// a fake clock.
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  AcceptOfferRequestSchema,
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  GetAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { ConfigError } from "../../services/runtime/config.js";
import { loadSchedulingOptions, type SchedulingOptions } from "../../services/scheduling/scheduling-options.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure as failure, domainReasonOf as outcome, reasonAfterRetries as retried } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

t.setTimeout(120_000);
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule], { maxConnections: 20 });

const clock = createFakeClock(new Date("2026-03-02T00:00:00Z"));
const instance = (options: Partial<SchedulingOptions> = {}) => directSchedulingService(t, { db: database.db, clock }, options);
const svc = instance();

const asPatient = (method: DescMethod, patientId: string) => ctx(method, "patient", patientId);
let n = 0;
const rid = (what: string) => `${what}-${++n}`;

/** provider creates a provider in UTC working around the clock, 15-minute slots. */
const provider = (providerId: string, s = svc) => createProviderIn(s, ctx, { providerId });

const bookReq = (providerId: string, patientId: string, start: Date, requestId = rid("book")) =>
  create(BookAppointmentRequestSchema, { requestId, providerId, patientId, startTime: timestampFromDate(start), duration: { seconds: 900n } });
/** bookSelf books as the patient themselves. */
const bookSelf = (providerId: string, patientId: string, start: Date, s = svc, requestId?: string) => s.bookAppointment(bookReq(providerId, patientId, start, requestId), asPatient(m.bookAppointment, patientId));
/** bookByStaff books for the patient as reception. */
const bookByStaff = (providerId: string, patientId: string, start: Date) => svc.bookAppointment(bookReq(providerId, patientId, start), ctx(m.bookAppointment));
const statusOf = async (appointmentId: string) => (await svc.getAppointment(create(GetAppointmentRequestSchema, { appointmentId }), ctx(m.getAppointment))).appointment?.status;

t.test("a patient may cancel, move or accept an appointment only until it starts; staff also after", async (t) => {
  await provider("p-utc");
  clock.set(new Date("2026-03-09T20:00:00Z"));
  const a = (await bookSelf("p-utc", "demo-patient", new Date("2026-03-10T04:15:00Z"))).appointment!;
  const b = (await bookSelf("p-utc", "demo-patient", new Date("2026-03-10T05:00:00Z"))).appointment!;
  clock.set(new Date("2026-03-10T04:16:00Z"));
  const cancel = await failure(svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: rid("c") }), asPatient(m.cancelAppointment, "demo-patient")));
  t.equal(cancel.code, Code.FailedPrecondition);
  t.equal(cancel.reason, "PATIENT_CHANGE_CLOSED");
  t.equal(cancel.message, "the appointment with Dr. p-utc at 04:15 on Tuesday 10 March 2026 (UTC) has already started, so it can no longer be cancelled online; please contact the clinic");
  t.same(cancel.metadata, { providerName: "Dr. p-utc", timeZone: "UTC", localTime: "04:15", localDate: "2026-03-10", action: "CANCEL", appointmentLocalTime: "04:15", appointmentLocalDate: "2026-03-10" });
  const move = svc.rescheduleAppointment(
    create(RescheduleAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: rid("r"), newStartTime: timestampFromDate(new Date("2026-03-11T04:15:00Z")) }),
    asPatient(m.rescheduleAppointment, "demo-patient"),
  );
  t.equal((await failure(move)).reason, "PATIENT_CHANGE_CLOSED", "nor moved");
  t.equal(await statusOf(a.appointmentId), AppointmentStatus.BOOKED, "still there for reception to mark a no-show");
  t.equal(
    await outcome(svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: b.appointmentId, requestId: rid("c") }), asPatient(m.cancelAppointment, "demo-patient"))),
    "OK",
    "one that has not started yet: the patient cancels it",
  );
  const byStaff = await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: rid("c"), reason: "called in sick" }), ctx(m.cancelAppointment));
  t.equal(byStaff.appointment?.status, AppointmentStatus.CANCELLED, "reception still can");
  // The start itself is already too late.
  clock.set(new Date("2026-03-10T10:00:00Z"));
  const c = (await bookSelf("p-utc", "demo-patient", new Date("2026-03-10T10:30:00Z"))).appointment!;
  clock.set(new Date("2026-03-10T10:30:00Z"));
  t.equal(await outcome(svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: c.appointmentId, requestId: rid("c") }), asPatient(m.cancelAppointment, "demo-patient"))), "PATIENT_CHANGE_CLOSED");
  const moved = await svc.rescheduleAppointment(
    create(RescheduleAppointmentRequestSchema, { appointmentId: c.appointmentId, requestId: rid("r"), newStartTime: timestampFromDate(new Date("2026-03-11T10:30:00Z")) }),
    ctx(m.rescheduleAppointment),
  );
  t.equal(moved.appointment?.status, AppointmentStatus.BOOKED, "reception moves a missed appointment");
});

t.test("a patient booking themselves holds at most 5 appointments that have not ended; staff are not limited", async (t) => {
  for (const p of ["p-demir", "p-kaya"]) await provider(p);
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const day = Date.parse("2026-12-07T09:00:00Z");
  const mine: string[] = [];
  for (let i = 0; i < 5; i++) mine.push((await bookSelf(i % 2 ? "p-kaya" : "p-demir", "pat-greedy", new Date(day + i * 15 * MIN))).appointment!.appointmentId);
  const sixth = await failure(bookSelf("p-demir", "pat-greedy", new Date(day + 5 * 15 * MIN)));
  t.equal(sixth.code, Code.FailedPrecondition);
  t.equal(sixth.reason, "PATIENT_BOOKING_LIMIT");
  t.equal(sixth.message, "you already have 5 upcoming appointments, the most that can be booked online at one time; cancel one first, or ask the clinic to book this one for you");
  t.same(sixth.metadata, { limit: "5" });
  const all = await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId: "pat-greedy" }), ctx(m.listAppointments));
  t.equal(all.appointments?.length, 5, "nothing booked by the refused call");
  t.equal(await outcome(bookByStaff("p-demir", "pat-greedy", new Date(day + 6 * 15 * MIN))), "OK", "reception books a sixth for the patient");
  // A retry of a booking that succeeded still answers with it.
  const again = await bookSelf("p-kaya", "pat-other", new Date(day + 10 * 15 * MIN), svc, "same-request");
  t.same(await bookSelf("p-kaya", "pat-other", new Date(day + 10 * 15 * MIN), svc, "same-request"), again);
  // Cancelled ones do not count; ones that have ended do not either.
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: mine[0], requestId: rid("c") }), asPatient(m.cancelAppointment, "pat-greedy"));
  t.equal(await outcome(bookSelf("p-demir", "pat-greedy", new Date(day + 20 * 15 * MIN))), "PATIENT_BOOKING_LIMIT", "still 5 with the one reception booked");
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: mine[1], requestId: rid("c") }), asPatient(m.cancelAppointment, "pat-greedy"));
  t.equal(await outcome(bookSelf("p-demir", "pat-greedy", new Date(day + 20 * 15 * MIN))), "OK", "one cancelled: one more");
  clock.set(new Date(day + 3 * 15 * MIN));
  t.equal(await outcome(bookSelf("p-kaya", "pat-greedy", new Date(day + 21 * 15 * MIN))), "OK", "the ones that have ended count no more");
});

t.test("accepting a waitlist offer counts as booking: refused for a patient at the limit, not for staff", async (t) => {
  await provider("p-offer");
  clock.set(new Date("2026-04-01T08:00:00Z"));
  const day = Date.parse("2026-04-02T09:00:00Z");
  for (let i = 0; i < 3; i++) await bookSelf("p-offer", "pat-full", new Date(day + i * 15 * MIN));
  const blockers = [(await bookByStaff("p-offer", "pat-someone", new Date(day + 8 * 15 * MIN))).appointment!, (await bookByStaff("p-offer", "pat-someone", new Date(day + 9 * 15 * MIN))).appointment!];
  for (const from of [8, 9]) {
    await svc.joinWaitlist(
      create(JoinWaitlistRequestSchema, { requestId: rid("wl"), providerId: "p-offer", patientId: "pat-full", windowStartTime: timestampFromDate(new Date(day + from * 15 * MIN)), windowEndTime: timestampFromDate(new Date(day + (from + 1) * 15 * MIN)) }),
      asPatient(m.joinWaitlist, "pat-full"),
    );
  }
  // Offered while below the limit (three booked, then three and an offer); then reception books a
  // fourth (the offers stand: five could still be reached). The accepts are answered by an instance
  // restarted with a limit of 4 (as a booking racing the accept would leave it): the patient is at it.
  for (const b of blockers) await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: b.appointmentId, requestId: rid("c") }), ctx(m.cancelAppointment));
  const offers = await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId: "pat-full", statuses: [AppointmentStatus.PROPOSED] }), ctx(m.listAppointments));
  const [first, second] = (offers.appointments ?? []).map((a) => a.appointmentId);
  if (!first || !second) throw new Error("the freed time was not offered");
  await bookByStaff("p-offer", "pat-full", new Date(day + 3 * 15 * MIN));
  t.equal(await statusOf(first), AppointmentStatus.PROPOSED, "the offers stand below the limit");
  const tight = instance({ maxUpcomingPerPatient: 4 });
  const accept = (appointmentId: string, role: Role, subject: string) => tight.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId, requestId: rid("acc") }), ctx(m.acceptOffer, role, subject));
  t.equal(await outcome(accept(first, "patient", "pat-full")), "PATIENT_BOOKING_LIMIT");
  t.equal(await statusOf(first), AppointmentStatus.CANCELLED, "the offer is passed on (nobody else waits: the time is free)");
  t.equal(await outcome(accept(second, "receptionist", "rec-1")), "OK", "reception accepts the other for the patient");
});

t.test("SCHEDULING_MAX_UPCOMING_PER_PATIENT sets the limit; 0 lifts it", async (t) => {
  t.equal(loadSchedulingOptions({}).maxUpcomingPerPatient, 5, "default 5");
  t.equal(loadSchedulingOptions({ SCHEDULING_MAX_UPCOMING_PER_PATIENT: "12" }).maxUpcomingPerPatient, 12);
  t.equal(loadSchedulingOptions({ SCHEDULING_MAX_UPCOMING_PER_PATIENT: "0" }).maxUpcomingPerPatient, 0);
  for (const bad of ["-1", "five", "2.5", "1001"]) t.throws(() => loadSchedulingOptions({ SCHEDULING_MAX_UPCOMING_PER_PATIENT: bad }), ConfigError, bad);
  const one = instance({ maxUpcomingPerPatient: 1 });
  const none = instance({ maxUpcomingPerPatient: 0 });
  await provider("p-opt", one);
  clock.set(new Date("2026-05-01T08:00:00Z"));
  const day = Date.parse("2026-05-02T09:00:00Z");
  t.equal(await outcome(bookSelf("p-opt", "pat-opt", new Date(day), one)), "OK");
  const err = await failure(bookSelf("p-opt", "pat-opt", new Date(day + 15 * MIN), one));
  t.equal(err.message, "you already have an upcoming appointment, the most that can be booked online at one time; cancel one first, or ask the clinic to book this one for you");
  for (let i = 1; i <= 7; i++) t.equal(await outcome(bookSelf("p-opt", "pat-opt", new Date(day + i * 15 * MIN), none)), "OK", `no limit: ${i + 1}`);
});

t.test("concurrent self-bookings of one patient across providers: exactly the limit succeeds (real Postgres)", async (t) => {
  const providers = ["p-r1", "p-r2", "p-r3", "p-r4"];
  for (const p of providers) await provider(p);
  clock.set(new Date("2026-06-01T08:00:00Z"));
  const day = Date.parse("2026-06-02T09:00:00Z");
  for (let round = 0; round < 3; round++) {
    const patientId = `pat-race-${round}`;
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => retried(() => bookSelf(providers[i % 4], patientId, new Date(day + round * DAY + Math.floor(i / 4) * 15 * MIN)))),
    );
    t.equal(results.filter((r) => r === "OK").length, 5, `round ${round}: five booked`);
    t.equal(results.filter((r) => r === "PATIENT_BOOKING_LIMIT").length, 19, `round ${round}: the rest refused by the limit`);
    const { rows } = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointments where patient_id = ${patientId} and status = 'BOOKED'`.execute(database.db);
    t.equal(rows[0].n, "5", `round ${round}: five in the database`);
  }
});

t.test("a patient waits once per provider and stretch of time: duplicates and overlaps refused, also when racing", async (t) => {
  await provider("p-wl");
  await provider("p-wl2");
  clock.set(new Date("2026-07-01T08:00:00Z"));
  const at = (h: number) => timestampFromDate(new Date(Date.parse("2026-07-02T00:00:00Z") + h * 60 * MIN));
  const join = (patientId: string, providerId: string, from: number, to: number, requestId = rid("wl"), role: Role = "patient") =>
    svc.joinWaitlist(
      create(JoinWaitlistRequestSchema, { requestId, providerId, patientId, windowStartTime: at(from), windowEndTime: at(to) }),
      role === "patient" ? asPatient(m.joinWaitlist, patientId) : ctx(m.joinWaitlist),
    );
  const first = await join("pat-w", "p-wl", 9, 12, "wl-first");
  t.same(await join("pat-w", "p-wl", 9, 12, "wl-first"), first, "a retry with the same requestId returns the entry");
  const dup = await failure(join("pat-w", "p-wl", 9, 12));
  t.equal(dup.code, Code.FailedPrecondition);
  t.equal(dup.reason, "ALREADY_ON_WAITLIST");
  t.equal(dup.message, "the patient is already on Dr. p-wl's waitlist from 09:00 on Thursday 2 July 2026 (UTC) until 12:00; a second entry for the same time is not needed");
  t.match(dup.metadata, { localTime: "09:00", localDate: "2026-07-02", endLocalTime: "12:00", providerName: "Dr. p-wl" });
  t.equal(await outcome(join("pat-w", "p-wl", 9, 12)), "ALREADY_ON_WAITLIST", "a third identical one too");
  t.equal(await outcome(join("pat-w", "p-wl", 11, 14, rid("wl"), "receptionist")), "ALREADY_ON_WAITLIST", "an overlapping window, by staff too");
  t.equal(await outcome(join("pat-w", "p-wl", 12, 14)), "OK", "the next stretch of time");
  t.equal(await outcome(join("pat-w", "p-wl2", 9, 12)), "OK", "another provider");
  t.equal(await outcome(join("pat-v", "p-wl", 9, 12)), "OK", "another patient");
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from scheduling.waitlist where patient_id = 'pat-w' and provider_id = 'p-wl'`.execute(database.db);
  t.equal(rows[0].n, "2", "two entries, not three identical ones");
  // Once the entry is no longer waiting (expired), the patient may join again.
  await sql`update scheduling.waitlist set status = 'EXPIRED' where entry_id = ${first.entry!.waitlistEntryId!}`.execute(database.db);
  t.equal(await outcome(join("pat-w", "p-wl", 9, 12)), "OK");
  // Ten identical joins at once (different requestIds): one entry.
  const raced = await Promise.all(Array.from({ length: 10 }, () => retried(() => join("pat-race", "p-wl", 15, 17))));
  t.same(raced.filter((r) => r === "OK").length, 1, "one joined");
  t.same(raced.filter((r) => r === "ALREADY_ON_WAITLIST").length, 9, "the others refused");
});
