// Location-scoped staff (issue 20, item 1): a token may carry `locations`. A receptionist limited to
// one location gets PERMISSION_DENIED OUTSIDE_YOUR_LOCATIONS (in words, no ids) for another
// location's providers, rooms, queues, tickets and appointments, and lists without them; a token
// without the claim sees everything; AUTH_REQUIRE_LOCATIONS refuses a staff token without it. The real
// system (both services, in one runtime over Postgres); the second location is written straight into
// the scheduling schema, as the locations RPCs are built on another branch.
import t from "tap";
import type { Test } from "tap";
import { sql } from "kysely";
import { SignJWT } from "jose";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { ResourceKind } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../../services/runtime/auth/role-table.js";
import { rpcErrorInfoOf, type RpcErrorInfo } from "../../helpers/call-outcome.js";
import { ALL_DAYS, setUpProvider, systemDb } from "../../helpers/scheduling.js";
import { startTestSystem, TEST_SECRET, type TestSystem } from "../../helpers/system.js";
import { tokenGrpcTransport } from "../../helpers/token-transport.js";

const sys = await startTestSystem(t);
const db = await systemDb(sys);

/** clients are a SchedulingService and a QueueService client of `sys` as `role`/`subject`, with `locations` when given. */
async function clients(s: TestSystem, role: Role, subject: string, locations?: string[]) {
  const transport = tokenGrpcTransport(s.grpc.port, await s.token([role], subject, { locations }));
  return { scheduling: createClient(SchedulingService, transport), queue: createClient(QueueService, transport) };
}

const admin = await clients(sys, "admin", "adm-1");
await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at) values ('north', 'North Clinic', 'UTC', now())`.execute(db);

// A provider, a room, a queue and an appointment at each location.
const here = await setUpProvider(admin.scheduling, { providerId: "dr-here" });
const there = await setUpProvider(admin.scheduling, { providerId: "dr-there" });
await sql`update scheduling.providers set location_id = 'north' where provider_id = 'dr-there'`.execute(db);
await admin.scheduling.createResource({ resourceId: "room-here", displayName: "Room here", kind: ResourceKind.ROOM });
await admin.scheduling.createResource({ resourceId: "room-there", displayName: "Room there", kind: ResourceKind.ROOM });
await sql`update scheduling.resources set location_id = 'north' where resource_id = 'room-there'`.execute(db);
await admin.queue.createQueue({ queueId: "q-here", displayName: "Desk here", prefix: "H", timeZone: "UTC" });
await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, location_id, created_at) values ('q-there', 'Desk there', 'T', 'UTC', 'north', now())`.execute(db);
const slot = (n: number) => timestampFromDate(new Date(Math.ceil((Date.now() + 30 * 60_000) / (15 * 60_000)) * 15 * 60_000 + n * 15 * 60_000));
const apptHere = (await admin.scheduling.bookAppointment({ requestId: "ls-b1", providerId: here, patientId: "pat-1", startTime: slot(0) })).appointment!;
const apptThere = (await admin.scheduling.bookAppointment({ requestId: "ls-b2", providerId: there, patientId: "pat-1", startTime: slot(1) })).appointment!;
// Booking sets the location from the provider's weekly hours on the locations branch; here, by hand.
await sql`update scheduling.appointments set location_id = 'north' where appointment_id = ${apptThere.appointmentId}`.execute(db);
const ticketThere = (await admin.queue.issueTicket({ requestId: "ls-t1", queueId: "q-there", patientId: "pat-2" })).ticket!;
const ticketHere = (await admin.queue.issueTicket({ requestId: "ls-t2", queueId: "q-here", patientId: "pat-3" })).ticket!;

/** refused asserts an answer is PERMISSION_DENIED OUTSIDE_YOUR_LOCATIONS, said in words without ids. */
function refused(t: Test, got: RpcErrorInfo, name: string): void {
  t.equal(got.code, Code.PermissionDenied, `${name}: PERMISSION_DENIED (${got.message ?? "succeeded"})`);
  t.equal(got.reason, "OUTSIDE_YOUR_LOCATIONS", `${name}: reason OUTSIDE_YOUR_LOCATIONS`);
  t.notMatch(got.message ?? "", /north|dr-there|room-there|q-there|default/, `${name}: no ids in the message`);
}

