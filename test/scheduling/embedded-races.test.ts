// Embedded mode (PGlite, one session; DESIGN.md section 1): a change that loses a race is refused
// from inside its transaction, and the refusal's words (the provider's name and zone) must be read
// through that transaction: a query on the database handle there would wait for the session the
// transaction holds, and the call would hang until PGlite's session timeout instead of answering
// FAILED_PRECONDITION at once. The per-patient rules hold here too: racing self-bookings of one
// patient stop at the limit, racing identical waitlist joins leave one entry, racing joins of
// different windows stop at the waitlist limit; time held for a waitlist offer is named as such when
// found inside a transaction (read after it rolled back), and the offer passes on once its patient
// books that time elsewhere.
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext } from "../helpers/handler-context.js";
import { directSchedulingService, createProviderIn } from "../helpers/scheduling.js";
import { createModuleDatabase } from "../helpers/module-database.js";

const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule], { embedded: true });
const clock = createFakeClock(new Date("2026-03-02T06:00:00Z"));
const svc = directSchedulingService(t, { db: database.db, clock });
const ctx = (method: DescMethod) => callerContext(method);
const asPatient = (method: DescMethod, subject: string) => callerContext(method, "patient", subject);
const reasonOf = (r: PromiseSettledResult<unknown>) => (r.status === "fulfilled" ? "OK" : r.reason instanceof DomainError ? r.reason.reason : String(r.reason));

t.test("two cancellations of one appointment at once: one cancels, the other is told why at once", async (t) => {
  await createProviderIn(svc, ctx, { providerId: "p-race", displayName: "Dr. Ada Lovelace", timeZone: "Europe/Istanbul", start: "09:00", end: "17:00", slotMinutes: 30 });
  const { appointment } = await svc.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: "b-1", providerId: "p-race", patientId: "pat-1", startTime: timestampFromDate(new Date("2026-03-03T07:00:00Z")) }),
    ctx(m.bookAppointment),
  );
  const cancel = (requestId: string) => svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: appointment!.appointmentId, requestId }), ctx(m.cancelAppointment));
  const results = await Promise.allSettled([cancel("c-1"), cancel("c-2")]);
  t.equal(results.filter((r) => r.status === "fulfilled").length, 1, "one cancels");
  const lost = results.find((r) => r.status === "rejected");
  const err = lost?.status === "rejected" ? lost.reason : undefined;
  t.ok(err instanceof DomainError, `the other fails with a domain error (${String(err)})`);
  t.equal((err as DomainError).reason, "ILLEGAL_TRANSITION");
  t.match((err as DomainError).message, /^the appointment with Dr\. Ada Lovelace at 10:00 on Tuesday 3 March 2026 \(Europe\/Istanbul\) was cancelled, so it cannot be cancelled$/);
});

t.test("a patient's racing self-bookings stop at the limit; racing identical waitlist joins leave one entry", async (t) => {
  await createProviderIn(svc, ctx, { providerId: "p-lim", displayName: "Dr. Mehmet Demir", timeZone: "Europe/Istanbul", start: "09:00", end: "17:00", slotMinutes: 30 });
  const book = (i: number) =>
    svc.bookAppointment(
      create(BookAppointmentRequestSchema, { requestId: `lim-${i}`, providerId: "p-lim", patientId: "pat-lim", startTime: timestampFromDate(new Date(Date.parse("2026-03-04T06:00:00Z") + i * 1_800_000)) }),
      asPatient(m.bookAppointment, "pat-lim"),
    );
  const booked = (await Promise.allSettled(Array.from({ length: 12 }, (_, i) => book(i)))).map(reasonOf);
  t.equal(booked.filter((r) => r === "OK").length, 5, booked.join(" "));
  t.equal(booked.filter((r) => r === "PATIENT_BOOKING_LIMIT").length, 7);
  const join = (i: number) =>
    svc.joinWaitlist(
      create(JoinWaitlistRequestSchema, { requestId: `wl-${i}`, providerId: "p-lim", patientId: "pat-wl", windowStartTime: timestampFromDate(new Date("2026-03-05T06:00:00Z")), windowEndTime: timestampFromDate(new Date("2026-03-05T09:00:00Z")) }),
      asPatient(m.joinWaitlist, "pat-wl"),
    );
  const joined = (await Promise.allSettled(Array.from({ length: 5 }, (_, i) => join(i)))).map(reasonOf);
  t.same(joined.filter((r) => r === "OK").length, 1, joined.join(" "));
  t.same(joined.filter((r) => r === "ALREADY_ON_WAITLIST").length, 4);
});

t.test("racing waitlist joins of one patient stop at the limit; rescheduling into time held for an offer says so", async (t) => {
  await createProviderIn(svc, ctx, { providerId: "p-wlim", displayName: "Dr. Ayşe Kaya", timeZone: "Europe/Istanbul", start: "09:00", end: "17:00", slotMinutes: 30 });
  const join = (i: number) =>
    svc.joinWaitlist(
      create(JoinWaitlistRequestSchema, {
        requestId: `wlim-${i}`,
        providerId: "p-wlim",
        patientId: "pat-wlim",
        windowStartTime: timestampFromDate(new Date(Date.parse("2026-03-06T06:00:00Z") + i * 3_600_000)),
        windowEndTime: timestampFromDate(new Date(Date.parse("2026-03-06T07:00:00Z") + i * 3_600_000)),
      }),
      asPatient(m.joinWaitlist, "pat-wlim"),
    );
  const joined = (await Promise.allSettled(Array.from({ length: 8 }, (_, i) => join(i)))).map(reasonOf);
  t.equal(joined.filter((r) => r === "OK").length, 3, joined.join(" "));
  t.equal(joined.filter((r) => r === "PATIENT_WAITLIST_LIMIT").length, 5);
  // pat-wlim waits 09:00-10:00 local on 6 March: the 09:00 slot freed is offered to them, and held.
  const book = async (requestId: string, patientId: string, at: string) =>
    (await svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId, providerId: "p-wlim", patientId, startTime: timestampFromDate(new Date(at)) }), ctx(m.bookAppointment))).appointment!;
  const freed = await book("wlim-b1", "pat-a", "2026-03-06T06:00:00Z");
  const movable = await book("wlim-b2", "pat-b", "2026-03-06T10:00:00Z");
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: freed.appointmentId, requestId: "wlim-c1" }), ctx(m.cancelAppointment));
  const move = (requestId: string) =>
    svc
      .rescheduleAppointment(create(RescheduleAppointmentRequestSchema, { appointmentId: movable.appointmentId, requestId, newStartTime: timestampFromDate(new Date("2026-03-06T06:00:00Z")) }), ctx(m.rescheduleAppointment))
      .then(
        () => "OK",
        (err: unknown) => (err instanceof DomainError ? `${err.reason}: ${err.message}` : String(err)),
      );
  const moved = await move("wlim-r1");
  t.equal(moved, "SLOT_HELD_FOR_OFFER: Dr. Ayşe Kaya at 09:00 on Friday 6 March 2026 (Europe/Istanbul) is held for a patient on the waitlist until 09:15 on Monday 2 March 2026; choose another time, or look again after 09:15");
  // pat-wlim books themselves elsewhere at that time: they could no longer take the offer, so it
  // passes on at that booking; nobody else waits for it, so the time is free at once.
  await svc.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: "wlim-b3", providerId: "p-race", patientId: "pat-wlim", startTime: timestampFromDate(new Date("2026-03-06T06:00:00Z")) }),
    asPatient(m.bookAppointment, "pat-wlim"),
  );
  t.equal(await move("wlim-r2"), "OK", "the offer was passed on: the time is free");
});
