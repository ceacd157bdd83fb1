// The SchedulingService over gRPC in the test system (all four services in one process, real
// Postgres; the lock service on Postgres, no Redis configured): providers, resources, availability,
// slot search, booking and its error codes, requestId idempotency, the lifecycle with check-in
// through the QueueService, ownership and the audit trail.
import t from "tap";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TicketPriority, TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { AppointmentStatus, DayOfWeek, ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { startTestSystem } from "../helpers/system.js";
import { ALL_DAYS, schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { rpcFailure as failure } from "../helpers/call-outcome.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const MIN = 60_000;
const sys = await startTestSystem(t);
const staff = await schedulingClient(sys, "receptionist", "rec-1");
const db = await systemDb(sys);

/** errorInfo is the google.rpc.ErrorInfo of a failed call. */
const errorInfo = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0];
const ts = (iso: string) => timestampFromDate(new Date(iso));
const dur = (minutes: number) => ({ seconds: BigInt(minutes * 60) });

const DAY_MS = 24 * 60 * MIN;
/**
 * winterMonday is a Monday at least a week ahead in December to February: bookable (no booking starts
 * in the past) and on New York's standard time (UTC-5), so the local times below hold every year.
 */
function winterMonday(): string {
  for (let d = Math.floor(Date.now() / DAY_MS) * DAY_MS + 7 * DAY_MS; ; d += DAY_MS) {
    const date = new Date(d);
    if (date.getUTCDay() === 1 && [11, 0, 1].includes(date.getUTCMonth())) return date.toISOString().slice(0, 10);
  }
}
const MON = winterMonday();
const TUE = new Date(Date.parse(MON) + DAY_MS).toISOString().slice(0, 10);

t.test("providers and resources: create, retry, get, list with pages", async (t) => {
  const a = await staff.createProvider({ displayName: "Dr. A", timeZone: "Europe/Istanbul", specialty: "cardiology", providerId: "prov-a" });
  t.equal(a.provider?.timeZone, "Europe/Istanbul");
  const again = await staff.createProvider({ displayName: "Dr. A", timeZone: "Europe/Istanbul", specialty: "cardiology", providerId: "prov-a" });
  t.equal(again.provider?.providerId, "prov-a", "a retry with the same id returns it");
  t.equal((await failure(staff.createProvider({ displayName: "Dr. B", timeZone: "Europe/Istanbul", providerId: "prov-a" }))).code, Code.AlreadyExists);
  const bad = await failure(staff.createProvider({ displayName: "Dr. X", timeZone: "Mars/Olympus_Mons" }));
  t.equal(bad.code, Code.InvalidArgument, "unknown zone");
  t.same(bad.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["timeZone"]);
  t.equal((await staff.getProvider({ providerId: "prov-a" })).provider?.displayName, "Dr. A");
  t.equal((await failure(staff.getProvider({ providerId: "nobody" }))).code, Code.NotFound);
  for (const n of ["Dr. C", "Dr. D", "Dr. E"]) await staff.createProvider({ displayName: n, timeZone: "UTC" });
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await staff.listProviders({ pageSize: 2, pageToken });
    seen.push(...page.providers.map((p) => p.displayName));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  t.same(seen.filter((n) => n.startsWith("Dr. ")), ["Dr. A", "Dr. C", "Dr. D", "Dr. E"]);
  const room = await staff.createResource({ displayName: "Room 1", kind: ResourceKind.ROOM, resourceId: "room-1" });
  t.equal(room.resource?.kind, ResourceKind.ROOM);
  await staff.createResource({ displayName: "Ultrasound", kind: ResourceKind.DEVICE, resourceId: "us-1" });
  t.same((await staff.listResources({ kind: ResourceKind.DEVICE })).resources.map((r) => r.resourceId), ["us-1"]);
});

t.test("availability: set, get, errors", async (t) => {
  await staff.createProvider({ displayName: "Dr. Avail", timeZone: "America/New_York", providerId: "prov-avail" });
  const set = await staff.setAvailability({
    providerId: "prov-avail",
    weeklyHours: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "09:00", endTime: "17:00" }],
    breaks: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "12:00", endTime: "13:00" }],
    exceptions: [{ startDate: "2026-12-24", endDate: "2026-12-26", reason: "holidays" }],
    slotDuration: dur(30),
    buffer: dur(5),
  });
  t.equal(set.availability?.timeZone, "America/New_York");
  const got = await staff.getAvailability({ providerId: "prov-avail" });
  t.same(got.availability?.weeklyHours.map((w) => [w.dayOfWeek, w.startTime, w.endTime]), [[DayOfWeek.MONDAY, "09:00", "17:00"]]);
  t.equal(got.availability?.buffer?.seconds, 300n);
  t.equal((await failure(staff.setAvailability({ providerId: "nobody", weeklyHours: [], slotDuration: dur(30) }))).code, Code.NotFound);
  // MON is a Monday: 09:00-12:00 and 13:00-17:00 New York time, 30-min slots with a 5-min buffer.
  const slots = await staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts(`${MON}T00:00:00Z`), endTime: ts(`${TUE}T00:00:00Z`) });
  t.equal(slots.slots.length, 14);
  t.equal(timestampDate(slots.slots[0].startTime!).toISOString(), `${MON}T14:00:00.000Z`, "09:00 EST is 14:00Z");
  const wrong = await failure(staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts(`${MON}T00:00:00Z`), endTime: ts(`${TUE}T00:00:00Z`), duration: dur(45) }));
  t.equal(wrong.code, Code.InvalidArgument, "duration not a multiple of the slot");
  t.same(wrong.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["duration"]);
  const backwards = await failure(staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts(`${TUE}T00:00:00Z`), endTime: ts(`${MON}T00:00:00Z`) }));
  t.equal(backwards.code, Code.InvalidArgument, "end before start");
  t.equal((await failure(staff.listAvailableSlots({ providerId: "nobody", startTime: ts(`${MON}T00:00:00Z`), endTime: ts(`${TUE}T00:00:00Z`) }))).code, Code.NotFound);
  t.equal((await failure(staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts(`${MON}T00:00:00Z`), endTime: ts(`${TUE}T00:00:00Z`), resourceIds: ["no-room"] }))).code, Code.NotFound);
});