t.test("a receptionist limited to one location: another location's providers, rooms, appointments", async (t) => {
  const desk = await clients(sys, "receptionist", "desk-1", ["default"]);
  const s = desk.scheduling;
  const day = { start: slot(0), end: timestampFromDate(new Date(Date.now() + 86_400_000)) };
  const calls: [string, () => Promise<unknown>][] = [
    ["GetProvider", () => s.getProvider({ providerId: there })],
    ["GetAvailability", () => s.getAvailability({ providerId: there })],
    ["SetAvailability", () => s.setAvailability({ providerId: there, weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "08:00", endTime: "12:00" })), slotDuration: { seconds: 900n } })],
    ["ListAvailableSlots", () => s.listAvailableSlots({ providerId: there, startTime: day.start, endTime: day.end })],
    ["CreateProvider", () => s.createProvider({ displayName: "Dr. North", timeZone: "UTC", specialty: "x", locationId: "north" })],
    ["CreateResource", () => s.createResource({ displayName: "North room", kind: ResourceKind.ROOM, locationId: "north" })],
    ["BookAppointment", () => s.bookAppointment({ requestId: "ls-d1", providerId: there, patientId: "pat-9", startTime: slot(2) })],
    ["BookAppointment with a room there", () => s.bookAppointment({ requestId: "ls-d9", providerId: here, patientId: "pat-9", startTime: slot(2), resourceIds: ["room-there"] })],
    ["ListAvailableSlots with a room there", () => s.listAvailableSlots({ providerId: here, startTime: day.start, endTime: day.end, resourceIds: ["room-there"] })],
    ["JoinWaitlist", () => s.joinWaitlist({ requestId: "ls-d2", providerId: there, patientId: "pat-9", windowStartTime: day.start, windowEndTime: day.end })],
    ["GetAppointment", () => s.getAppointment({ appointmentId: apptThere.appointmentId })],
    ["CancelAppointment", () => s.cancelAppointment({ requestId: "ls-d3", appointmentId: apptThere.appointmentId })],
    ["RescheduleAppointment", () => s.rescheduleAppointment({ requestId: "ls-d4", appointmentId: apptThere.appointmentId, newStartTime: slot(3) })],
    ["CheckInAppointment", () => s.checkInAppointment({ requestId: "ls-d5", appointmentId: apptThere.appointmentId })],
    ["MarkNoShow", () => s.markNoShow({ requestId: "ls-d6", appointmentId: apptThere.appointmentId })],
    ["CompleteAppointment", () => s.completeAppointment({ requestId: "ls-d7", appointmentId: apptThere.appointmentId })],
    ["AcceptOffer", () => s.acceptOffer({ requestId: "ls-d8", appointmentId: apptThere.appointmentId })],
    ["WatchAppointments", async () => {
      for await (const _ of s.watchAppointments({ providerId: there })) return;
    }],
  ];
  for (const [name, call] of calls) refused(t, await rpcErrorInfoOf(call()), name);
  const still = await admin.scheduling.getAppointment({ appointmentId: apptThere.appointmentId });
  t.equal(still.appointment?.startTime?.seconds, apptThere.startTime?.seconds, "the appointment did not move");
  t.equal(still.appointment?.status, apptThere.status, "nor change state");

  const providers = (await s.listProviders({ pageSize: 500 })).providers.map((p) => p.providerId);
  t.ok(providers.includes(here) && !providers.includes(there), "ListProviders: only this location's providers");
  const rooms = (await s.listResources({ pageSize: 500 })).resources.map((r) => r.resourceId);
  t.ok(rooms.includes("room-here") && !rooms.includes("room-there"), "ListResources: only this location's rooms");
  t.same((await s.listAppointments({ providerId: there, pageSize: 100 })).appointments, [], "ListAppointments of the other location's provider: empty");
  const ofPatient = (await s.listAppointments({ patientId: "pat-1", pageSize: 100 })).appointments.map((a) => a.appointmentId);
  t.same(ofPatient, [apptHere.appointmentId], "ListAppointments of a patient: only the appointment at this location");

  t.equal((await s.getProvider({ providerId: here })).provider?.providerId, here, "this location's provider is read");
  t.equal((await s.getAppointment({ appointmentId: apptHere.appointmentId })).appointment?.appointmentId, apptHere.appointmentId, "and its appointment");
  const created = await s.createProvider({ displayName: "Dr. Here Too", timeZone: "UTC", specialty: "x" });
  t.ok(created.provider?.providerId, "a provider is created at the default location, which is theirs");
});

