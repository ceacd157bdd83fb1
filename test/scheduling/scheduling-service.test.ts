// The SchedulingService over gRPC in the test system (all four services in one process, real
// Postgres; the lock service on Postgres, no Redis configured): providers, resources, availability,
// slot search, booking and its error codes, requestId idempotency, the lifecycle with check-in
// through the QueueService, ownership and the audit trail.
import t from "tap";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { AppointmentStatus, DayOfWeek, ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { startTestSystem } from "../helpers/system.js";
import { schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";

const MIN = 60_000;
const sys = await startTestSystem(t);
const staff = await schedulingClient(sys, "receptionist", "rec-1");
const db = await systemDb(sys);

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

const ts = (iso: string) => timestampFromDate(new Date(iso));
const dur = (minutes: number) => ({ seconds: BigInt(minutes * 60) });

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
  // 2026-12-07 is a Monday: 09:00-12:00 and 13:00-17:00 New York time, 30-min slots with a 5-min buffer.
  const slots = await staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts("2026-12-07T00:00:00Z"), endTime: ts("2026-12-08T00:00:00Z") });
  t.equal(slots.slots.length, 14);
  t.equal(timestampDate(slots.slots[0].startTime!).toISOString(), "2026-12-07T14:00:00.000Z", "09:00 EST is 14:00Z");
  const wrong = await failure(staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts("2026-12-07T00:00:00Z"), endTime: ts("2026-12-08T00:00:00Z"), duration: dur(45) }));
  t.equal(wrong.code, Code.InvalidArgument, "duration not a multiple of the slot");
  t.same(wrong.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["duration"]);
  const backwards = await failure(staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts("2026-12-08T00:00:00Z"), endTime: ts("2026-12-07T00:00:00Z") }));
  t.equal(backwards.code, Code.InvalidArgument, "end before start");
  t.equal((await failure(staff.listAvailableSlots({ providerId: "nobody", startTime: ts("2026-12-07T00:00:00Z"), endTime: ts("2026-12-08T00:00:00Z") }))).code, Code.NotFound);
  t.equal((await failure(staff.listAvailableSlots({ providerId: "prov-avail", startTime: ts("2026-12-07T00:00:00Z"), endTime: ts("2026-12-08T00:00:00Z"), resourceIds: ["no-room"] }))).code, Code.NotFound);
});

t.test("booking: slots shrink, codes for taken, outside hours, bad input; buffers hold", async (t) => {
  await staff.createProvider({ displayName: "Dr. Book", timeZone: "America/New_York", providerId: "prov-book" });
  await staff.setAvailability({
    providerId: "prov-book",
    weeklyHours: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "09:00", endTime: "12:00" }],
    slotDuration: dur(30),
    buffer: dur(10),
  });
  const range = { providerId: "prov-book", startTime: ts("2026-12-07T00:00:00Z"), endTime: ts("2026-12-08T00:00:00Z") };
  t.equal((await staff.listAvailableSlots(range)).slots.length, 6);
  const booked = await staff.bookAppointment({ requestId: "b-1", providerId: "prov-book", patientId: "pat-1", startTime: ts("2026-12-07T15:00:00Z"), duration: dur(30), reason: "check-up" });
  const a = booked.appointment!;
  t.equal(a.status, AppointmentStatus.BOOKED);
  t.equal(timestampDate(a.endTime!).toISOString(), "2026-12-07T15:30:00.000Z");
  t.ok(a.fencingToken > 0n, "written under a fenced lock");
  // 10:00 EST (15:00Z) is booked and blocks until 10:40 with its buffer; 09:30 would end at 10:00
  // and need its own buffer up to 10:10, so it goes too.
  const left = (await staff.listAvailableSlots(range)).slots.map((s) => timestampDate(s.startTime!).toISOString().slice(11, 16));
  t.same(left, ["14:00", "16:00", "16:30"]);
  t.notOk(left.includes("15:00"), "the booked slot is gone");
  t.notOk(left.includes("14:30"), "09:30 would end at 10:00 and its buffer overlap the booking");
  t.notOk(left.includes("15:30"), "10:30 starts inside the booking's buffer");
  const taken = await failure(staff.bookAppointment({ requestId: "b-2", providerId: "prov-book", patientId: "pat-2", startTime: ts("2026-12-07T14:30:00Z"), duration: dur(60) }));
  t.equal(taken.code, Code.FailedPrecondition, "a partial overlap is refused");
  t.match(taken.rawMessage, /slot already taken/);
  const outside = await failure(staff.bookAppointment({ requestId: "b-3", providerId: "prov-book", patientId: "pat-2", startTime: ts("2026-12-07T18:00:00Z") }));
  t.equal(outside.code, Code.FailedPrecondition, "outside hours");
  const offGrid = await failure(staff.bookAppointment({ requestId: "b-4", providerId: "prov-book", patientId: "pat-2", startTime: ts("2026-12-07T14:10:00Z") }));
  t.equal(offGrid.code, Code.FailedPrecondition, "not on a slot boundary");
  const multiple = await failure(staff.bookAppointment({ requestId: "b-5", providerId: "prov-book", patientId: "pat-2", startTime: ts("2026-12-07T14:00:00Z"), duration: dur(45) }));
  t.equal(multiple.code, Code.InvalidArgument);
  t.same(multiple.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["duration"]);
  t.equal((await failure(staff.bookAppointment({ requestId: "b-6", providerId: "nobody", patientId: "pat-2", startTime: ts("2026-12-07T14:00:00Z") }))).code, Code.NotFound);
  const empty = await failure(staff.bookAppointment({ requestId: "", providerId: "prov-book", patientId: "pat-2", startTime: ts("2026-12-07T14:00:00Z") }));
  t.equal(empty.code, Code.InvalidArgument, "requestId is required");
});