t.test("booking: slots shrink, codes for taken, outside hours, bad input; buffers hold", async (t) => {
  await staff.createProvider({ displayName: "Dr. Book", timeZone: "America/New_York", providerId: "prov-book" });
  await staff.setAvailability({
    providerId: "prov-book",
    weeklyHours: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "09:00", endTime: "12:00" }],
    slotDuration: dur(30),
    buffer: dur(10),
  });
  const range = { providerId: "prov-book", startTime: ts(`${MON}T00:00:00Z`), endTime: ts(`${TUE}T00:00:00Z`) };
  t.equal((await staff.listAvailableSlots(range)).slots.length, 6);
  const booked = await staff.bookAppointment({ requestId: "b-1", providerId: "prov-book", patientId: "pat-1", startTime: ts(`${MON}T15:00:00Z`), duration: dur(30), reason: "check-up" });
  const a = booked.appointment!;
  t.equal(a.status, AppointmentStatus.BOOKED);
  t.equal(timestampDate(a.endTime!).toISOString(), `${MON}T15:30:00.000Z`);
  t.ok(a.fencingToken > 0n, "written under a fenced lock");
  // 10:00 EST (15:00Z) is booked and blocks until 10:40 with its buffer; 09:30 would end at 10:00
  // and need its own buffer up to 10:10, so it goes too.
  const left = (await staff.listAvailableSlots(range)).slots.map((s) => timestampDate(s.startTime!).toISOString().slice(11, 16));
  t.same(left, ["14:00", "16:00", "16:30"]);
  t.notOk(left.includes("15:00"), "the booked slot is gone");
  t.notOk(left.includes("14:30"), "09:30 would end at 10:00 and its buffer overlap the booking");
  t.notOk(left.includes("15:30"), "10:30 starts inside the booking's buffer");
  const taken = await failure(staff.bookAppointment({ requestId: "b-2", providerId: "prov-book", patientId: "pat-2", startTime: ts(`${MON}T14:30:00Z`), duration: dur(60) }));
  t.equal(taken.code, Code.FailedPrecondition, "a partial overlap is refused");
  t.equal(errorInfo(taken)?.reason, "SLOT_TAKEN");
  t.match(taken.rawMessage, /^Dr\. Book is already booked at 09:30 on Monday /, "in the provider's words and local time");
  const outside = await failure(staff.bookAppointment({ requestId: "b-3", providerId: "prov-book", patientId: "pat-2", startTime: ts(`${MON}T18:00:00Z`) }));
  t.equal(outside.code, Code.FailedPrecondition, "outside hours");
  t.equal(errorInfo(outside)?.reason, "OUTSIDE_WORKING_HOURS");
  const offGrid = await failure(staff.bookAppointment({ requestId: "b-4", providerId: "prov-book", patientId: "pat-2", startTime: ts(`${MON}T14:10:00Z`) }));
  t.equal(offGrid.code, Code.FailedPrecondition, "not on a slot boundary");
  t.equal(errorInfo(offGrid)?.reason, "NOT_ON_SLOT_BOUNDARY");
  const multiple = await failure(staff.bookAppointment({ requestId: "b-5", providerId: "prov-book", patientId: "pat-2", startTime: ts(`${MON}T14:00:00Z`), duration: dur(45) }));
  t.equal(multiple.code, Code.InvalidArgument);
  t.same(multiple.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["duration"]);
  t.equal((await failure(staff.bookAppointment({ requestId: "b-6", providerId: "nobody", patientId: "pat-2", startTime: ts(`${MON}T14:00:00Z`) }))).code, Code.NotFound);
  const empty = await failure(staff.bookAppointment({ requestId: "", providerId: "prov-book", patientId: "pat-2", startTime: ts(`${MON}T14:00:00Z`) }));
  t.equal(empty.code, Code.InvalidArgument, "requestId is required");
});

