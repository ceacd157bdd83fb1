// Booking with a visit type (issue 20, item 2), trying to break what it promises: a visit of any
// length starts on the provider's grid and keeps its buffers free on both sides; its rooms and
// devices cover its capabilities (chosen free, or NO_RESOURCE_AVAILABLE); a patient inside the
// minimum notice, past the visit type's horizon, or changing a visit past the cutoff is refused with
// the rule named in ErrorInfo metadata, while reception overrides with a reason the audit log keeps
// and patients never can; the maximum per patient per day holds against concurrent bookings; a
// move keeps the visit type and the series columns. The class against real Postgres, a fake clock.
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  CreateVisitTypeRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext } from "../helpers/handler-context.js";
import { createProviderIn, directSchedulingService, testReasonVault } from "../helpers/scheduling.js";
import { domainFailure as failure, domainReasonOf as outcome, reasonAfterRetries as retried, violatedFields } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

t.setTimeout(180_000);
const MIN = 60_000;
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule], { maxConnections: 20 });
const db = database.db;
const clock = createFakeClock(new Date("2026-03-02T00:00:00Z"));
const svc = directSchedulingService(t, { db, clock });
let n = 0;
const rid = (what: string) => `${what}-${++n}`;
const s = (minutes: number) => ({ seconds: BigInt(minutes * 60) });
const at = (iso: string) => new Date(iso);

/** ctx is a caller: reception by default, a patient as themselves. */
const ctx = (method: DescMethod, role: Role = "receptionist", subject?: string) => callerContext(method, role, subject ?? (role === "patient" ? "pat-1" : "rec-1"));

await createProviderIn(svc, callerContext, { providerId: "p-30", slotMinutes: 30, start: "08:00", end: "18:00" });
await createProviderIn(svc, callerContext, { providerId: "p-15", slotMinutes: 15, start: "08:00", end: "18:00" });
await createProviderIn(svc, callerContext, { providerId: "p-other", slotMinutes: 15, start: "08:00", end: "18:00" });
await createProviderIn(svc, callerContext, { providerId: "p-istanbul", slotMinutes: 15, start: "08:00", end: "18:00", timeZone: "Europe/Istanbul" });

/** visitType creates a visit type offered by `providerIds`; `over` replaces fields. */
async function visitType(visitTypeId: string, providerIds: string[], over: Record<string, unknown> = {}): Promise<string> {
  await svc.createVisitType(
    create(CreateVisitTypeRequestSchema, { requestId: rid("vt"), visitType: { visitTypeId, displayName: `Visit ${visitTypeId}`, duration: s(30), providerIds, patientBookable: true, ...over } as never }),
    ctx(m.createVisitType, "admin"),
  );
  return visitTypeId;
}

/** book books `visitTypeId` (or a plain visit of `duration` minutes when it is ""). */
function book(
  providerId: string,
  start: string,
  opts: { visitTypeId?: string; patientId?: string; role?: Role; overrideReason?: string; resourceIds?: string[]; duration?: number; requestId?: string } = {},
) {
  const patientId = opts.patientId ?? "pat-1";
  const role = opts.role ?? "receptionist";
  return svc.bookAppointment(
    create(BookAppointmentRequestSchema, {
      requestId: opts.requestId ?? rid("book"),
      providerId,
      patientId,
      startTime: timestampFromDate(at(start)),
      visitTypeId: opts.visitTypeId ?? "",
      duration: opts.duration ? s(opts.duration) : undefined,
      resourceIds: opts.resourceIds ?? [],
      overrideReason: opts.overrideReason ?? "",
    }),
    ctx(m.bookAppointment, role, role === "patient" ? patientId : undefined),
  );
}

const reschedule = (appointmentId: string, newStart: string, role: Role = "receptionist", overrideReason = "", patientId = "pat-1") =>
  svc.rescheduleAppointment(
    create(RescheduleAppointmentRequestSchema, { appointmentId, requestId: rid("move"), newStartTime: timestampFromDate(at(newStart)), overrideReason }),
    ctx(m.rescheduleAppointment, role, role === "patient" ? patientId : undefined),
  );