t.test("locations, visit types, holds, series and calendars of another location", async (t) => {
  await admin.scheduling.createVisitType({
    requestId: "ls-vt1",
    visitType: { visitTypeId: "vt-north", locationId: "north", displayName: "North check-up", duration: { seconds: 900n }, providerIds: [there], patientBookable: true },
  });
  await admin.scheduling.createVisitType({
    requestId: "ls-vt2",
    visitType: { visitTypeId: "vt-here", locationId: "default", displayName: "Check-up", duration: { seconds: 900n }, providerIds: [here], patientBookable: true },
  });
  // A hold at the other location, taken by reception there (the provider works there all day).
  const heldThere = (await admin.scheduling.holdSlot({ requestId: "ls-h0", visitTypeId: "vt-north", providerId: there, patientId: "pat-8", startTime: slot(5) })).hold!.holdId;
  const desk = (await clients(sys, "receptionist", "desk-1", ["default"])).scheduling;
  const boss = (await clients(sys, "admin", "adm-2", ["default"])).scheduling;
  const day = { startTime: slot(0), endTime: timestampFromDate(new Date(Date.now() + 86_400_000)) };
  const calls: [string, () => Promise<unknown>][] = [
    ["GetLocation", () => desk.getLocation({ locationId: "north" })],
    ["UpdateLocation by a scoped administrator", () => boss.updateLocation({ requestId: "ls-l1", location: { locationId: "north", address: "x" }, updateMask: { paths: ["address"] } })],
    ["CreateLocation by a scoped administrator", () => boss.createLocation({ requestId: "ls-l2", locationId: "south", displayName: "South", timeZone: "UTC" })],
    ["GetVisitType", () => desk.getVisitType({ visitTypeId: "vt-north" })],
    ["ListVisitTypes of that location", () => desk.listVisitTypes({ locationId: "north" })],
    ["CreateVisitType", () => desk.createVisitType({ requestId: "ls-vt3", visitType: { locationId: "north", displayName: "X", duration: { seconds: 900n }, providerIds: [there] } })],
    ["UpdateVisitType", () => desk.updateVisitType({ requestId: "ls-vt4", visitType: { visitTypeId: "vt-north", color: "#112233" }, updateMask: { paths: ["color"] } })],
    ["HoldSlot", () => desk.holdSlot({ requestId: "ls-h1", visitTypeId: "vt-north", providerId: there, patientId: "pat-9", startTime: slot(4) })],
    ["confirming a hold there", () => desk.bookAppointment({ requestId: "ls-h2", holdId: heldThere })],
    ["BookSeries", () => desk.bookSeries({ requestId: "ls-s1", visitTypeId: "vt-north", providerId: there, patientId: "pat-9", firstStartTime: slot(4), recurrence: { frequency: 2, count: 2 } })],
    ["SearchSlots at that location", () => desk.searchSlots({ locationId: "north", visitTypeId: "vt-north", ...day })],
    ["SearchSlots of its visit type", () => desk.searchSlots({ visitTypeId: "vt-north", ...day })],
    ["SearchSlots naming its provider", () => desk.searchSlots({ visitTypeId: "vt-here", providerIds: [there], ...day })],
    ["ListAppointments of that location", () => desk.listAppointments({ locationId: "north", ...day })],
    ["ListAppointments of a room there", () => desk.listAppointments({ resourceId: "room-there", ...day })],
    ["WatchAppointments of that location", async () => {
      for await (const _ of desk.watchAppointments({ locationId: "north" })) return;
    }],
    ["WatchAppointments of a room there", async () => {
      for await (const _ of desk.watchAppointments({ resourceId: "room-there" })) return;
    }],
  ];
  for (const [name, call] of calls) refused(t, await rpcErrorInfoOf(call()), name);
  t.same((await desk.listLocations({})).locations.map((l) => l.locationId), ["default"], "ListLocations: only theirs");
  const types = (await desk.listVisitTypes({})).visitTypes.map((v) => v.visitTypeId);
  t.ok(types.includes("vt-here") && !types.includes("vt-north"), "ListVisitTypes: only their location's");
  t.equal((await desk.getVisitType({ visitTypeId: "vt-here" })).visitType?.visitTypeId, "vt-here", "their own visit type is read");
  const unscoped = (await clients(sys, "receptionist", "desk-2")).scheduling;
  t.ok((await unscoped.listLocations({})).locations.some((l) => l.locationId === "north"), "a token without the claim sees every location");
  t.equal((await unscoped.getVisitType({ visitTypeId: "vt-north" })).visitType?.visitTypeId, "vt-north", "and every visit type");
});