t.test("requestId: the same request 10 times concurrently books once; other parameters are ALREADY_EXISTS", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-idem" });
  const req = { requestId: "same-1", providerId, patientId: "pat-9", startTime: ts(`${MON}T10:00:00Z`), duration: dur(30) };
  const answers = await Promise.all(Array.from({ length: 10 }, () => staff.bookAppointment(req)));
  t.equal(new Set(answers.map((a) => a.appointment!.appointmentId)).size, 1, "one appointment id in every answer");
  const { count } = await db.selectFrom("scheduling.appointments" as never).select((eb: any) => eb.fn.countAll().as("count")).where("provider_id" as never, "=", providerId as never).executeTakeFirstOrThrow() as { count: string };
  t.equal(Number(count), 1, "one row");
  const other = await failure(staff.bookAppointment({ ...req, startTime: ts(`${MON}T11:00:00Z`) }));
  t.equal(other.code, Code.AlreadyExists);
  // Scoped to the caller: another receptionist's same key is a new request (and here, a taken slot).
  const colleague = await schedulingClient(sys, "receptionist", "rec-2");
  t.equal((await failure(colleague.bookAppointment(req))).code, Code.FailedPrecondition);
});

t.test("lifecycle: cancel, reschedule, no-show, illegal transitions, list pages", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-life" });
  const book = (id: string, iso: string, patientId = "pat-life") =>
    staff.bookAppointment({ requestId: id, providerId, patientId, startTime: ts(iso), duration: dur(30) }).then((r) => r.appointment!);
  const a = await book("l-1", `${MON}T09:00:00Z`);
  const cancelled = await staff.cancelAppointment({ appointmentId: a.appointmentId, requestId: "c-1", reason: "feeling better" });
  t.equal(cancelled.appointment?.status, AppointmentStatus.CANCELLED);
  t.equal(cancelled.appointment?.cancelReason, "feeling better");
  t.equal((await staff.cancelAppointment({ appointmentId: a.appointmentId, requestId: "c-1", reason: "feeling better" })).appointment?.status, AppointmentStatus.CANCELLED, "a retry replays");
  t.equal((await failure(staff.cancelAppointment({ appointmentId: a.appointmentId, requestId: "c-2" }))).code, Code.FailedPrecondition, "cancel twice");
  t.equal((await book("l-2", `${MON}T09:00:00Z`)).status, AppointmentStatus.BOOKED, "the freed time can be booked again");

  const b = await book("l-3", `${MON}T10:00:00Z`);
  const moved = await staff.rescheduleAppointment({ appointmentId: b.appointmentId, requestId: "r-1", newStartTime: ts(`${MON}T10:15:00Z`) });
  t.equal(moved.previousAppointment?.status, AppointmentStatus.CANCELLED);
  t.equal(moved.appointment?.rescheduledFromId, b.appointmentId);
  t.equal(timestampDate(moved.appointment!.startTime!).toISOString(), `${MON}T10:15:00.000Z`, "overlapping its own old time is fine");
  const blocker = await book("l-4", `${MON}T12:00:00Z`, "pat-other");
  const clash = await failure(staff.rescheduleAppointment({ appointmentId: moved.appointment!.appointmentId, requestId: "r-2", newStartTime: ts(`${MON}T12:00:00Z`) }));
  t.equal(clash.code, Code.FailedPrecondition, "new slot taken");
  t.equal((await staff.getAppointment({ appointmentId: moved.appointment!.appointmentId })).appointment?.status, AppointmentStatus.BOOKED, "nothing changed");
  // The no-show itself is in clinic-rules.test.ts, under a clock that can pass the start.
  const early = await failure(staff.markNoShow({ appointmentId: blocker.appointmentId, requestId: "n-1" }));
  t.equal(early.code, Code.FailedPrecondition, "no no-show before the appointment has started");
  t.equal(errorInfo(early)?.reason, "NO_SHOW_BEFORE_START");
  t.equal((await staff.getAppointment({ appointmentId: blocker.appointmentId })).appointment?.status, AppointmentStatus.BOOKED, "the time is not freed");
  const gone = await failure(staff.markNoShow({ appointmentId: a.appointmentId, requestId: "n-2" }));
  t.equal(errorInfo(gone)?.reason, "ILLEGAL_TRANSITION", "a cancelled appointment is no no-show");
  t.match(gone.rawMessage, /was cancelled, so it cannot be marked as a no-show/);
  t.equal((await failure(staff.getAppointment({ appointmentId: "a-missing" }))).code, Code.NotFound);

  for (let i = 0; i < 5; i++) await book(`l-p${i}`, `${TUE}T0${i}:00:00Z`, "pat-pages");
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await staff.listAppointments({ patientId: "pat-pages", pageSize: 2, pageToken });
    ids.push(...page.appointments.map((x) => x.appointmentId));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  t.equal(ids.length, 5, "five appointments over three pages");
  const booked = await staff.listAppointments({ providerId, statuses: [AppointmentStatus.CANCELLED] });
  t.equal(booked.appointments.length, 2, "filter by status");
});

