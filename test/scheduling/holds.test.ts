// Holds (issue 20 item 4): HoldSlot keeps a visit type's time for a patient as a PROPOSED appointment
// that blocks others like a booking (SLOT_HELD), BookAppointment with the holdId confirms it (the same
// appointment, BOOKED), an expired hold frees the time by itself (nobody needs a sweep to book it,
// reads stop showing it busy), confirming an expired hold fails and never books, a patient has at most
// SCHEDULING_MAX_HOLDS_PER_PATIENT holds (also when ten race), and the sweep expires holds without
// touching a confirmed one or the waitlist. Real Postgres (and PGlite for the embedded path), a fake
// clock, the class called directly.
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { AppointmentStatus, ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  AcceptOfferRequestSchema,
  BookAppointmentRequestSchema,
  BookAppointmentResponseSchema,
  CancelAppointmentRequestSchema,
  CreateResourceRequestSchema,
  GetAppointmentRequestSchema,
  HoldSlotRequestSchema,
  HoldSlotResponseSchema,
  ListAvailableSlotsRequestSchema,
  ListAvailableSlotsResponseSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { ConfigError } from "../../services/runtime/config.js";
import { loadSchedulingOptions } from "../../services/scheduling/scheduling-options.js";
import type { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { domainFailure as failure, domainReasonOf as outcome, reasonAfterRetries as retried } from "../helpers/call-outcome.js";
import { callerContext, testContext } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { insertVisitType, setCapabilities } from "../helpers/visit-types.js";

t.setTimeout(180_000);
const MIN = 60_000;
const m = SchedulingService.method;
const ctx = (method: DescMethod, role: Role = "receptionist", subject = "rec-1") => callerContext(method, role, subject);
let n = 0;
const rid = (what: string) => `${what}-${++n}`;
const ts = (at: Date | string | number) => timestampFromDate(new Date(at));

/** Clinic is a service on a fresh database with a fake clock and its helpers. */
function clinic(svc: SchedulingServiceImpl, db: Kysely<any>) {
  const hold = async (providerId: string, patientId: string, start: Date | string | number, opts: { visitTypeId?: string; resourceIds?: string[]; role?: Role; requestId?: string } = {}) =>
    create(HoldSlotResponseSchema, await svc.holdSlot(
      create(HoldSlotRequestSchema, { requestId: opts.requestId ?? rid("hold"), visitTypeId: opts.visitTypeId ?? "vt", providerId, patientId, startTime: ts(start), resourceIds: opts.resourceIds ?? [] }),
      opts.role === "patient" ? ctx(m.holdSlot, "patient", patientId) : ctx(m.holdSlot, opts.role),
    ));
  const confirm = async (holdId: string, fields: { patientId?: string; providerId?: string; start?: Date | string; reason?: string; requestId?: string } = {}, as: [Role, string] = ["receptionist", "rec-1"]) =>
    create(BookAppointmentResponseSchema, await svc.bookAppointment(
      create(BookAppointmentRequestSchema, {
        requestId: fields.requestId ?? rid("confirm"),
        holdId,
        patientId: fields.patientId ?? "",
        providerId: fields.providerId ?? "",
        startTime: fields.start === undefined ? undefined : ts(fields.start),
        reason: fields.reason ?? "",
      }),
      ctx(m.bookAppointment, ...as),
    ));
  const book = (providerId: string, patientId: string, start: Date | string | number, minutes = 15, resourceIds: string[] = []) =>
    svc.bookAppointment(
      create(BookAppointmentRequestSchema, { requestId: rid("book"), providerId, patientId, startTime: ts(start), duration: { seconds: BigInt(minutes * 60) }, resourceIds }),
      ctx(m.bookAppointment),
    );
  const status = async (appointmentId: string) => (await svc.getAppointment(create(GetAppointmentRequestSchema, { appointmentId }), ctx(m.getAppointment, "admin"))).appointment?.status;
  const slots = async (providerId: string, from: string, to: string, resourceIds: string[] = []) =>
    create(ListAvailableSlotsResponseSchema, await svc.listAvailableSlots(create(ListAvailableSlotsRequestSchema, { providerId, startTime: ts(from), endTime: ts(to), resourceIds }), ctx(m.listAvailableSlots))).slots.map((s) =>
      timestampDate(s.startTime!).toISOString(),
    );
  const active = async (providerId: string) => {
    const { rows } = await sql<{ status: string; hold_id: string | null }>`select status, hold_id from scheduling.appointments
      where provider_id = ${providerId} and status in ('PROPOSED', 'BOOKED', 'CHECKED_IN') order by lower(during)`.execute(db);
    return rows;
  };
  return { svc, db, hold, confirm, book, status, slots, active };
}

for (const embedded of [false, true]) {
  t.test(embedded ? "embedded (PGlite)" : "Postgres", async (t) => {
    const database = await createModuleDatabase(t, [schedulingModule], { embedded, maxConnections: 20 });
    const clock = createFakeClock(new Date("2026-12-07T06:00:00Z"));
    const svc = directSchedulingService(t, { db: database.db, clock });
    const c = clinic(svc, database.db);
    await createProviderIn(svc, ctx, { providerId: "dr-a", timeZone: "Europe/Istanbul" });
    await insertVisitType(database.db, { visitTypeId: "vt", providerIds: ["dr-a"], durationMinutes: 30 });

    t.test("hold, then confirm: the same appointment becomes BOOKED", async (t) => {
      const { hold } = await c.hold("dr-a", "pat-1", "2026-12-07T09:00:00Z");
      t.match(hold!.holdId, /^h-/);
      t.equal(hold!.appointment!.status, AppointmentStatus.PROPOSED);
      t.equal(timestampDate(hold!.expiresAt!).getTime(), clock.now().getTime() + 5 * MIN, "held for SCHEDULING_HOLD_TTL (5 min)");
      t.equal(timestampDate(hold!.appointment!.endTime!).toISOString(), "2026-12-07T09:30:00.000Z", "the visit type's length");
      t.equal(hold!.appointment!.holdId, hold!.holdId);
      clock.advance(4 * MIN);
      const { appointment } = await c.confirm(hold!.holdId, { patientId: "pat-1", reason: "check-up" });
      t.equal(appointment!.appointmentId, hold!.appointment!.appointmentId, "the held appointment itself");
      t.equal(appointment!.status, AppointmentStatus.BOOKED);
      t.equal(appointment!.reason, "check-up");
      t.equal(await c.status(appointment!.appointmentId), AppointmentStatus.BOOKED);
      t.equal(await outcome(c.confirm(hold!.holdId)), "HOLD_ALREADY_USED", "a confirmed hold is not confirmed twice");
      clock.advance(10 * MIN);
      await svc.expireOffers();
      t.equal(await c.status(appointment!.appointmentId), AppointmentStatus.BOOKED, "the sweep never frees a confirmed hold");
    });

    t.test("a hold blocks others like a booking, and says so (SLOT_HELD)", async (t) => {
      const { hold } = await c.hold("dr-a", "pat-2", "2026-12-07T11:00:00Z");
      const err = await failure(c.book("dr-a", "pat-3", "2026-12-07T11:15:00Z"));
      t.equal(err.reason, "SLOT_HELD");
      t.match(err.message, /held for another patient finishing their booking until 0\d:\d\d/);
      t.equal(await outcome(c.hold("dr-a", "pat-3", "2026-12-07T10:45:00Z")), "SLOT_HELD", "a hold overlapping it too");
      t.notOk((await c.slots("dr-a", "2026-12-07T11:00:00Z", "2026-12-07T11:30:00Z")).includes("2026-12-07T11:00:00.000Z"), "not listed as free");
      await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: hold!.appointment!.appointmentId, requestId: rid("release") }), ctx(m.cancelAppointment));
      t.equal(await outcome(c.book("dr-a", "pat-3", "2026-12-07T11:15:00Z")), "OK", "released: free again");
    });

    t.test("an expired hold frees its time by itself; confirming it fails and books nothing", async (t) => {
      const { hold } = await c.hold("dr-a", "pat-4", "2026-12-07T13:00:00Z");
      clock.advance(5 * MIN);
      t.ok((await c.slots("dr-a", "2026-12-07T13:00:00Z", "2026-12-07T13:30:00Z")).includes("2026-12-07T13:00:00.000Z"), "listed as free, no sweep run");
      const err = await failure(c.confirm(hold!.holdId, { patientId: "pat-4" }));
      t.equal(err.reason, "HOLD_EXPIRED");
      t.equal(err.metadata?.timeStillFree, "true", "and the time is still free");
      t.equal(await c.status(hold!.appointment!.appointmentId), AppointmentStatus.PROPOSED, "not booked");
      const other = await c.book("dr-a", "pat-5", "2026-12-07T13:15:00Z");
      t.equal(other.appointment!.status, AppointmentStatus.BOOKED, "another patient books the time without any sweep");
      t.equal(await c.status(hold!.appointment!.appointmentId), AppointmentStatus.CANCELLED, "the lapsed hold was expired by that booking");
      const again = await failure(c.confirm(hold!.holdId, { patientId: "pat-4" }));
      t.equal(again.reason, "HOLD_EXPIRED");
      t.equal(again.metadata?.timeStillFree, "false", "the time was taken since");
      t.same((await c.active("dr-a")).filter((r) => r.hold_id === hold!.holdId), [], "the expired hold holds nothing");
    });

    t.test("a lapsed hold never blocks another hold, a reschedule or a room", async (t) => {
      await svc.createResource(create(CreateResourceRequestSchema, { resourceId: "room-us", displayName: "Ultrasound room", kind: ResourceKind.ROOM }), ctx(m.createResource, "admin"));
      await setCapabilities(database.db, "room-us", ["ultrasound"]);
      await createProviderIn(svc, ctx, { providerId: "dr-b", timeZone: "Europe/Istanbul" });
      await insertVisitType(database.db, { visitTypeId: "vt-us", providerIds: ["dr-a", "dr-b"], durationMinutes: 30, requiredCapabilities: ["ultrasound"] });
      const { hold } = await c.hold("dr-a", "pat-6", "2026-12-07T15:00:00Z", { visitTypeId: "vt-us" });
      t.same(hold!.appointment!.resourceIds, ["room-us"], "the room chosen by capability");
      t.equal(await outcome(c.hold("dr-b", "pat-7", "2026-12-07T15:00:00Z", { visitTypeId: "vt-us" })), "NO_RESOURCE_AVAILABLE", "the room is held");
      const moving = (await c.book("dr-a", "pat-r", "2026-12-07T20:00:00Z")).appointment!;
      const { hold: inTheWay } = await c.hold("dr-a", "pat-6", "2026-12-07T21:00:00Z");
      clock.advance(6 * MIN);
      const moved = await svc.rescheduleAppointment(
        create(RescheduleAppointmentRequestSchema, { appointmentId: moving.appointmentId, requestId: rid("move"), newStartTime: ts("2026-12-07T21:00:00Z") }),
        ctx(m.rescheduleAppointment),
      );
      t.equal(moved.appointment?.status, AppointmentStatus.BOOKED, "a reschedule onto a lapsed hold's time");
      t.equal(await c.status(inTheWay!.appointment!.appointmentId), AppointmentStatus.CANCELLED, "which it expired");
      const { hold: next } = await c.hold("dr-b", "pat-7", "2026-12-07T15:00:00Z", { visitTypeId: "vt-us" });
      t.same(next!.appointment!.resourceIds, ["room-us"], "the lapsed hold's room is free for another provider's patient");
      t.equal((await c.confirm(next!.holdId)).appointment!.status, AppointmentStatus.BOOKED);
      t.equal(await c.status(hold!.appointment!.appointmentId), AppointmentStatus.CANCELLED);
    });

    t.test("checks: visit type offered, mismatch, another patient's hold, idempotent, not an offer", async (t) => {
      await insertVisitType(database.db, { visitTypeId: "vt-b", providerIds: ["dr-b"] });
      t.equal(await outcome(c.hold("dr-a", "pat-8", "2026-12-07T16:00:00Z", { visitTypeId: "vt-b" })), "NOT_OFFERED_BY_PROVIDER");
      t.equal(await outcome(c.hold("dr-a", "pat-8", "2026-12-07T16:00:00Z", { visitTypeId: "nope" })), "VISIT_TYPE_NOT_FOUND");
      t.equal(await outcome(c.hold("dr-a", "pat-8", "2026-12-07T05:00:00Z")), "BOOKING_IN_PAST");
      t.equal(await outcome(c.hold("dr-a", "pat-8", "2026-12-07T16:05:00Z")), "NOT_ON_SLOT_BOUNDARY");
      const requestId = rid("hold");
      const first = await c.hold("dr-a", "pat-8", "2026-12-07T16:00:00Z", { requestId, role: "patient" });
      const retry = await c.hold("dr-a", "pat-8", "2026-12-07T16:00:00Z", { requestId, role: "patient" });
      t.equal(retry.hold!.holdId, first.hold!.holdId, "a retry answers the same hold");
      t.equal(await outcome(c.hold("dr-a", "pat-8", "2026-12-07T16:30:00Z", { requestId, role: "patient" })), "REQUEST_ID_REUSED");
      const holdId = first.hold!.holdId;
      t.equal(await outcome(c.confirm(holdId, { start: "2026-12-07T16:30:00Z" })), "HOLD_MISMATCH", "never silently another time");
      t.equal(await outcome(c.confirm(holdId, { providerId: "dr-b" })), "HOLD_MISMATCH");
      t.equal(await outcome(c.confirm(holdId, { patientId: "pat-9" })), "HOLD_MISMATCH");
      const stranger = await failure(c.confirm(holdId, { patientId: "pat-9" }, ["patient", "pat-9"]));
      t.equal(stranger.code, Code.NotFound, "another patient's hold does not exist for a patient");
      // As the interceptor grants it (own by the patientId field: not ownOnly), the same answer.
      const granted = svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId: rid("confirm"), holdId, patientId: "pat-9" }), testContext(m.bookAppointment, {
        principal: { subject: "pat-9", roles: ["patient"], grantedRole: "patient", ownOnly: false },
      }));
      t.equal((await failure(granted)).reason, "HOLD_NOT_FOUND", "not HOLD_MISMATCH, which would tell the hold exists");
      t.equal(await outcome(svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId: first.hold!.appointment!.appointmentId, requestId: rid("accept") }), ctx(m.acceptOffer, "patient", "pat-8"))), "NOT_A_WAITLIST_OFFER");
      const confirmId = rid("confirm");
      const booked = await c.confirm(holdId, { patientId: "pat-8", requestId: confirmId }, ["patient", "pat-8"]);
      const replay = await c.confirm(holdId, { patientId: "pat-8", requestId: confirmId }, ["patient", "pat-8"]);
      t.same(replay.appointment, booked.appointment, "confirming is idempotent by requestId");
    });

    t.test("HOLD_LIMIT: at most 3 unexpired holds per patient, also when 10 race", async (t) => {
      await createProviderIn(svc, ctx, { providerId: "dr-c", timeZone: "UTC" });
      await insertVisitType(database.db, { visitTypeId: "vt-c", providerIds: ["dr-c"] });
      const starts = Array.from({ length: 10 }, (_, i) => new Date(Date.parse("2026-12-08T08:00:00Z") + i * 30 * MIN));
      const got = await Promise.all(starts.map((s) => retried(() => c.hold("dr-c", "pat-10", s, { visitTypeId: "vt-c", role: "patient" }))));
      t.equal(got.filter((r) => r === "OK").length, 3, "three held");
      t.equal(got.filter((r) => r === "HOLD_LIMIT").length, 7, "the others refused with HOLD_LIMIT");
      const err = await failure(c.hold("dr-c", "pat-10", "2026-12-08T16:00:00Z", { visitTypeId: "vt-c" }));
      t.equal(err.reason, "HOLD_LIMIT", "staff holding for the patient too");
      t.equal(err.metadata?.limit, "3");
      clock.advance(5 * MIN);
      t.equal(await outcome(c.hold("dr-c", "pat-10", "2026-12-08T16:00:00Z", { visitTypeId: "vt-c" })), "OK", "expired holds no longer count");
    });

    t.test("the sweep expires lapsed holds, touching no booking and no waitlist", async (t) => {
      const { hold } = await c.hold("dr-a", "pat-11", "2026-12-07T18:00:00Z");
      const { hold: kept } = await c.hold("dr-a", "pat-12", "2026-12-07T19:00:00Z");
      await c.confirm(kept!.holdId);
      clock.advance(5 * MIN);
      const waitlistBefore = await sql<{ n: string }>`select count(*)::text as n from scheduling.waitlist`.execute(database.db);
      await svc.expireOffers();
      t.equal(await c.status(hold!.appointment!.appointmentId), AppointmentStatus.CANCELLED, "expired by the sweep");
      t.equal(await c.status(kept!.appointment!.appointmentId), AppointmentStatus.BOOKED, "the confirmed one untouched");
      const { rows } = await sql<{ cancel_reason: string }>`select cancel_reason from scheduling.appointments where hold_id = ${hold!.holdId}`.execute(database.db);
      t.equal(rows[0].cancel_reason, "hold expired");
      const audited = await sql<{ action: string }>`select action from scheduling.audit_log where record_id = ${hold!.appointment!.appointmentId} and action <> 'GetAppointment' order by id`.execute(database.db);
      t.same(audited.rows.map((r) => r.action), ["HoldSlot", "ExpireHold"], "taken and expired, audited");
      const waitlistAfter = await sql<{ n: string }>`select count(*)::text as n from scheduling.waitlist`.execute(database.db);
      t.same(waitlistAfter.rows, waitlistBefore.rows, "no waitlist entry made or changed");
    });
  });
}

t.test("SCHEDULING_HOLD_TTL and SCHEDULING_MAX_HOLDS_PER_PATIENT", async (t) => {
  const opts = loadSchedulingOptions({ SCHEDULING_HOLD_TTL: "2m", SCHEDULING_MAX_HOLDS_PER_PATIENT: "1" });
  t.equal(opts.holdTtlMs, 2 * MIN);
  t.equal(opts.maxHoldsPerPatient, 1);
  t.equal(loadSchedulingOptions({}).holdTtlMs, 5 * MIN, "5 minutes by default");
  t.equal(loadSchedulingOptions({}).maxHoldsPerPatient, 3, "3 by default");
  t.throws(() => loadSchedulingOptions({ SCHEDULING_HOLD_TTL: "2h" }), ConfigError);
  t.throws(() => loadSchedulingOptions({ SCHEDULING_MAX_HOLDS_PER_PATIENT: "-1" }), ConfigError);
});