t.test("a provider working at the caller's location through its weekly hours is theirs too", async (t) => {
  // An appointment of it here (before its hours change: booking checks them).
  const atHere = (await admin.scheduling.bookAppointment({ requestId: "ls-b3", providerId: there, patientId: "pat-4", startTime: slot(2) })).appointment!;
  // Booked under its all-day hours at its own location; as if those hours had been here.
  await sql`update scheduling.appointments set location_id = 'default' where appointment_id = ${atHere.appointmentId}`.execute(db);
  await sql`update scheduling.availability set weekly_hours = jsonb_build_array(jsonb_build_object('dayOfWeek', 1, 'startMinute', 480, 'endMinute', 720, 'locationId', 'default'))
            where provider_id = 'dr-there'`.execute(db);
  t.teardown(() => sql`update scheduling.availability set weekly_hours = '[]'::jsonb where provider_id = 'dr-there'`.execute(db));
  const desk = await clients(sys, "receptionist", "desk-1", ["default"]);
  t.equal((await desk.scheduling.getProvider({ providerId: there })).provider?.providerId, there, "GetProvider");
  const providers = (await desk.scheduling.listProviders({ pageSize: 500 })).providers.map((p) => p.providerId);
  t.ok(providers.includes(there), "ListProviders lists it");
  refused(t, await rpcErrorInfoOf(desk.scheduling.getAppointment({ appointmentId: apptThere.appointmentId })), "its appointment at the other location");
  // Its day, watched from this location: the appointment here, not the one at the other location.
  const date = new Date(Number(apptThere.startTime!.seconds) * 1000).toISOString().slice(0, 10);
  let shown: string[] = [];
  for await (const m of desk.scheduling.watchAppointments({ providerId: there, date })) {
    shown = m.appointments.map((a) => a.appointmentId);
    break;
  }
  t.notOk(shown.includes(apptThere.appointmentId), "WatchAppointments leaves out the appointment at the other location");
  if (new Date(Number(atHere.startTime!.seconds) * 1000).toISOString().slice(0, 10) === date) t.ok(shown.includes(atHere.appointmentId), "and shows the one here");
  const all = admin.scheduling.watchAppointments({ providerId: there, date });
  for await (const m of all) {
    t.ok(m.appointments.some((a) => a.appointmentId === apptThere.appointmentId), "an unscoped watcher sees it");
    break;
  }
});

t.test("a receptionist limited to one location: another location's queues and tickets", async (t) => {
  const desk = await clients(sys, "receptionist", "desk-1", ["default"]);
  const q = desk.queue;
  const calls: [string, () => Promise<unknown>][] = [
    ["CreateQueue", () => q.createQueue({ displayName: "North 2", prefix: "NT", timeZone: "UTC", locationId: "north" })],
    ["GetQueue", () => q.getQueue({ queueId: "q-there" })],
    ["ListQueues of that location", () => q.listQueues({ locationId: "north" })],
    ["IssueTicket", () => q.issueTicket({ requestId: "ls-q1", queueId: "q-there" })],
    ["OpenCounter", () => q.openCounter({ queueId: "q-there", counterId: "c1" })],
    ["CloseCounter", () => q.closeCounter({ queueId: "q-there", counterId: "c1" })],
    ["CallNext", () => q.callNext({ queueId: "q-there", counterId: "c1" })],
    ["ListTickets", () => q.listTickets({ queueId: "q-there" })],
    ["GetTicket", () => q.getTicket({ ticketId: ticketThere.ticketId })],
    ["CancelTicket", () => q.cancelTicket({ ticketId: ticketThere.ticketId })],
    ["RecallTicket", () => q.recallTicket({ ticketId: ticketThere.ticketId, counterId: "c1" })],
    ["SkipTicket", () => q.skipTicket({ ticketId: ticketThere.ticketId, counterId: "c1" })],
    ["MarkTicketNoShow", () => q.markTicketNoShow({ ticketId: ticketThere.ticketId, counterId: "c1" })],
    ["CompleteTicket", () => q.completeTicket({ ticketId: ticketThere.ticketId, counterId: "c1" })],
    ["TransferTicket out of it", () => q.transferTicket({ ticketId: ticketThere.ticketId, toQueueId: "q-here" })],
    ["TransferTicket into it", () => q.transferTicket({ ticketId: ticketHere.ticketId, toQueueId: "q-there" })],
    ["WatchQueue", async () => {
      for await (const _ of q.watchQueue({ queueId: "q-there" })) return;
    }],
  ];
  for (const [name, call] of calls) refused(t, await rpcErrorInfoOf(call()), name);
  t.equal((await admin.queue.getTicket({ ticketId: ticketThere.ticketId })).ticket?.status, ticketThere.status, "the ticket did not change");
  const queues = (await q.listQueues({ pageSize: 500 })).queues.map((x) => x.queueId);
  t.ok(queues.includes("q-here") && !queues.includes("q-there"), "ListQueues: only this location's queues");
  t.equal((await q.getQueue({ queueId: "q-here" })).queue?.queueId, "q-here", "this location's queue is read");
});