t.test("reschedule under contention never leaves a patient with zero or two appointments", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-resched" });
  const first = await staff.bookAppointment({ requestId: "rc-0", providerId, patientId: "pat-rc", startTime: ts(`${MON}T08:00:00Z`), duration: dur(30) });
  const targets = Array.from({ length: 12 }, (_, i) => new Date(Date.parse(`${MON}T09:00:00Z`) + i * 15 * MIN).toISOString());
  const results = await Promise.allSettled(
    targets.map((iso, i) => staff.rescheduleAppointment({ appointmentId: first.appointment!.appointmentId, requestId: `rc-${i + 1}`, newStartTime: ts(iso) })),
  );
  const ok = results.filter((r) => r.status === "fulfilled");
  t.equal(ok.length, 1, "exactly one reschedule of the same appointment wins");
  for (const r of results) if (r.status === "rejected") t.ok([Code.FailedPrecondition, Code.Aborted].includes(ConnectError.from(r.reason).code), ConnectError.from(r.reason).rawMessage);
  const active = await staff.listAppointments({ patientId: "pat-rc", statuses: [AppointmentStatus.BOOKED] });
  t.equal(active.appointments.length, 1, "the patient has exactly one booked appointment");
});

t.test("check-in issues an APPOINTMENT ticket that the QueueService lists; failure leaves it BOOKED", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-checkin" });
  // The next slot start a little ahead of now (check-in opens an hour before).
  const start = new Date(Math.ceil((Date.now() + 20 * MIN) / (15 * MIN)) * 15 * MIN);
  const { appointment } = await staff.bookAppointment({ requestId: "ci-1", providerId, patientId: "pat-ci", startTime: timestampFromDate(start), duration: dur(15) });
  const bad = await failure(staff.checkInAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-x", queueId: "no-such-queue" }));
  t.equal(bad.code, Code.NotFound, `the queue does not exist (${bad.rawMessage})`);
  t.equal((await staff.getAppointment({ appointmentId: appointment!.appointmentId })).appointment?.status, AppointmentStatus.BOOKED, "still BOOKED");
  const res = await staff.checkInAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-2" });
  t.equal(res.appointment?.status, AppointmentStatus.CHECKED_IN);
  t.equal(res.ticket?.priority, TicketPriority.APPOINTMENT);
  t.equal(res.appointment?.ticketId, res.ticket?.ticketId);
  const again = await staff.checkInAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-2" });
  t.equal(again.ticket?.ticketId, res.ticket?.ticketId, "a retry replays");
  const token = await sys.token(["receptionist"], "rec-1");
  const queue = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, token));
  const tickets = await queue.listTickets({ queueId: res.ticket!.queueId });
  t.ok(tickets.tickets.some((x) => x.ticketId === res.ticket!.ticketId), "the queue lists the ticket");
  const done = await staff.completeAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-done" });
  t.equal(done.appointment?.status, AppointmentStatus.FULFILLED, "the visit took place: CHECKED_IN -> FULFILLED");
  t.equal(done.appointment?.ticketId, res.ticket?.ticketId, "the ticket stays recorded");
  t.equal((await queue.getTicket({ ticketId: res.ticket!.ticketId })).ticket?.status, TicketStatus.CANCELLED, "seen without being called: the ticket leaves the line");
  t.equal((await failure(staff.cancelAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-cancel" }))).code, Code.FailedPrecondition, "FULFILLED is final");
});

t.test("patients read only their own appointments; reads and changes are audited", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-own" });
  const mine = await schedulingClient(sys, "patient", "pat-me");
  const { appointment } = await mine.bookAppointment({ requestId: "o-1", providerId, patientId: "pat-me", startTime: ts(`${MON}T09:00:00Z`), duration: dur(15) });
  const theirs = await staff.bookAppointment({ requestId: "o-2", providerId, patientId: "pat-them", startTime: ts(`${MON}T10:00:00Z`), duration: dur(15) });
  t.equal((await mine.getAppointment({ appointmentId: appointment!.appointmentId })).appointment?.patientId, "pat-me");
  // Another's appointment is NOT_FOUND, as an id that does not exist is: ids cannot be probed.
  t.equal((await failure(mine.getAppointment({ appointmentId: theirs.appointment!.appointmentId }))).code, Code.NotFound);
  t.equal((await failure(mine.cancelAppointment({ appointmentId: theirs.appointment!.appointmentId, requestId: "o-3" }))).code, Code.NotFound);
  t.equal((await failure(mine.listAppointments({ patientId: "pat-them" }))).code, Code.PermissionDenied);
  t.equal((await failure(mine.bookAppointment({ requestId: "o-4", providerId, patientId: "pat-them", startTime: ts(`${MON}T11:00:00Z`) }))).code, Code.PermissionDenied);
  const doctor = await schedulingClient(sys, "doctor", providerId);
  t.equal((await doctor.getAppointment({ appointmentId: theirs.appointment!.appointmentId })).appointment?.providerId, providerId, "the doctor reads their own patients' appointments");
  const rows = await db.selectFrom("scheduling.audit_log" as never).selectAll().where("record_id" as never, "=", appointment!.appointmentId as never).execute() as { action: string; actor: string; role: string }[];
  t.same(rows.map((r) => [r.action, r.actor, r.role]), [["BookAppointment", "pat-me", "patient"], ["GetAppointment", "pat-me", "patient"]]);
  const denied = await db.selectFrom("scheduling.audit_log" as never).selectAll().where("record_id" as never, "=", theirs.appointment!.appointmentId as never).execute() as { action: string }[];
  t.ok(denied.some((r) => r.action === "DeniedRead"), "a refused read is audited too");
});

