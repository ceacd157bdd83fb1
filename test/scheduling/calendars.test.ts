// Calendars of a location and of a room or device (issue 20 item 6), the class against real Postgres
// with a fake clock: ListAppointments by locationId and by resourceId (paged, the token bound to the
// filters), and who may list them. Locations are rows of scheduling.locations written here directly
// (CreateLocation is built elsewhere); appointments are moved to their location with an UPDATE.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { AppointmentStatus, ResourceKind, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  CreateResourceRequestSchema,
  ListAppointmentsRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { decide } from "../../services/runtime/auth/auth-interceptor.js";
import { ROLE_TABLE } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { domainCodeOf as code, violatedFields } from "../helpers/call-outcome.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { createProviderIn } from "../helpers/scheduling.js";

const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);
const clock = createFakeClock(new Date("2026-12-01T08:00:00Z"));
const svc = new SchedulingServiceImpl({ db: database.db, clock, config: { databaseUrl: database.databaseUrl } }, { useLock: false, offerSweepIntervalMs: 0, pollIntervalMs: 200 });
t.teardown(() => svc.close());

const ts = (iso: string) => timestampFromDate(new Date(iso));

/** location inserts a location row (CreateLocation is another branch's work). */
async function location(locationId: string, timeZone: string): Promise<void> {
  await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at) values (${locationId}, ${`Clinic ${locationId}`}, ${timeZone}, now())`.execute(database.db);
}

/** provider creates a provider working all day and moves it to `locationId`. */
async function provider(providerId: string, locationId: string, timeZone = "UTC"): Promise<void> {
  await createProviderIn(svc, ctx, { providerId, timeZone, slotMinutes: 30 });
  await sql`update scheduling.providers set location_id = ${locationId} where provider_id = ${providerId}`.execute(database.db);
}

/** book books 30 minutes and moves the appointment to its provider's location. */
async function book(providerId: string, iso: string, patientId: string, resourceIds: string[] = []): Promise<Appointment> {
  const r = await svc.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: `b-${providerId}-${iso}`, providerId, patientId, startTime: ts(iso), duration: { seconds: 1800n }, resourceIds }),
    ctx(m.bookAppointment),
  );
  await sql`update scheduling.appointments a set location_id = p.location_id from scheduling.providers p
    where a.appointment_id = ${r.appointment!.appointmentId} and p.provider_id = a.provider_id`.execute(database.db);
  return r.appointment!;
}

/** listAll pages through ListAppointments with `req`, `pageSize` at a time; returns the ids and the tokens seen. */
async function listAll(req: MessageInitShape<typeof ListAppointmentsRequestSchema>, pageSize: number): Promise<{ ids: string[]; tokens: string[] }> {
  const ids: string[] = [];
  const tokens: string[] = [];
  let pageToken = "";
  for (let i = 0; i < 50; i++) {
    const r = await svc.listAppointments(create(ListAppointmentsRequestSchema, { ...req, pageSize, pageToken }), ctx(m.listAppointments));
    const page = (r.appointments ?? []) as Appointment[];
    ids.push(...page.map((a) => a.appointmentId));
    if (page.length > pageSize) throw new Error("page too long");
    if (!r.nextPageToken) break;
    tokens.push(r.nextPageToken);
    pageToken = r.nextPageToken;
  }
  return { ids, tokens };
}

await location("loc-a", "Europe/Istanbul");
await location("loc-b", "America/New_York");
await provider("p-a1", "loc-a");
await provider("p-a2", "loc-a");
await provider("p-b1", "loc-b");
for (const id of ["room-a", "room-b"]) {
  await svc.createResource(create(CreateResourceRequestSchema, { resourceId: id, displayName: `Room ${id}`, kind: ResourceKind.ROOM }), ctx(m.createResource));
}
const atA = [
  await book("p-a1", "2026-12-02T09:00:00Z", "pat-1", ["room-a"]),
  await book("p-a2", "2026-12-02T09:00:00Z", "pat-2"),
  await book("p-a1", "2026-12-02T10:00:00Z", "pat-3"),
  await book("p-a2", "2026-12-02T11:00:00Z", "pat-4", ["room-a"]),
  await book("p-a1", "2026-12-03T09:00:00Z", "pat-5"),
];
const atB = [await book("p-b1", "2026-12-02T09:30:00Z", "pat-6", ["room-b"]), await book("p-b1", "2026-12-02T12:00:00Z", "pat-7", ["room-a"])];
/** idsOf lists appointments' ids in ListAppointments' order: by start, then id. */
const idsOf = (as: Appointment[]) =>
  [...as].sort((x, y) => Number(x.startTime!.seconds - y.startTime!.seconds) || (x.appointmentId < y.appointmentId ? -1 : 1)).map((a) => a.appointmentId);

t.test("ListAppointments by location: every provider's appointments there, none elsewhere, by start time, paged", async (t) => {
  const { ids, tokens } = await listAll({ locationId: "loc-a" }, 2);
  t.same(ids, idsOf(atA), "all five of loc-a, in start order, across three pages");
  t.equal(tokens.length, 2);
  t.same((await listAll({ locationId: "loc-b" }, 10)).ids, idsOf(atB));
  t.same((await listAll({ locationId: "loc-a", providerId: "p-a2" }, 10)).ids, idsOf([atA[1], atA[3]]), "with a provider too: both filters apply");
  const day = await listAll({ locationId: "loc-a", startTime: ts("2026-12-03T00:00:00Z"), endTime: ts("2026-12-04T00:00:00Z") }, 10);
  t.same(day.ids, idsOf([atA[4]]), "a time range narrows it");
  t.same((await listAll({ locationId: "loc-none" }, 10)).ids, [], "an unknown location has no appointments");
});

t.test("ListAppointments by room or device: the appointments that take it, whatever their provider or state", async (t) => {
  const cancelled = await book("p-a1", "2026-12-04T09:00:00Z", "pat-8", ["room-a"]);
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: cancelled.appointmentId, requestId: "c-room", reason: "ill" }), ctx(m.cancelAppointment));
  const { ids } = await listAll({ resourceId: "room-a" }, 1);
  t.same(ids, idsOf([atA[0], atA[3], atB[1], cancelled]), "room-a's four, one page each, the cancelled one too");
  const booked = await listAll({ resourceId: "room-a", statuses: [AppointmentStatus.BOOKED] }, 10);
  t.same(booked.ids, idsOf([atA[0], atA[3], atB[1]]), "states filter");
  const ranged = await listAll({ resourceId: "room-a", startTime: ts("2026-12-02T11:15:00Z"), endTime: ts("2026-12-02T12:15:00Z") }, 10);
  t.same(ranged.ids, idsOf([atA[3], atB[1]]), "a range keeps what overlaps it");
  t.same((await listAll({ resourceId: "room-a", locationId: "loc-b" }, 10)).ids, idsOf([atB[1]]), "room and location together");
  t.same((await listAll({ resourceId: "room-b" }, 10)).ids, idsOf([atB[0]]));
});

t.test("a page token continues only the query it came from", async (t) => {
  const first = await svc.listAppointments(create(ListAppointmentsRequestSchema, { locationId: "loc-a", pageSize: 2 }), ctx(m.listAppointments));
  const token = first.nextPageToken ?? "";
  t.ok(token);
  const reuse = (req: { locationId?: string; resourceId?: string }) =>
    violatedFields(svc.listAppointments(create(ListAppointmentsRequestSchema, { pageSize: 2, ...req, pageToken: token }), ctx(m.listAppointments)));
  t.same(await reuse({ locationId: "loc-b" }), ["pageToken"], "another location");
  t.same(await reuse({ locationId: "loc-a", resourceId: "room-a" }), ["pageToken"], "the same location and a room");
  t.same(await reuse({ resourceId: "loc-a" }), ["pageToken"], "the location's id given as a room's");
  const next = await svc.listAppointments(create(ListAppointmentsRequestSchema, { locationId: "loc-a", pageSize: 2, pageToken: token }), ctx(m.listAppointments));
  t.same(idsOf((next.appointments ?? []) as Appointment[]), idsOf(atA.slice(2, 4)), "the same query continues");
});

t.test("ListAppointments needs a provider, patient, location or room; ids are checked", async (t) => {
  t.same(await violatedFields(svc.listAppointments(create(ListAppointmentsRequestSchema, {}), ctx(m.listAppointments))), ["providerId"]);
  t.same(await violatedFields(svc.listAppointments(create(ListAppointmentsRequestSchema, { locationId: "loc a!" }), ctx(m.listAppointments))), ["locationId"]);
  t.same(await violatedFields(svc.listAppointments(create(ListAppointmentsRequestSchema, { resourceId: "room#1" }), ctx(m.listAppointments))), ["resourceId"]);
  t.equal(await code(svc.listAppointments(create(ListAppointmentsRequestSchema, { resourceId: "room-a" }), ctx(m.listAppointments))), "OK");
});

t.test("who may list a location's or a room's calendar (the role table as the interceptor applies it)", async (t) => {
  const procedure = `${SchedulingService.typeName}/${m.listAppointments.name}`;
  const rule = ROLE_TABLE.get(procedure);
  const may = (role: "receptionist" | "admin" | "doctor" | "patient" | "display", subject: string, request: object) =>
    decide(rule, procedure, subject, [role], request).allowed;
  t.ok(may("receptionist", "rec-1", { locationId: "loc-a" }), "a receptionist lists a location");
  t.ok(may("admin", "adm-1", { resourceId: "room-a" }), "an administrator lists a room");
  t.notOk(may("doctor", "p-a1", { locationId: "loc-a" }), "a doctor may not list a whole location");
  t.notOk(may("doctor", "p-a1", { resourceId: "room-a" }), "nor a room");
  t.ok(may("doctor", "p-a1", { locationId: "loc-a", providerId: "p-a1" }), "but their own appointments there");
  t.notOk(may("patient", "pat-1", { locationId: "loc-a" }), "a patient may not list a location");
  t.notOk(may("patient", "pat-1", { resourceId: "room-a" }), "nor a room");
  t.notOk(may("display", "d-1", { locationId: "loc-a" }), "nor a display");
  // The filters combine with AND: a doctor's own provider id at a location lists only their own there.
  const own = await listAll({ locationId: "loc-a", providerId: "p-a1", statuses: [AppointmentStatus.BOOKED] }, 10);
  t.same(own.ids, idsOf([atA[0], atA[2], atA[4]]));
});
