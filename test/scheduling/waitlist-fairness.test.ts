// One patient token must not take freed time off the market through the waitlist (issue 18's class
// "impossible clinic actions are accepted", found by the second outside check): a patient joining
// waitlists themselves holds at most SCHEDULING_MAX_WAITLIST_PER_PATIENT active entries, also when
// the joins race; freed time is offered only to a patient who could accept it (below the booking
// limit, free then), the others are passed over; an offer its patient can no longer accept (they
// booked elsewhere since) is passed on at once, at that booking or at AcceptOffer, not held for the
// rest of its hold; and time held by an offer is named as such (SLOT_HELD_FOR_OFFER, until when),
// not "already booked".
// Real Postgres, a fake clock, the class called directly.
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { AppointmentStatus, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  AcceptOfferRequestSchema,
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  GetAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  ListAvailableSlotsRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { ConfigError } from "../../services/runtime/config.js";
import { loadSchedulingOptions, type SchedulingOptions } from "../../services/scheduling/scheduling-options.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext } from "../helpers/handler-context.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure as failure, domainReasonOf as outcome, reasonAfterRetries as retried } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

t.setTimeout(120_000);
const MIN = 60_000;
const HOUR = 60 * MIN;
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule], { maxConnections: 20 });

const clock = createFakeClock(new Date("2026-12-06T08:00:00Z"));
const instance = (options: Partial<SchedulingOptions> = {}) => directSchedulingService(t, { db: database.db, clock }, options);
const svc = instance();

const ctx = (method: DescMethod, role: Role = "admin", subject = "admin-1") => callerContext(method, role, subject);
const asPatient = (method: DescMethod, patientId: string) => ctx(method, "patient", patientId);
let n = 0;
const rid = (what: string) => `${what}-${++n}`;
const ts = (at: Date | string | number) => timestampFromDate(new Date(at));

/** provider creates a provider working around the clock, 15-minute slots (Dr. Test in Istanbul unless told). */
const provider = (providerId: string, displayName = `Dr. ${providerId}`, timeZone = "Europe/Istanbul", s = svc) => createProviderIn(s, ctx, { providerId, displayName, timeZone });

const bookReq = (providerId: string, patientId: string, start: Date | string, minutes = 15) =>
  create(BookAppointmentRequestSchema, { requestId: rid("book"), providerId, patientId, startTime: ts(start), duration: { seconds: BigInt(minutes * 60) } });
/** bookSelf books as the patient themselves. */
const bookSelf = (providerId: string, patientId: string, start: Date | string, s = svc) => s.bookAppointment(bookReq(providerId, patientId, start), asPatient(m.bookAppointment, patientId));
/** bookByStaff books for the patient as the admin. */
const bookByStaff = async (providerId: string, patientId: string, start: Date | string, minutes = 15) =>
  (await svc.bookAppointment(bookReq(providerId, patientId, start, minutes), ctx(m.bookAppointment))).appointment!;
const cancelByStaff = (appointmentId: string) => svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId, requestId: rid("cancel") }), ctx(m.cancelAppointment));
/** join puts a patient on a provider's waitlist for [from, to), as the patient (or as staff). */
const join = (providerId: string, patientId: string, from: Date | string | number, to: Date | string | number, opts: { staff?: boolean; s?: SchedulingServiceImpl } = {}) =>
  (opts.s ?? svc).joinWaitlist(
    create(JoinWaitlistRequestSchema, { requestId: rid("join"), providerId, patientId, windowStartTime: ts(from), windowEndTime: ts(to) }),
    opts.staff ? ctx(m.joinWaitlist) : asPatient(m.joinWaitlist, patientId),
  );
const accept = (appointmentId: string, role: Role, subject: string) =>
  svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId, requestId: rid("accept") }), ctx(m.acceptOffer, role, subject));
const statusOf = async (appointmentId: string) => (await svc.getAppointment(create(GetAppointmentRequestSchema, { appointmentId }), ctx(m.getAppointment))).appointment?.status;
async function offersFor(patientId: string): Promise<Appointment[]> {
  const r = await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId, statuses: [AppointmentStatus.PROPOSED] }), ctx(m.listAppointments));
  return r.appointments as Appointment[];
}
async function entryStatuses(patientId: string): Promise<string[]> {
  const { rows } = await sql<{ status: string }>`select status from scheduling.waitlist where patient_id = ${patientId} order by seq`.execute(database.db);
  return rows.map((r) => r.status);
}