/** words is a UTC date's "Monday 7 December 2026", from Intl (an oracle independent of the service's own formatting). */
const words = (date: string) => new Intl.DateTimeFormat("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(date)).replace(",", "");
/** slotAhead is the first 15-minute boundary at least `minutes` from now. */
const slotAhead = (minutes: number) => new Date(Math.ceil((Date.now() + minutes * MIN) / (15 * MIN)) * 15 * MIN);
const addDaysIso = (date: string, days: number) => new Date(Date.parse(date) + days * DAY_MS).toISOString().slice(0, 10);

t.test("a refused booking says its one reason in the provider's local time and name, with ErrorInfo metadata", async (t) => {
  const providerId = "prov-ada-internal-7f3a";
  await staff.createProvider({ displayName: "Dr. Ada Lovelace", timeZone: "Europe/Istanbul", providerId });
  await staff.setAvailability({
    providerId,
    weeklyHours: [DayOfWeek.MONDAY, DayOfWeek.TUESDAY].flatMap((dayOfWeek) => [
      { dayOfWeek, startTime: "09:00", endTime: "12:00" },
      { dayOfWeek, startTime: "13:00", endTime: "17:00" },
    ]),
    breaks: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "10:00", endTime: "10:30" }],
    exceptions: [{ startDate: TUE, endDate: TUE, reason: "Republic Day" }],
    slotDuration: dur(30),
  });
  await staff.bookAppointment({ requestId: "err-0", providerId, patientId: "pat-err", startTime: ts(`${MON}T06:00:00Z`), duration: dur(30) });
  const WED = addDaysIso(MON, 2);
  const farMonday = addDaysIso(MON, 371);
  // Istanbul is UTC+3 all year: local 19:00 is 16:00Z.
  const cases: { name: string; at: string; minutes?: number; reason: string; message: RegExp; metadata: Record<string, string> }[] = [
    { name: "after hours", at: `${MON}T16:00:00Z`, reason: "OUTSIDE_WORKING_HOURS", message: /^Dr\. Ada Lovelace does not work at 19:00 on MONWORDS \(Europe\/Istanbul\); that day's working hours are 09:00-12:00 and 13:00-17:00$/, metadata: { localTime: "19:00", localDate: MON, workingHours: "09:00-12:00,13:00-17:00" } },
    { name: "between two working intervals", at: `${MON}T09:30:00Z`, reason: "OUTSIDE_WORKING_HOURS", message: /does not work at 12:30 on MONWORDS/, metadata: { localTime: "12:30" } },
    { name: "a day without hours", at: `${WED}T06:00:00Z`, reason: "OUTSIDE_WORKING_HOURS", message: /^Dr\. Ada Lovelace does not work on Wednesdays \(WEDWORDS, Europe\/Istanbul\)/, metadata: { localTime: "09:00", localDate: WED, workingHours: "" } },
    { name: "in the break", at: `${MON}T07:00:00Z`, reason: "IN_BREAK", message: /^10:00 on MONWORDS \(Europe\/Istanbul\) is in Dr\. Ada Lovelace's break \(10:00-10:30\)/, metadata: { breakStart: "10:00", breakEnd: "10:30" } },
    { name: "on an exception", at: `${TUE}T06:00:00Z`, reason: "ON_EXCEPTION", message: /^Dr\. Ada Lovelace is not available on TUEWORDS \(Europe\/Istanbul\): Republic Day; choose another day$/, metadata: { exceptionReason: "Republic Day", exceptionStartDate: TUE, localDate: TUE } },
    { name: "off the slot grid", at: `${MON}T06:10:00Z`, reason: "NOT_ON_SLOT_BOUNDARY", message: /appointments start every 30 minutes: 09:10 on MONWORDS \(Europe\/Istanbul\) is not a start time; the nearest start times are 09:00 and 09:30$/, metadata: { localTime: "09:10", nearestBefore: "09:00", nearestAfter: "09:30", slotMinutes: "30" } },
    { name: "running past the end of hours", at: `${MON}T08:30:00Z`, minutes: 60, reason: "ENDS_AFTER_WORKING_HOURS", message: /^an appointment of 1 hour at 11:30 on MONWORDS \(Europe\/Istanbul\) would end at 12:30, after Dr\. Ada Lovelace's working hours end at 12:00/, metadata: { localTime: "11:30", endLocalTime: "12:30", workingHoursEnd: "12:00" } },
    { name: "running into the break", at: `${MON}T06:30:00Z`, minutes: 60, reason: "RUNS_INTO_BREAK", message: /would end at 10:30, into Dr\. Ada Lovelace's break \(10:00-10:30\)/, metadata: { localTime: "09:30", endLocalTime: "10:30" } },
    { name: "taken", at: `${MON}T06:00:00Z`, reason: "SLOT_TAKEN", message: /^Dr\. Ada Lovelace is already booked at 09:00 on MONWORDS \(Europe\/Istanbul\)/, metadata: { localTime: "09:00" } },
    { name: "in 1970", at: "1970-01-05T06:00:00Z", reason: "BOOKING_IN_PAST", message: / on Monday 5 January 1970 \(Europe\/Istanbul\) has already passed; choose a time from now on$/, metadata: { localDate: "1970-01-05" } },
    { name: "beyond the horizon", at: `${farMonday}T06:00:00Z`, reason: "BEYOND_HORIZON", message: /at most 365 days ahead/, metadata: { horizonDays: "365", localDate: farMonday } },
  ];
  const fill = (re: RegExp) => new RegExp(re.source.replace("MONWORDS", words(MON)).replace("TUEWORDS", words(TUE)).replace("WEDWORDS", words(WED)));
  for (const [i, c] of cases.entries()) {
    const err = await failure(staff.bookAppointment({ requestId: `err-${i + 1}`, providerId, patientId: "pat-err", startTime: ts(c.at), duration: dur(c.minutes ?? 30) }));
    t.equal(err.code, Code.FailedPrecondition, `${c.name}: FAILED_PRECONDITION`);
    const info = errorInfo(err);
    t.equal(info?.domain, "medschedule.io", `${c.name}: ErrorInfo`);
    t.equal(info?.reason, c.reason, `${c.name}: ${err.rawMessage}`);
    t.match(err.rawMessage, fill(c.message), `${c.name}: one reason in local time`);
    t.match(info?.metadata, { providerName: "Dr. Ada Lovelace", timeZone: "Europe/Istanbul", ...c.metadata }, `${c.name}: metadata`);
    t.notMatch(err.rawMessage, providerId, `${c.name}: no internal id`);
    t.notMatch(err.rawMessage, /\d{4}-\d\d-\d\dT|Z\b|BookAppointment/, `${c.name}: no UTC instant or RPC name`);
  }
});

t.test("no booking starts in the past or beyond the horizon, whoever books", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-when" });
  const patient = await schedulingClient(sys, "patient", "pat-when");
  const floor15 = (ms: number) => new Date(Math.floor(ms / (15 * MIN)) * 15 * MIN);
  const cases: { name: string; at: Date; reason: string }[] = [
    { name: "1970", at: new Date("1970-01-05T09:00:00Z"), reason: "BOOKING_IN_PAST" },
    { name: "last week", at: floor15(Date.now() - 7 * DAY_MS), reason: "BOOKING_IN_PAST" },
    { name: "a slot that started minutes ago", at: floor15(Date.now() - 15 * MIN), reason: "BOOKING_IN_PAST" },
    { name: "366 days ahead", at: floor15(Date.now() + 366 * DAY_MS), reason: "BEYOND_HORIZON" },
    { name: "9999", at: new Date("9999-06-07T09:00:00Z"), reason: "BEYOND_HORIZON" },
  ];
  for (const [who, client] of [["receptionist", staff], ["patient", patient]] as const) {
    for (const [i, c] of cases.entries()) {
      const err = await failure(client.bookAppointment({ requestId: `when-${who}-${i}`, providerId, patientId: "pat-when", startTime: timestampFromDate(c.at), duration: dur(15) }));
      t.equal(err.code, Code.FailedPrecondition, `${who}, ${c.name}: FAILED_PRECONDITION (${err.rawMessage})`);
      t.equal(errorInfo(err)?.reason, c.reason, `${who}, ${c.name}`);
    }
  }
  const { appointments } = await staff.listAppointments({ patientId: "pat-when" });
  t.same(appointments, [], "nothing was booked");
  const tomorrow = await patient.bookAppointment({ requestId: "when-ok", providerId, patientId: "pat-when", startTime: timestampFromDate(slotAhead(DAY_MS / MIN)), duration: dur(15) });
  t.equal(tomorrow.appointment?.status, AppointmentStatus.BOOKED, "tomorrow is fine");
  const edge = await staff.bookAppointment({ requestId: "when-edge", providerId, patientId: "pat-when", startTime: timestampFromDate(floor15(Date.now() + 364 * DAY_MS)), duration: dur(15) });
  t.equal(edge.appointment?.status, AppointmentStatus.BOOKED, "364 days ahead is inside the horizon");
});

t.test("reschedule and waitlist apply the same rules; slot search offers no past or too distant slot", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-move" });
  const { appointment } = await staff.bookAppointment({ requestId: "mv-0", providerId, patientId: "pat-mv", startTime: timestampFromDate(slotAhead(DAY_MS / MIN)), duration: dur(15) });
  for (const [name, at, reason] of [
    ["into the past", new Date(Math.floor((Date.now() - DAY_MS) / (15 * MIN)) * 15 * MIN), "BOOKING_IN_PAST"],
    ["into 1970", new Date("1970-01-05T09:00:00Z"), "BOOKING_IN_PAST"],
    ["beyond the horizon", slotAhead(400 * DAY_MS / MIN), "BEYOND_HORIZON"],
  ] as const) {
    const err = await failure(staff.rescheduleAppointment({ appointmentId: appointment!.appointmentId, requestId: `mv-${name.replaceAll(" ", "-")}`, newStartTime: timestampFromDate(at) }));
    t.equal(errorInfo(err)?.reason, reason, `reschedule ${name}: ${err.rawMessage}`);
  }
  t.equal((await staff.getAppointment({ appointmentId: appointment!.appointmentId })).appointment?.status, AppointmentStatus.BOOKED, "nothing changed");

  const patient = await schedulingClient(sys, "patient", "pat-wl");
  const join = (requestId: string, from: number, to: number) =>
    patient.joinWaitlist({ requestId, providerId, patientId: "pat-wl", windowStartTime: timestampFromDate(new Date(from)), windowEndTime: timestampFromDate(new Date(to)) });
  const past = await failure(join("wl-past", Date.now() - 3 * DAY_MS, Date.now() - DAY_MS));
  t.equal(errorInfo(past)?.reason, "WAITLIST_WINDOW_PAST", past.rawMessage);
  const far = await failure(join("wl-far", Date.now() + 400 * DAY_MS, Date.now() + 401 * DAY_MS));
  t.equal(errorInfo(far)?.reason, "BEYOND_HORIZON", far.rawMessage);
  t.ok((await join("wl-ok", Date.now() - DAY_MS, Date.now() + DAY_MS)).entry, "a window still open is fine");

  const around = await staff.listAvailableSlots({ providerId, startTime: timestampFromDate(new Date(Date.now() - DAY_MS)), endTime: timestampFromDate(new Date(Date.now() + DAY_MS)) });
  t.ok(around.slots.length > 0, "slots ahead are listed");
  t.ok(around.slots.every((s) => timestampDate(s.startTime!).getTime() >= Date.now() - 60_000), "no slot that has started is offered");
  const beyond = await staff.listAvailableSlots({ providerId, startTime: timestampFromDate(new Date(Date.now() + 366 * DAY_MS)), endTime: timestampFromDate(new Date(Date.now() + 367 * DAY_MS)) });
  t.same(beyond.slots, [], "nothing beyond the horizon is offered");
});

t.test("a patient checks in for their own appointment, into its provider's queue, inside the window", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-self" });
  const me = await schedulingClient(sys, "patient", "pat-self");
  const start = slotAhead(20);
  const mine = (await me.bookAppointment({ requestId: "self-1", providerId, patientId: "pat-self", startTime: timestampFromDate(start), duration: dur(15) })).appointment!;
  const theirs = (await staff.bookAppointment({ requestId: "self-2", providerId, patientId: "pat-other", startTime: timestampFromDate(new Date(start.getTime() + 15 * MIN)), duration: dur(15) })).appointment!;
  const later = (await staff.bookAppointment({ requestId: "self-3", providerId, patientId: "pat-self", startTime: timestampFromDate(slotAhead(180)), duration: dur(15) })).appointment!;

  const other = await failure(me.checkInAppointment({ appointmentId: theirs.appointmentId, requestId: "ci-self-0" }));
  t.equal(other.code, Code.NotFound, "not another patient's appointment: as if it did not exist");
  t.equal(errorInfo(other)?.reason, "APPOINTMENT_NOT_FOUND");
  const chosen = await failure(me.checkInAppointment({ appointmentId: mine.appointmentId, requestId: "ci-self-1", queueId: "some-queue" }));
  t.equal(chosen.code, Code.PermissionDenied, "a patient does not choose the queue");
  t.equal(errorInfo(chosen)?.reason, "QUEUE_CHOICE_NOT_ALLOWED");
  const early = await failure(me.checkInAppointment({ appointmentId: later.appointmentId, requestId: "ci-self-2" }));
  t.equal(early.code, Code.FailedPrecondition, "check-in opens an hour before the start");
  t.equal(errorInfo(early)?.reason, "CHECK_IN_NOT_OPEN");
  const opens = new Date(timestampDate(later.startTime!).getTime() - 60 * MIN).toISOString();
  t.match(errorInfo(early)?.metadata, { localTime: opens.slice(11, 16), localDate: opens.slice(0, 10), timeZone: "UTC", providerName: "Dr. Test" });
  t.match(early.rawMessage, new RegExp(`^check-in for the appointment with Dr\\. Test at .* opens at ${opens.slice(11, 16)}`));

  const res = await me.checkInAppointment({ appointmentId: mine.appointmentId, requestId: "ci-self-3" });
  t.equal(res.appointment?.status, AppointmentStatus.CHECKED_IN, "own appointment, inside the window");
  t.equal(res.ticket?.priority, TicketPriority.APPOINTMENT);
  t.equal(res.ticket?.queueId, `prov-${providerId}`, "the provider's queue");
  t.equal(res.ticket?.appointmentId, mine.appointmentId);
  const token = await sys.token(["receptionist"], "rec-1");
  const queue = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, token));
  const again = await staff.checkInAppointment({ appointmentId: mine.appointmentId, requestId: "ci-self-4" });
  t.equal(again.ticket?.ticketId, res.ticket?.ticketId, "checking in again (at the desk, after the kiosk) answers with the same ticket");
  t.equal(again.appointment?.status, AppointmentStatus.CHECKED_IN);
  const tickets = await queue.listTickets({ queueId: res.ticket!.queueId });
  t.same(tickets.tickets.map((x) => x.appointmentId), [mine.appointmentId], "one ticket; none for the refused check-ins");
  t.equal((await staff.getAppointment({ appointmentId: later.appointmentId })).appointment?.status, AppointmentStatus.BOOKED, "the early one stays BOOKED");

  // Five check-ins of one appointment at once: whoever answers OK answers with the one ticket.
  const racing = (await staff.bookAppointment({ requestId: "self-4", providerId, patientId: "pat-race", startTime: timestampFromDate(new Date(start.getTime() - 15 * MIN)), duration: dur(15) })).appointment!;
  const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => staff.checkInAppointment({ appointmentId: racing.appointmentId, requestId: `ci-race-${i}` })));
  const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.ticket!.ticketId] : []));
  for (const r of results) if (r.status === "rejected") t.equal(ConnectError.from(r.reason).code, Code.Aborted, `a loser may only be told to retry (${ConnectError.from(r.reason).rawMessage})`);
  t.ok(ok.length >= 1, `${ok.length} answered OK`);
  t.equal(new Set(ok).size, 1, "all with the same ticket");
  const all = await queue.listTickets({ queueId: res.ticket!.queueId });
  t.equal(all.tickets.filter((x) => x.appointmentId === racing.appointmentId).length, 1, "one ticket issued");
});