const cancel = (appointmentId: string, role: Role = "receptionist", patientId = "pat-1") =>
  svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId, requestId: rid("cancel") }), ctx(m.cancelAppointment, role, role === "patient" ? patientId : undefined));

/** blocked is an appointment's blocked range as stored, "HH:MM-HH:MM" in UTC. */
async function blocked(appointmentId: string): Promise<string> {
  const { rows } = await sql<{ s: Date; e: Date }>`select lower(blocked) as s, upper(blocked) as e from scheduling.appointments where appointment_id = ${appointmentId}`.execute(db);
  return `${rows[0].s.toISOString().slice(11, 16)}-${rows[0].e.toISOString().slice(11, 16)}`;
}

t.test("a 45-minute visit on a 30-minute grid starts on the grid and takes the time it lasts", async (t) => {
  clock.set(at("2026-03-09T00:00:00Z"));
  const vt = await visitType("vt-45", ["p-30"], { duration: s(45) });
  const a = (await book("p-30", "2026-03-10T09:00:00Z", { visitTypeId: vt })).appointment!;
  t.equal(a.endTime?.seconds, BigInt(Date.parse("2026-03-10T09:45:00Z") / 1000), "ends after 45 minutes");
  t.equal(a.visitTypeId, vt);
  t.equal(a.locationId, "default");
  t.equal(await outcome(book("p-30", "2026-03-10T09:30:00Z", { duration: 30 })), "SLOT_TAKEN", "the next cell is partly taken");
  t.equal(await outcome(book("p-30", "2026-03-10T10:00:00Z", { duration: 30 })), "OK", "the cell after is free");
  t.equal(await outcome(book("p-30", "2026-03-10T11:15:00Z", { visitTypeId: vt })), "NOT_ON_SLOT_BOUNDARY", "off the provider's grid");
  t.equal(await outcome(book("p-30", "2026-03-10T17:30:00Z", { visitTypeId: vt })), "ENDS_AFTER_WORKING_HOURS", "the whole visit must fit");
  t.same(await violatedFields(book("p-30", "2026-03-10T12:00:00Z", { visitTypeId: vt, duration: 45 })), ["duration"], "no duration with a visit type");
  t.same(await violatedFields(book("p-30", "2026-03-10T12:00:00Z", { duration: 45 })), ["duration"], "a plain booking keeps the multiple rule");
  t.equal((await failure(book("p-30", "2026-03-10T12:00:00Z", { visitTypeId: "vt-nowhere" }))).reason, "VISIT_TYPE_NOT_FOUND");
  t.equal(await outcome(book("p-15", "2026-03-10T12:00:00Z", { visitTypeId: vt })), "NOT_OFFERED_BY_PROVIDER");
});

t.test("buffers before and after keep neighbours apart", async (t) => {
  clock.set(at("2026-03-09T00:00:00Z"));
  const vt = await visitType("vt-buffered", ["p-15"], { duration: s(30), bufferBefore: s(15), bufferAfter: s(15) });
  const a = (await book("p-15", "2026-03-11T10:00:00Z", { visitTypeId: vt })).appointment!;
  t.equal(await blocked(a.appointmentId), "09:45-10:45", "blocked from the buffer before to the buffer after");
  t.equal(await outcome(book("p-15", "2026-03-11T09:45:00Z", { duration: 15 })), "SLOT_TAKEN", "not in the buffer before");
  t.equal(await outcome(book("p-15", "2026-03-11T10:30:00Z", { duration: 15 })), "SLOT_TAKEN", "not in the buffer after");
  t.equal(await outcome(book("p-15", "2026-03-11T09:30:00Z", { duration: 15 })), "OK", "right before the buffer");
  t.equal(await outcome(book("p-15", "2026-03-11T10:45:00Z", { duration: 15 })), "OK", "right after the buffer");
  t.equal(await outcome(book("p-15", "2026-03-11T12:15:00Z", { duration: 15 })), "OK");
  t.equal(await outcome(book("p-15", "2026-03-11T12:30:00Z", { visitTypeId: vt })), "SLOT_TAKEN", "its own buffer before would overlap the visit before it");
  t.equal(await outcome(book("p-15", "2026-03-11T12:45:00Z", { visitTypeId: vt })), "OK");
});