t.test("the outside check: 60 waitlist joins and a full booking limit no longer take a cancellation off the market", async (t) => {
  await provider("p-test", "Dr. Test");
  await provider("p-else", "Dr. Else");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  // One wide window over the day of the later cancellation, then 59 hourly ones.
  const joined = [await outcome(join("p-test", "pat-hog", "2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z"))];
  for (let h = 0; h < 59; h++) joined.push(await outcome(join("p-test", "pat-hog", Date.parse("2026-12-07T00:00:00Z") + h * HOUR, Date.parse("2026-12-07T01:00:00Z") + h * HOUR)));
  t.equal(joined.filter((r) => r === "OK").length, 3, "three joins accepted");
  t.equal(joined.filter((r) => r === "PATIENT_WAITLIST_LIMIT").length, 33, "the rest refused by the limit");
  t.equal(joined.filter((r) => r === "ALREADY_ON_WAITLIST").length, 24, "or, inside the wide window, as a repeat");
  const booked = [];
  for (let i = 0; i < 7; i++) booked.push(await outcome(bookSelf("p-else", "pat-hog", new Date(Date.parse("2026-12-10T09:00:00Z") + i * 15 * MIN))));
  t.same(booked, ["OK", "OK", "OK", "OK", "OK", "PATIENT_BOOKING_LIMIT", "PATIENT_BOOKING_LIMIT"]);
  const other = await bookByStaff("p-test", "other-1", "2026-12-08T10:00:00Z");
  await cancelByStaff(other.appointmentId);
  t.same(await offersFor("pat-hog"), [], "no offer to a patient who could not accept it");
  t.same(await entryStatuses("pat-hog"), ["WAITING", "WAITING", "WAITING"], "the entries keep their place");
  const free = await svc.listAvailableSlots(
    create(ListAvailableSlotsRequestSchema, { providerId: "p-test", startTime: ts("2026-12-08T10:00:00Z"), endTime: ts("2026-12-08T10:15:00Z") }),
    ctx(m.listAvailableSlots),
  );
  t.equal(free.slots?.length, 1, "the freed slot is listed");
  t.equal((await bookByStaff("p-test", "other-2", "2026-12-08T10:00:00Z")).status, AppointmentStatus.BOOKED, "and can be booked at once");
});

t.test("a patient joining waitlists themselves holds at most 3 active entries; repeats, staff and ended windows", async (t) => {
  await provider("p-wa");
  await provider("p-wb");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const at = (h: number) => Date.parse("2026-12-07T00:00:00Z") + h * HOUR;
  t.equal(await outcome(join("p-wa", "pat-cap", at(1), at(2))), "OK");
  t.equal(await outcome(join("p-wa", "pat-cap", at(3), at(4))), "OK");
  t.equal(await outcome(join("p-wb", "pat-cap", at(1), at(2))), "OK", "another provider's waitlist counts too");
  const fourth = await failure(join("p-wb", "pat-cap", at(5), at(6)));
  t.equal(fourth.code, Code.FailedPrecondition);
  t.equal(fourth.reason, "PATIENT_WAITLIST_LIMIT");
  t.equal(
    fourth.message,
    "you are already on the waitlist for 3 appointments, the most that can be waited for online at one time; wait for an offer or until one of those times has passed, or ask the clinic to add you",
  );
  t.same(fourth.metadata, { limit: "3" });
  t.equal(await outcome(join("p-wa", "pat-cap", at(1), at(2))), "ALREADY_ON_WAITLIST", "a repeat of a window already held says so");
  t.equal((await entryStatuses("pat-cap")).length, 3, "nothing written by the refused joins");
  t.equal(await outcome(join("p-wb", "pat-cap", at(5), at(6), { staff: true })), "OK", "reception adds a fourth for the patient");
  t.equal(await outcome(join("p-wb", "pat-cap", at(7), at(8))), "PATIENT_WAITLIST_LIMIT", "the patient still cannot");
  // Entries no longer active free a place: one expired, and windows that have ended.
  await sql`update scheduling.waitlist set status = 'EXPIRED' where patient_id = 'pat-cap' and provider_id = 'p-wb' and window_start = ${new Date(at(5))}`.execute(database.db);
  t.equal(await outcome(join("p-wb", "pat-cap", at(7), at(8))), "PATIENT_WAITLIST_LIMIT", "three still active");
  await sql`update scheduling.waitlist set status = 'EXPIRED' where patient_id = 'pat-cap' and provider_id = 'p-wb' and window_start = ${new Date(at(1))}`.execute(database.db);
  t.equal(await outcome(join("p-wb", "pat-cap", at(7), at(8))), "OK", "one expired: one more");
  clock.set(new Date(at(2)));
  t.equal(await outcome(join("p-wb", "pat-cap", at(9), at(10))), "OK", "the windows that have ended count no more");
});