t.test("every provider's own queue gets a ticket prefix of its own", async (t) => {
  const names = ["Dr. Ada Lovelace", "Dr. Alan Lee", "Prof. Dr. Ayşe Lale"];
  const numbers: string[] = [];
  for (const [i, displayName] of names.entries()) {
    const { provider } = await staff.createProvider({ displayName, timeZone: "Europe/Istanbul", providerId: `prov-prefix-${i}` });
    await staff.setAvailability({ providerId: provider!.providerId, weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "00:00", endTime: "24:00" })), slotDuration: dur(15) });
    const { appointment } = await staff.bookAppointment({ requestId: `prefix-${i}`, providerId: provider!.providerId, patientId: `pat-prefix-${i}`, startTime: timestampFromDate(slotAhead(20)), duration: dur(15) });
    const res = await staff.checkInAppointment({ appointmentId: appointment!.appointmentId, requestId: `prefix-ci-${i}` });
    numbers.push(res.ticket!.number);
  }
  t.same(numbers, ["AL-001", "ALE-001", "ALA-001"], "initials, then more letters of the name; titles and accents left out");
  t.equal(new Set(numbers).size, numbers.length, "no two provider queues call the same number");
});

t.test("over gRPC, as the services call each other: a cancelled check-in's ticket leaves the queue; a patient's racing self-bookings stop at the limit", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-settle" });
  const token = await sys.token(["receptionist"], "rec-1");
  const queue = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, token));
  const { appointment } = await staff.bookAppointment({ requestId: "settle-1", providerId, patientId: "pat-settle", startTime: timestampFromDate(slotAhead(20)), duration: dur(15) });
  const { ticket } = await staff.checkInAppointment({ appointmentId: appointment!.appointmentId, requestId: "settle-ci" });
  await staff.cancelAppointment({ appointmentId: appointment!.appointmentId, requestId: "settle-cancel" });
  t.equal((await queue.getTicket({ ticketId: ticket!.ticketId })).ticket?.status, TicketStatus.CANCELLED, "withdrawn with the appointment");
  t.same((await queue.listTickets({ queueId: ticket!.queueId })).tickets, [], "nobody left to call");

  // Twelve self-bookings of one patient at once, over two providers (two provider locks): five win.
  const other = await setUpProvider(staff, { providerId: "prov-settle-2" });
  const me = await schedulingClient(sys, "patient", "pat-eager");
  const from = slotAhead(3 * 24 * 60).getTime();
  const outcomes = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      for (let tries = 0; ; tries++) {
        try {
          await me.bookAppointment({ requestId: `eager-${i}`, providerId: i % 2 ? other : providerId, patientId: "pat-eager", startTime: timestampFromDate(new Date(from + Math.floor(i / 2) * 15 * MIN)), duration: dur(15) });
          return "OK";
        } catch (err) {
          const e = ConnectError.from(err);
          if (e.code === Code.Aborted && tries < 50) continue;
          return errorInfo(e)?.reason ?? Code[e.code];
        }
      }
    }),
  );
  t.equal(outcomes.filter((o) => o === "OK").length, 5, "five booked");
  t.equal(outcomes.filter((o) => o === "PATIENT_BOOKING_LIMIT").length, 7, `the rest refused: ${outcomes.join(" ")}`);
});