t.test("rooms and devices by capability: chosen free, named ones must cover, NO_RESOURCE_AVAILABLE when none", async (t) => {
  clock.set(at("2026-03-09T00:00:00Z"));
  await sql`insert into scheduling.resources (resource_id, display_name, kind, created_at, location_id, capabilities) values
    ('r-us1', 'Ultrasound 1', 'DEVICE', now(), 'default', '{ultrasound}'),
    ('r-us2', 'Ultrasound 2', 'DEVICE', now(), 'default', '{ultrasound,ecg}'),
    ('r-room', 'Room 1', 'ROOM', now(), 'default', '{exam}')`.execute(db);
  const vt = await visitType("vt-echo", ["p-15", "p-other", "p-30"], { requiredCapabilities: ["ultrasound"] });
  const first = (await book("p-15", "2026-03-12T09:00:00Z", { visitTypeId: vt })).appointment!;
  t.same(first.resourceIds, ["r-us1"], "the first free one that has it");
  const second = (await book("p-other", "2026-03-12T09:00:00Z", { visitTypeId: vt, patientId: "pat-2" })).appointment!;
  t.same(second.resourceIds, ["r-us2"], "the other one, at the same time");
  const none = await failure(book("p-30", "2026-03-12T09:00:00Z", { visitTypeId: vt, patientId: "pat-3" }));
  t.equal(none.code, Code.FailedPrecondition);
  t.equal(none.reason, "NO_RESOURCE_AVAILABLE");
  t.equal(none.metadata.capabilities, "ultrasound");
  t.equal(await outcome(book("p-30", "2026-03-12T09:30:00Z", { visitTypeId: vt, patientId: "pat-3" })), "OK", "free again half an hour later");
  t.equal(await outcome(book("p-15", "2026-03-12T11:00:00Z", { visitTypeId: vt, resourceIds: ["r-room"] })), "MISSING_CAPABILITY", "a room without it");
  const named = (await book("p-15", "2026-03-12T12:00:00Z", { visitTypeId: vt, resourceIds: ["r-us2", "r-room"] })).appointment!;
  t.same(named.resourceIds, ["r-room", "r-us2"], "named ones that cover it, as named");
  const two = await visitType("vt-two", ["p-15"], { requiredCapabilities: ["ultrasound", "ultrasound"] });
  t.same((await book("p-15", "2026-03-12T14:00:00Z", { visitTypeId: two })).appointment?.resourceIds, ["r-us1", "r-us2"], "a capability twice: two devices");
  const ecg = await visitType("vt-us-ecg", ["p-15"], { requiredCapabilities: ["ultrasound", "ecg"] });
  t.same((await book("p-15", "2026-03-12T15:00:00Z", { visitTypeId: ecg })).appointment?.resourceIds, ["r-us1", "r-us2"], "the ECG device serves ECG, the other one ultrasound (a matching)");
});