t.test("a doctor limited to a location does not reach their own appointment elsewhere", async (t) => {
  const doctor = await clients(sys, "doctor", there, ["default"]);
  refused(t, await rpcErrorInfoOf(doctor.scheduling.getAppointment({ appointmentId: apptThere.appointmentId })), "GetAppointment");
  const atNorth = await clients(sys, "doctor", there, ["north"]);
  t.equal((await atNorth.scheduling.getAppointment({ appointmentId: apptThere.appointmentId })).appointment?.appointmentId, apptThere.appointmentId, "at their location they do");
});

t.test("a token without the claim sees every location; patients are not scoped", async (t) => {
  const desk = await clients(sys, "receptionist", "desk-2");
  t.equal((await desk.scheduling.getProvider({ providerId: there })).provider?.providerId, there, "GetProvider");
  const providers = (await desk.scheduling.listProviders({ pageSize: 500 })).providers.map((p) => p.providerId);
  t.ok(providers.includes(here) && providers.includes(there), "ListProviders: both locations");
  const queues = (await desk.queue.listQueues({ pageSize: 500 })).queues.map((x) => x.queueId);
  t.ok(queues.includes("q-here") && queues.includes("q-there"), "ListQueues: both locations");
  t.equal((await desk.queue.getQueue({ queueId: "q-there" })).queue?.locationId, "north", "GetQueue of the other location");
  const patient = await clients(sys, "patient", "pat-1", ["default"]);
  t.equal((await patient.scheduling.getAppointment({ appointmentId: apptThere.appointmentId })).appointment?.appointmentId, apptThere.appointmentId, "a patient's own appointment anywhere");
});

t.test("the locations claim must be a non-empty list of ids", async (t) => {
  const sign = (claim: unknown) =>
    new SignJWT({ roles: ["receptionist"], locations: claim }).setProtectedHeader({ alg: "HS256" }).setSubject("desk-9").setExpirationTime("1h").sign(new TextEncoder().encode(TEST_SECRET));
  for (const [name, claim] of [["an empty list", []], ["a string", "default"], ["a list with a number", ["default", 7]], ["a malformed id", ["north clinic"]]] as [string, unknown][]) {
    const s = createClient(SchedulingService, tokenGrpcTransport(sys.grpc.port, await sign(claim)));
    const got = await rpcErrorInfoOf(s.listProviders({}));
    t.equal(got.code, Code.Unauthenticated, `${name}: UNAUTHENTICATED (${got.message ?? "succeeded"})`);
  }
});

t.test("AUTH_REQUIRE_LOCATIONS refuses a staff token without the claim", async (t) => {
  const strict = await startTestSystem(t, { env: { AUTH_REQUIRE_LOCATIONS: "on" } });
  for (const role of ["receptionist", "doctor"] as Role[]) {
    const { scheduling, queue } = await clients(strict, role, "staff-1");
    for (const [name, call] of [["ListProviders", () => scheduling.listProviders({})], ["ListQueues", () => queue.listQueues({})]] as [string, () => Promise<unknown>][]) {
      const got = await rpcErrorInfoOf(call());
      t.equal(got.code, Code.PermissionDenied, `${role} ${name}: PERMISSION_DENIED (${got.message ?? "succeeded"})`);
      t.equal(got.reason, "LOCATIONS_REQUIRED", `${role} ${name}: reason LOCATIONS_REQUIRED`);
    }
    const scoped = await clients(strict, role, "staff-1", ["default"]);
    t.same((await scoped.queue.listQueues({})).queues, [], `${role} with locations: allowed`);
  }
  for (const role of ["admin", "patient", "display"] as Role[]) {
    const { queue } = await clients(strict, role, "someone");
    t.equal((await rpcErrorInfoOf(queue.listQueues({}))).code, "OK", `${role} without locations: allowed`);
  }
});