t.test("requestId: the same request 10 times concurrently books once; other parameters are ALREADY_EXISTS", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-idem" });
  const req = { requestId: "same-1", providerId, patientId: "pat-9", startTime: ts("2026-12-07T10:00:00Z"), duration: dur(30) };
  const answers = await Promise.all(Array.from({ length: 10 }, () => staff.bookAppointment(req)));
  t.equal(new Set(answers.map((a) => a.appointment!.appointmentId)).size, 1, "one appointment id in every answer");
  const { count } = await db.selectFrom("scheduling.appointments" as never).select((eb: any) => eb.fn.countAll().as("count")).where("provider_id" as never, "=", providerId as never).executeTakeFirstOrThrow() as { count: string };
  t.equal(Number(count), 1, "one row");
  const other = await failure(staff.bookAppointment({ ...req, startTime: ts("2026-12-07T11:00:00Z") }));
  t.equal(other.code, Code.AlreadyExists);
  // Scoped to the caller: another receptionist's same key is a new request (and here, a taken slot).
  const colleague = await schedulingClient(sys, "receptionist", "rec-2");
  t.equal((await failure(colleague.bookAppointment(req))).code, Code.FailedPrecondition);
});

t.test("lifecycle: cancel, reschedule, no-show, illegal transitions, list pages", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-life" });
  const book = (id: string, iso: string, patientId = "pat-life") =>
    staff.bookAppointment({ requestId: id, providerId, patientId, startTime: ts(iso), duration: dur(30) }).then((r) => r.appointment!);
  const a = await book("l-1", "2026-12-07T09:00:00Z");
  const cancelled = await staff.cancelAppointment({ appointmentId: a.appointmentId, requestId: "c-1", reason: "feeling better" });
  t.equal(cancelled.appointment?.status, AppointmentStatus.CANCELLED);
  t.equal(cancelled.appointment?.cancelReason, "feeling better");
  t.equal((await staff.cancelAppointment({ appointmentId: a.appointmentId, requestId: "c-1", reason: "feeling better" })).appointment?.status, AppointmentStatus.CANCELLED, "a retry replays");
  t.equal((await failure(staff.cancelAppointment({ appointmentId: a.appointmentId, requestId: "c-2" }))).code, Code.FailedPrecondition, "cancel twice");
  t.equal((await book("l-2", "2026-12-07T09:00:00Z")).status, AppointmentStatus.BOOKED, "the freed time can be booked again");

  const b = await book("l-3", "2026-12-07T10:00:00Z");
  const moved = await staff.rescheduleAppointment({ appointmentId: b.appointmentId, requestId: "r-1", newStartTime: ts("2026-12-07T10:15:00Z") });
  t.equal(moved.previousAppointment?.status, AppointmentStatus.CANCELLED);
  t.equal(moved.appointment?.rescheduledFromId, b.appointmentId);
  t.equal(timestampDate(moved.appointment!.startTime!).toISOString(), "2026-12-07T10:15:00.000Z", "overlapping its own old time is fine");
  const blocker = await book("l-4", "2026-12-07T12:00:00Z", "pat-other");
  const clash = await failure(staff.rescheduleAppointment({ appointmentId: moved.appointment!.appointmentId, requestId: "r-2", newStartTime: ts("2026-12-07T12:00:00Z") }));
  t.equal(clash.code, Code.FailedPrecondition, "new slot taken");
  t.equal((await staff.getAppointment({ appointmentId: moved.appointment!.appointmentId })).appointment?.status, AppointmentStatus.BOOKED, "nothing changed");
  t.equal((await staff.markNoShow({ appointmentId: blocker.appointmentId, requestId: "n-1" })).appointment?.status, AppointmentStatus.NOSHOW);
  t.equal((await failure(staff.markNoShow({ appointmentId: blocker.appointmentId, requestId: "n-2" }))).code, Code.FailedPrecondition);
  t.equal((await failure(staff.getAppointment({ appointmentId: "a-missing" }))).code, Code.NotFound);

  for (let i = 0; i < 5; i++) await book(`l-p${i}`, `2026-12-08T0${i}:00:00Z`, "pat-pages");
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
  const first = await staff.bookAppointment({ requestId: "rc-0", providerId, patientId: "pat-rc", startTime: ts("2026-12-07T08:00:00Z"), duration: dur(30) });
  const targets = Array.from({ length: 12 }, (_, i) => new Date(Date.parse("2026-12-07T09:00:00Z") + i * 15 * MIN).toISOString());
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
  const queue = createClient(QueueService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sys.grpc.port}`, interceptors: [(next) => (req) => { req.header.set("authorization", `Bearer ${token}`); return next(req); }] }));
  const tickets = await queue.listTickets({ queueId: res.ticket!.queueId });
  t.ok(tickets.tickets.some((x) => x.ticketId === res.ticket!.ticketId), "the queue lists the ticket");
  const done = await staff.completeAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-done" });
  t.equal(done.appointment?.status, AppointmentStatus.FULFILLED, "the visit took place: CHECKED_IN -> FULFILLED");
  t.equal(done.appointment?.ticketId, res.ticket?.ticketId, "the ticket stays recorded");
  t.equal((await failure(staff.cancelAppointment({ appointmentId: appointment!.appointmentId, requestId: "ci-cancel" }))).code, Code.FailedPrecondition, "FULFILLED is final");
});

t.test("patients read only their own appointments; reads and changes are audited", async (t) => {
  const providerId = await setUpProvider(staff, { providerId: "prov-own" });
  const mine = await schedulingClient(sys, "patient", "pat-me");
  const { appointment } = await mine.bookAppointment({ requestId: "o-1", providerId, patientId: "pat-me", startTime: ts("2026-12-07T09:00:00Z"), duration: dur(15) });
  const theirs = await staff.bookAppointment({ requestId: "o-2", providerId, patientId: "pat-them", startTime: ts("2026-12-07T10:00:00Z"), duration: dur(15) });
  t.equal((await mine.getAppointment({ appointmentId: appointment!.appointmentId })).appointment?.patientId, "pat-me");
  t.equal((await failure(mine.getAppointment({ appointmentId: theirs.appointment!.appointmentId }))).code, Code.PermissionDenied);
  t.equal((await failure(mine.cancelAppointment({ appointmentId: theirs.appointment!.appointmentId, requestId: "o-3" }))).code, Code.PermissionDenied);
  t.equal((await failure(mine.listAppointments({ patientId: "pat-them" }))).code, Code.PermissionDenied);
  t.equal((await failure(mine.bookAppointment({ requestId: "o-4", providerId, patientId: "pat-them", startTime: ts("2026-12-07T11:00:00Z") }))).code, Code.PermissionDenied);
  const doctor = await schedulingClient(sys, "doctor", providerId);
  t.equal((await doctor.getAppointment({ appointmentId: theirs.appointment!.appointmentId })).appointment?.providerId, providerId, "the doctor reads their own patients' appointments");
  const rows = await db.selectFrom("scheduling.audit_log" as never).selectAll().where("record_id" as never, "=", appointment!.appointmentId as never).execute() as { action: string; actor: string; role: string }[];
  t.same(rows.map((r) => [r.action, r.actor, r.role]), [["BookAppointment", "pat-me", "patient"], ["GetAppointment", "pat-me", "patient"]]);
  const denied = await db.selectFrom("scheduling.audit_log" as never).selectAll().where("record_id" as never, "=", theirs.appointment!.appointmentId as never).execute() as { action: string }[];
  t.ok(denied.some((r) => r.action === "DeniedRead"), "a refused read is audited too");
});