t.test("SCHEDULING_MAX_WAITLIST_PER_PATIENT sets the limit; 0 lifts it", async (t) => {
  t.equal(loadSchedulingOptions({}).maxWaitlistPerPatient, 3, "default 3");
  t.equal(loadSchedulingOptions({ SCHEDULING_MAX_WAITLIST_PER_PATIENT: "10" }).maxWaitlistPerPatient, 10);
  t.equal(loadSchedulingOptions({ SCHEDULING_MAX_WAITLIST_PER_PATIENT: "0" }).maxWaitlistPerPatient, 0);
  for (const bad of ["-1", "three", "2.5", "1001"]) t.throws(() => loadSchedulingOptions({ SCHEDULING_MAX_WAITLIST_PER_PATIENT: bad }), ConfigError, bad);
  const one = instance({ maxWaitlistPerPatient: 1 });
  const none = instance({ maxWaitlistPerPatient: 0 });
  await provider("p-wopt", undefined, undefined, one);
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const at = (h: number) => Date.parse("2026-12-08T00:00:00Z") + h * HOUR;
  t.equal(await outcome(join("p-wopt", "pat-wopt", at(0), at(1), { s: one })), "OK");
  const err = await failure(join("p-wopt", "pat-wopt", at(1), at(2), { s: one }));
  t.match(err.message, /^you are already on the waitlist for an appointment, the most/);
  for (let i = 1; i <= 6; i++) t.equal(await outcome(join("p-wopt", "pat-wopt", at(i), at(i + 1), { s: none })), "OK", `no limit: ${i + 1}`);
});

