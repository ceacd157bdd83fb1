// Embedded mode (PGlite, one session; DESIGN.md section 1): a change that loses a race is refused
// from inside its transaction, and the refusal's words (the provider's name and zone) must be read
// through that transaction: a query on the database handle there would wait for the session the
// transaction holds, and the call would hang until PGlite's session timeout instead of answering
// FAILED_PRECONDITION at once. The per-patient rules hold here too: racing self-bookings of one
// patient stop at the limit, racing identical waitlist joins leave one entry.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  CreateProviderRequestSchema,
  JoinWaitlistRequestSchema,
  SchedulingService,
  SetAvailabilityRequestSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { createDatabase, migrateToLatest } from "../../services/runtime/db/index.js";
import { DomainError } from "../../services/runtime/errors.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { testContext } from "../helpers/handler-context.js";
import { ALL_DAYS } from "../helpers/scheduling.js";

const m = SchedulingService.method;
const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-embedded-races-"));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const database = await createDatabase({ dataDir });
t.teardown(() => database.close());
await migrateToLatest(database.db, { schema: schedulingModule.schema, migrationsFolder: schedulingModule.migrationsFolder });
const clock = createFakeClock(new Date("2026-03-02T06:00:00Z"));
const svc = new SchedulingServiceImpl({ db: database.db, clock }, { useLock: false, offerSweepIntervalMs: 0, listen: false });
t.teardown(() => svc.close());
const ctx = (method: DescMethod) => testContext(method, { principal: { subject: "rec-1", roles: ["receptionist"], grantedRole: "receptionist", ownOnly: false } });
const asPatient = (method: DescMethod, subject: string) => testContext(method, { principal: { subject, roles: ["patient"], grantedRole: "patient", ownOnly: true } });
const reasonOf = (r: PromiseSettledResult<unknown>) => (r.status === "fulfilled" ? "OK" : r.reason instanceof DomainError ? r.reason.reason : String(r.reason));

t.test("two cancellations of one appointment at once: one cancels, the other is told why at once", async (t) => {
  await svc.createProvider(create(CreateProviderRequestSchema, { providerId: "p-race", displayName: "Dr. Ada Lovelace", timeZone: "Europe/Istanbul" }), ctx(m.createProvider));
  await svc.setAvailability(
    create(SetAvailabilityRequestSchema, { providerId: "p-race", weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "09:00", endTime: "17:00" })), slotDuration: { seconds: 1800n } }),
    ctx(m.setAvailability),
  );
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
  await svc.createProvider(create(CreateProviderRequestSchema, { providerId: "p-lim", displayName: "Dr. Mehmet Demir", timeZone: "Europe/Istanbul" }), ctx(m.createProvider));
  await svc.setAvailability(
    create(SetAvailabilityRequestSchema, { providerId: "p-lim", weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "09:00", endTime: "17:00" })), slotDuration: { seconds: 1800n } }),
    ctx(m.setAvailability),
  );
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