t.test("rules: minimum notice and horizon refuse a patient with the rule named; reception overrides with an audited reason; patients cannot", async (t) => {
  clock.set(at("2026-03-16T08:00:00Z"));
  const vt = await visitType("vt-rules", ["p-istanbul"], { rules: { minNotice: s(24 * 60), horizon: s(14 * 24 * 60) } });
  const soon = await failure(book("p-istanbul", "2026-03-16T12:00:00Z", { visitTypeId: vt, role: "patient" }));
  t.equal(soon.code, Code.FailedPrecondition);
  t.equal(soon.reason, "MIN_NOTICE");
  t.equal(soon.metadata.rule, "minNotice");
  t.match(soon.message, /15:00 on Monday 16 March 2026 \(Europe\/Istanbul\) is too soon \(the earliest is 11:00 on Tuesday 17 March 2026/);
  const far = await failure(book("p-istanbul", "2026-04-01T12:00:00Z", { visitTypeId: vt, role: "patient" }));
  t.equal(far.reason, "VISIT_TYPE_HORIZON");
  t.equal(far.metadata.rule, "horizon");
  t.equal(await outcome(book("p-istanbul", "2026-03-18T12:00:00Z", { visitTypeId: vt, role: "patient" })), "OK", "inside both");
  const denied = await failure(book("p-istanbul", "2026-03-16T13:00:00Z", { visitTypeId: vt, role: "patient", overrideReason: "please" }));
  t.equal(denied.code, Code.PermissionDenied);
  t.equal(denied.reason, "OVERRIDE_NOT_ALLOWED");
  t.equal(await outcome(book("p-istanbul", "2026-03-16T13:00:00Z", { duration: 15, role: "patient", overrideReason: "please" })), "OVERRIDE_NOT_ALLOWED", "nor on a plain booking");
  t.equal(await outcome(book("p-istanbul", "2026-03-16T13:00:00Z", { visitTypeId: vt })), "MIN_NOTICE", "reception without a reason is refused too");
  const overridden = (await book("p-istanbul", "2026-03-16T13:00:00Z", { visitTypeId: vt, overrideReason: "urgent: pain since last night" })).appointment!;
  const { rows: sealed } = await sql<{ action: string; override_reason: string; override_reason_key_id: string | null; role: string }>`select action, override_reason, override_reason_key_id, role from scheduling.audit_log
    where record_type = 'appointment' and record_id = ${overridden.appointmentId}`.execute(db);
  const rows = sealed.map(({ override_reason, override_reason_key_id, ...r }) => ({ ...r, override_reason: testReasonVault().openOverride({ value: override_reason, keyId: override_reason_key_id }) }));
  t.same(rows, [{ action: "BookAppointment", override_reason: "urgent: pain since last night", role: "receptionist" }], "the audit entry keeps the reason (sealed)");
  t.equal(await outcome(book("p-istanbul", "2026-04-01T12:00:00Z", { visitTypeId: vt, overrideReason: "follow-up after travel" })), "OK", "past the visit type's horizon");
  t.equal(await outcome(book("p-istanbul", "2027-04-01T12:00:00Z", { visitTypeId: vt, overrideReason: "next year" })), "BEYOND_HORIZON", "never past SCHEDULING_BOOKING_HORIZON");
  t.equal(await outcome(book("p-istanbul", "2026-03-16T13:00:00Z", { visitTypeId: vt, patientId: "pat-9", overrideReason: "double" })), "SLOT_TAKEN", "never onto taken time");
  const staffOnly = await visitType("vt-staff", ["p-istanbul"], { patientBookable: false });
  t.equal(await outcome(book("p-istanbul", "2026-03-20T12:00:00Z", { visitTypeId: staffOnly, role: "patient" })), "VISIT_TYPE_STAFF_ONLY");
  t.equal(await outcome(book("p-istanbul", "2026-03-20T12:00:00Z", { visitTypeId: staffOnly })), "OK", "reception books it");
});

t.test("a patient may not move or cancel a visit past its cutoff; reception may; a move keeps visit type and series", async (t) => {
  clock.set(at("2026-03-23T10:00:00Z"));
  const vt = await visitType("vt-cutoff", ["p-15"], { rules: { patientCancelCutoff: s(24 * 60), minNotice: s(60) }, duration: s(20), bufferAfter: s(10) });
  const a = (await book("p-15", "2026-03-24T09:00:00Z", { visitTypeId: vt, role: "patient" })).appointment!;
  const late = await failure(cancel(a.appointmentId, "patient"));
  t.equal(late.code, Code.FailedPrecondition);
  t.equal(late.reason, "PATIENT_CANCEL_CUTOFF");
  t.equal(late.metadata.rule, "patientCancelCutoff");
  t.equal(await outcome(reschedule(a.appointmentId, "2026-03-26T10:00:00Z", "patient")), "PATIENT_CANCEL_CUTOFF", "nor moved");
  await sql`update scheduling.appointments set series_id = 'series-1', series_index = 3 where appointment_id = ${a.appointmentId}`.execute(db);
  const moved = await reschedule(a.appointmentId, "2026-03-26T10:00:00Z");
  t.equal(moved.appointment?.visitTypeId, vt, "the visit type is kept");
  t.equal(moved.appointment?.seriesId, "series-1", "so is the series");
  t.equal(moved.appointment?.seriesIndex, 3, "and its place in it");
  t.equal(moved.appointment?.locationId, "default");
  t.equal(await blocked(moved.appointment!.appointmentId), "10:00-10:30", "its length and buffer after");
  const b = (await book("p-15", "2026-03-30T10:00:00Z", { visitTypeId: vt, role: "patient" })).appointment!;
  t.equal(await outcome(reschedule(b.appointmentId, "2026-03-23T10:30:00Z", "patient")), "MIN_NOTICE", "a move is held to the rules at the new time");
  t.equal(await outcome(reschedule(b.appointmentId, "2026-03-23T10:30:00Z", "patient", "now please")), "OVERRIDE_NOT_ALLOWED");
  const forced = await reschedule(b.appointmentId, "2026-03-23T10:30:00Z", "receptionist", "patient is in the waiting room");
  const { rows: overrides } = await sql<{ override_reason: string; override_reason_key_id: string | null }>`select override_reason, override_reason_key_id from scheduling.audit_log
    where record_id = ${forced.appointment!.appointmentId} and action = 'RescheduleAppointment'`.execute(db);
  t.same(overrides.map((r) => testReasonVault().openOverride({ value: r.override_reason, keyId: r.override_reason_key_id })), ["patient is in the waiting room"]);
  t.equal(await outcome(reschedule(b.appointmentId, "2026-03-31T10:00:00Z", "patient")), "ILLEGAL_TRANSITION", "the old one is gone");
  const c = (await book("p-15", "2026-03-31T10:00:00Z", { visitTypeId: vt, role: "patient" })).appointment!;
  t.equal(await outcome(cancel(c.appointmentId, "patient")), "OK", "before the cutoff the patient cancels");
  t.equal(await outcome(cancel(forced.appointment!.appointmentId)), "OK", "reception cancels after it");
});

t.test("at most max_per_patient_per_day visits of a type per local day, also when 10 bookings race", async (t) => {
  clock.set(at("2026-04-06T00:00:00Z"));
  const vt = await visitType("vt-daily", ["p-other"], { duration: s(15), rules: { maxPerPatientPerDay: 2 } });
  const starts = Array.from({ length: 10 }, (_, i) => new Date(Date.parse("2026-04-07T09:00:00Z") + i * 15 * MIN).toISOString());
  const outcomes = await Promise.all(starts.map((start) => retried(() => book("p-other", start, { visitTypeId: vt, patientId: "pat-racer" }))));
  t.equal(outcomes.filter((o) => o === "OK").length, 2, "two booked");
  t.same([...new Set(outcomes.filter((o) => o !== "OK"))], ["MAX_PER_PATIENT_PER_DAY"], "the others refused by the rule");
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments where patient_id = 'pat-racer' and status = 'BOOKED'`.execute(db);
  t.equal(Number(rows[0].n), 2, "two stored");
  const err = await failure(book("p-other", "2026-04-07T15:00:00Z", { visitTypeId: vt, patientId: "pat-racer" }));
  t.equal(err.metadata.rule, "maxPerPatientPerDay");
  t.equal(await outcome(book("p-other", "2026-04-08T09:00:00Z", { visitTypeId: vt, patientId: "pat-racer" })), "OK", "the next day is another day");
  t.equal(await outcome(book("p-other", "2026-04-07T16:00:00Z", { visitTypeId: vt, patientId: "pat-racer", overrideReason: "second procedure needed" })), "OK", "reception overrides it");
  t.equal(await outcome(book("p-other", "2026-04-07T16:30:00Z", { visitTypeId: vt, patientId: "pat-other" })), "OK", "another patient is not limited by it");
});