t.test("concurrent waitlist joins of one patient: exactly the limit succeeds (real Postgres)", async (t) => {
  const providers = ["p-jr1", "p-jr2"];
  for (const p of providers) await provider(p);
  clock.set(new Date("2026-12-06T08:00:00Z"));
  for (let round = 0; round < 3; round++) {
    const patientId = `pat-jrace-${round}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => retried(() => join(providers[i % 2], patientId, Date.parse("2026-12-07T00:00:00Z") + i * HOUR, Date.parse("2026-12-07T01:00:00Z") + i * HOUR))),
    );
    t.equal(results.filter((r) => r === "OK").length, 3, `round ${round}: three joined (${results.join(" ")})`);
    t.equal(results.filter((r) => r === "PATIENT_WAITLIST_LIMIT").length, 17, `round ${round}: the rest refused by the limit`);
    t.equal((await entryStatuses(patientId)).length, 3, `round ${round}: three in the database`);
  }
});

t.test("freed time is offered only to a patient who could accept it; the next in line gets it", async (t) => {
  await provider("p-fr");
  await provider("p-fr-other");
  await provider("p-fr-third");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const slot = "2026-12-08T10:00:00Z";
  const blocker = await bookByStaff("p-fr", "pat-blocker", slot);
  // pat-full: five upcoming appointments (reception booked some: they count).
  for (let i = 0; i < 5; i++) await bookByStaff("p-fr-other", "pat-full", new Date(Date.parse("2026-12-09T09:00:00Z") + i * 15 * MIN));
  // pat-busy: an appointment elsewhere at the same time.
  await bookByStaff("p-fr-other", "pat-busy", "2026-12-08T10:00:00Z", 30);
  // pat-offered: four appointments and an open offer elsewhere make five.
  for (let i = 0; i < 4; i++) await bookByStaff("p-fr-other", "pat-offered", new Date(Date.parse("2026-12-10T09:00:00Z") + i * 15 * MIN));
  const elsewhere = await bookByStaff("p-fr-third", "pat-x", "2026-12-11T09:00:00Z");
  await join("p-fr-third", "pat-offered", "2026-12-11T00:00:00Z", "2026-12-12T00:00:00Z");
  await cancelByStaff(elsewhere.appointmentId);
  t.equal((await offersFor("pat-offered")).length, 1, "pat-offered holds an offer elsewhere");
  // All four wait for the slot, in this order; then one who can take it.
  for (const p of ["pat-full", "pat-busy", "pat-offered", "pat-free"]) await join("p-fr", p, "2026-12-08T09:00:00Z", "2026-12-08T12:00:00Z");
  await cancelByStaff(blocker.appointmentId);
  for (const p of ["pat-full", "pat-busy"]) t.same(await offersFor(p), [], `${p} is passed over`);
  t.equal((await offersFor("pat-offered")).length, 1, "pat-offered is passed over (only the earlier offer)");
  const [offer] = await offersFor("pat-free");
  t.ok(offer, "the next patient who can take it got the offer");
  t.equal(timestampDate(offer.startTime!).toISOString(), "2026-12-08T10:00:00.000Z");
  for (const p of ["pat-full", "pat-busy"]) t.same(await entryStatuses(p), ["WAITING"], `${p} keeps their place`);
  // A patient free at another part of the freed time gets that part instead.
  const long = await bookByStaff("p-fr", "pat-blocker", "2026-12-08T14:00:00Z", 30);
  await join("p-fr", "pat-half", "2026-12-08T14:00:00Z", "2026-12-08T15:00:00Z");
  await bookByStaff("p-fr-other", "pat-half", "2026-12-08T14:00:00Z");
  await cancelByStaff(long.appointmentId);
  const [half] = await offersFor("pat-half");
  t.equal(half && timestampDate(half.startTime!).toISOString(), "2026-12-08T14:15:00.000Z", "the slot where the patient is free");
});

t.test("waiting entries whose window has passed do not crowd out those still waiting", async (t) => {
  await provider("p-stale");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  for (let i = 0; i < 105; i++) await join("p-stale", `pat-stale-${i}`, "2026-12-06T09:00:00Z", "2026-12-06T10:00:00Z", { staff: true });
  await join("p-stale", "pat-late", "2026-12-07T09:00:00Z", "2026-12-07T10:00:00Z");
  const blocker = await bookByStaff("p-stale", "pat-blocker", "2026-12-07T09:00:00Z");
  clock.set(new Date("2026-12-06T12:00:00Z"));
  await cancelByStaff(blocker.appointmentId);
  t.equal((await offersFor("pat-late")).length, 1, "the patient still waiting got the offer");
});

t.test("an offer its patient can no longer accept is passed on at AcceptOffer, not held for the rest of its hold", async (t) => {
  // A booking passes on the offers its patient can no longer take (next test); AcceptOffer is the
  // last guard, for a booking racing the accept or a limit lowered since the offer: here an instance
  // restarted with SCHEDULING_MAX_UPCOMING_PER_PATIENT=4 answers the accept.
  const tight = instance({ maxUpcomingPerPatient: 4 });
  const acceptOn = (s: SchedulingServiceImpl, appointmentId: string, role: Role, subject: string) =>
    s.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId, requestId: rid("accept") }), ctx(m.acceptOffer, role, subject));
  await provider("p-po");
  await provider("p-po-other");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const blocker = await bookByStaff("p-po", "pat-blocker", "2026-12-08T10:00:00Z");
  for (let i = 0; i < 4; i++) await bookSelf("p-po-other", "pat-first", new Date(Date.parse("2026-12-09T09:00:00Z") + i * 15 * MIN));
  for (const p of ["pat-first", "pat-second"]) await join("p-po", p, "2026-12-08T09:00:00Z", "2026-12-08T12:00:00Z");
  await cancelByStaff(blocker.appointmentId);
  const [offer] = await offersFor("pat-first");
  t.ok(offer, "pat-first, below the limit, got the offer");
  clock.advance(2 * MIN);
  const refused = await failure(acceptOn(tight, offer.appointmentId, "patient", "pat-first"));
  t.equal(refused.code, Code.FailedPrecondition);
  t.equal(refused.reason, "PATIENT_BOOKING_LIMIT");
  t.equal(
    refused.message,
    "you already have 4 upcoming appointments, the most that can be booked online at one time, so this offer cannot be accepted and was passed on to the next patient waiting; you keep your place on the waitlist for later openings",
  );
  t.same(refused.metadata, { limit: "4" });
  t.equal(await statusOf(offer.appointmentId), AppointmentStatus.CANCELLED, "the offer is withdrawn at once");
  const [next] = await offersFor("pat-second");
  t.ok(next, "the next patient has it now");
  t.equal(next.startTime?.seconds, offer.startTime?.seconds, "the same time");
  t.equal(timestampDate(next.offerExpireTime!).getTime(), clock.now().getTime() + 15 * MIN, "held for them from now");
  t.same(await entryStatuses("pat-first"), ["WAITING"], "pat-first keeps their place on the waitlist");
  t.equal(await outcome(acceptOn(tight, next.appointmentId, "patient", "pat-second")), "OK");
  // Staff accepting for a patient at the limit are not limited, so nothing is passed on.
  const blocker2 = await bookByStaff("p-po", "pat-blocker", "2026-12-08T13:00:00Z");
  await join("p-po", "pat-staff", "2026-12-08T13:00:00Z", "2026-12-08T14:00:00Z");
  for (let i = 0; i < 4; i++) await bookSelf("p-po-other", "pat-staff", new Date(Date.parse("2026-12-10T09:00:00Z") + i * 15 * MIN));
  await cancelByStaff(blocker2.appointmentId);
  const [staffOffer] = await offersFor("pat-staff");
  t.ok(staffOffer, "offered while below the limit");
  t.equal(await outcome(acceptOn(tight, staffOffer.appointmentId, "receptionist", "rec-1")), "OK", "reception accepts it for the patient");
  t.equal(await statusOf(staffOffer.appointmentId), AppointmentStatus.BOOKED);
});

t.test("an offer its patient can no longer take after a booking is passed on at once, not held for the rest of its hold", async (t) => {
  await provider("p-pb");
  await provider("p-pb-other");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const blocker = await bookByStaff("p-pb", "pat-blocker", "2026-12-08T10:00:00Z");
  for (let i = 0; i < 4; i++) await bookSelf("p-pb-other", "pat-one", new Date(Date.parse("2026-12-09T09:00:00Z") + i * 15 * MIN));
  for (const p of ["pat-one", "pat-two"]) await join("p-pb", p, "2026-12-08T09:00:00Z", "2026-12-08T12:00:00Z");
  await cancelByStaff(blocker.appointmentId);
  const [offer] = await offersFor("pat-one");
  t.ok(offer, "pat-one, below the limit, got the offer");
  // pat-one books a fifth appointment themselves: they could no longer accept the offer.
  clock.advance(MIN);
  await bookSelf("p-pb-other", "pat-one", "2026-12-09T12:00:00Z");
  t.equal(await statusOf(offer.appointmentId), AppointmentStatus.CANCELLED, "the offer is withdrawn at the booking");
  t.same(await entryStatuses("pat-one"), ["WAITING"], "pat-one keeps their place");
  const [next] = await offersFor("pat-two");
  t.ok(next, "the next patient has it now");
  t.equal(next.startTime?.seconds, offer.startTime?.seconds, "the same time");
  t.equal(timestampDate(next.offerExpireTime!).getTime(), clock.now().getTime() + 15 * MIN, "held for them from now");
  // Reception books pat-two elsewhere at the offered time: that offer passes on too; nobody else
  // could take it (pat-one is at the limit), so the time is free.
  await bookByStaff("p-pb-other", "pat-two", "2026-12-08T10:00:00Z");
  t.equal(await statusOf(next.appointmentId), AppointmentStatus.CANCELLED, "an offer overlapping a new appointment of the patient is withdrawn");
  t.same(await offersFor("pat-one"), [], "not offered back to a patient at the limit");
  t.same(await entryStatuses("pat-two"), ["WAITING"]);
  t.equal((await bookByStaff("p-pb", "pat-walkin", "2026-12-08T10:00:00Z")).status, AppointmentStatus.BOOKED, "the time can be booked at once");
});

t.test("time held for a waitlist offer is named as such: SLOT_HELD_FOR_OFFER until the hold's end, not 'already booked'", async (t) => {
  await provider("p-held", "Dr. Held");
  clock.set(new Date("2026-12-06T08:00:00Z"));
  const blocker = await bookByStaff("p-held", "other-1", "2026-12-08T10:00:00Z");
  await bookByStaff("p-held", "other-3", "2026-12-08T10:15:00Z");
  const movable = await bookByStaff("p-held", "other-4", "2026-12-08T12:00:00Z");
  await join("p-held", "pat-wants", "2026-12-08T09:00:00Z", "2026-12-08T12:00:00Z");
  await cancelByStaff(blocker.appointmentId);
  const [offer] = await offersFor("pat-wants");
  t.ok(offer, "offered and held");
  const held = await failure(svc.bookAppointment(bookReq("p-held", "other-2", "2026-12-08T10:00:00Z"), ctx(m.bookAppointment)));
  t.equal(held.code, Code.FailedPrecondition);
  t.equal(held.reason, "SLOT_HELD_FOR_OFFER");
  t.equal(
    held.message,
    "Dr. Held at 13:00 on Tuesday 8 December 2026 (Europe/Istanbul) is held for a patient on the waitlist until 11:15 on Sunday 6 December 2026; choose another time, or look again after 11:15",
  );
  t.same(held.metadata, {
    providerName: "Dr. Held",
    timeZone: "Europe/Istanbul",
    localTime: "11:15",
    localDate: "2026-12-06",
    appointmentLocalTime: "13:00",
    appointmentLocalDate: "2026-12-08",
  });
  t.notMatch(held.message, /already booked|pat-wants/, "not 'already booked', no patient id");
  const moved = await failure(
    svc.rescheduleAppointment(create(RescheduleAppointmentRequestSchema, { appointmentId: movable.appointmentId, requestId: rid("move"), newStartTime: ts("2026-12-08T10:00:00Z") }), ctx(m.rescheduleAppointment)),
  );
  t.equal(moved.reason, "SLOT_HELD_FOR_OFFER", "rescheduling into it too");
  t.equal(await statusOf(movable.appointmentId), AppointmentStatus.BOOKED, "and the appointment did not move");
  const earlier = await failure(svc.bookAppointment(bookReq("p-held", "other-2", "2026-12-08T09:45:00Z", 30), ctx(m.bookAppointment)));
  t.equal(earlier.reason, "SLOT_HELD_FOR_OFFER", "a longer visit running into the held time");
  const both = await failure(svc.bookAppointment(bookReq("p-held", "other-2", "2026-12-08T10:00:00Z", 30), ctx(m.bookAppointment)));
  t.equal(both.reason, "SLOT_TAKEN", "held and booked time together: booked");
  t.match(both.message, /^Dr\. Held is already booked at 13:00/);
  const near = await bookByStaff("p-held", "other-5", "2026-12-08T09:30:00Z", 30);
  const nudged = await failure(
    svc.rescheduleAppointment(create(RescheduleAppointmentRequestSchema, { appointmentId: near.appointmentId, requestId: rid("move"), newStartTime: ts("2026-12-08T09:45:00Z") }), ctx(m.rescheduleAppointment)),
  );
  t.equal(nudged.reason, "SLOT_HELD_FOR_OFFER", "moved by 15 minutes, overlapping its own old time and the held time: held");
  await accept(offer.appointmentId, "patient", "pat-wants");
  t.equal((await failure(svc.bookAppointment(bookReq("p-held", "other-2", "2026-12-08T10:00:00Z"), ctx(m.bookAppointment)))).reason, "SLOT_TAKEN", "once accepted: booked");
});
