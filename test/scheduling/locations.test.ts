// Locations (issue 20, item 1), the class against a real database under a fake clock: what we try to
// break is that a location's closure removes every slot there on its LOCAL dates (the location's zone,
// not the provider's) and that no booking or reschedule gets onto one; that a provider working at
// several locations never has overlapping hours and no visit runs from one location's hours into
// another's; that every appointment carries the location it takes place at; and that the location
// RPCs validate with field violations, replay by requestId, refuse a client-chosen id holding other
// details, change only what the update mask names, and audit every write. The default location
// follows SCHEDULING_DEFAULT_TIME_ZONE until an administrator changes it. Postgres, and the core on
// PGlite (the embedded `npm start` path).
import t, { type Test } from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { AppointmentStatus, DayOfWeek, ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  ListAppointmentsResponseSchema,
  CreateLocationRequestSchema,
  CreateLocationResponseSchema,
  CreateProviderResponseSchema,
  GetAvailabilityResponseSchema,
  ListAvailableSlotsResponseSchema,
  ListLocationsResponseSchema,
  ListProvidersResponseSchema,
  ListResourcesResponseSchema,
  UpdateLocationResponseSchema,
  SetAvailabilityResponseSchema,
  CreateProviderRequestSchema,
  CreateResourceRequestSchema,
  GetAvailabilityRequestSchema,
  GetLocationRequestSchema,
  ListAvailableSlotsRequestSchema,
  ListLocationsRequestSchema,
  ListProvidersRequestSchema,
  ListResourcesRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
  SetAvailabilityRequestSchema,
  UpdateLocationRequestSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { ConfigError } from "../../services/runtime/config.js";
import { loadSchedulingOptions, type SchedulingOptions } from "../../services/scheduling/scheduling-options.js";
import type { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext } from "../helpers/handler-context.js";
import { ALL_DAYS, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure as failure, domainReasonOf as outcome, violatedFields } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

const m = SchedulingService.method;
const admin = (method: (typeof m)[keyof typeof m]) => callerContext(method, "admin", "admin-1");
const staff = (method: (typeof m)[keyof typeof m]) => callerContext(method, "receptionist", "rec-1");
const dur = (minutes: number) => ({ seconds: BigInt(minutes * 60) });
const at = (iso: string) => timestampFromDate(new Date(iso));
const HOLIDAY = { startDate: "2027-04-23", endDate: "2027-04-23", reason: "Ulusal Egemenlik ve Çocuk Bayramı" };

/** Instance is a service on a fresh database under a fake clock standing on 2027-03-01 (2027-04-23 is within the booking horizon). */
async function instance(t: Test, opts: { embedded?: boolean; options?: Partial<SchedulingOptions> } = {}) {
  const database = await createModuleDatabase(t, [schedulingModule], { embedded: opts.embedded });
  const clock = createFakeClock(new Date("2027-03-01T06:00:00Z"));
  const svc = directSchedulingService(t, { db: database.db, clock }, opts.options);
  return { svc, db: database.db, clock, database };
}

function createLocation(svc: SchedulingServiceImpl, fields: Partial<{ requestId: string; locationId: string; displayName: string; timeZone: string; address: string; closures: (typeof HOLIDAY)[] }>) {
  const req = create(CreateLocationRequestSchema, { requestId: `req-${fields.locationId ?? "x"}`.replace(/[^\x21-\x7e]/g, "_"), displayName: "Kadıköy Clinic", timeZone: "Europe/Istanbul", ...fields });
  return svc.createLocation(req, admin(m.createLocation)).then((r) => create(CreateLocationResponseSchema, r));
}

function updateLocation(svc: SchedulingServiceImpl, requestId: string, location: Record<string, unknown>, paths: string[]) {
  return svc.updateLocation(create(UpdateLocationRequestSchema, { requestId, location, updateMask: { paths } }), admin(m.updateLocation)).then((r) => create(UpdateLocationResponseSchema, r));
}

async function provider(svc: SchedulingServiceImpl, providerId: string, timeZone: string, locationId = "") {
  return create(CreateProviderResponseSchema, await svc.createProvider(create(CreateProviderRequestSchema, { providerId, displayName: `Dr. ${providerId}`, timeZone, locationId }), staff(m.createProvider))).provider!;
}

/** works sets a provider's week: `hours` per entry [day, start, end, locationId?], 30-minute slots. */
function works(svc: SchedulingServiceImpl, providerId: string, hours: [DayOfWeek, string, string, string?][]) {
  const weeklyHours = hours.map(([dayOfWeek, startTime, endTime, locationId]) => ({ dayOfWeek, startTime, endTime, locationId: locationId ?? "" }));
  return svc.setAvailability(create(SetAvailabilityRequestSchema, { providerId, weeklyHours, slotDuration: dur(30) }), staff(m.setAvailability));
}

async function slots(svc: SchedulingServiceImpl, providerId: string, from: string, to: string, minutes = 30): Promise<string[]> {
  const r = create(ListAvailableSlotsResponseSchema, await svc.listAvailableSlots(create(ListAvailableSlotsRequestSchema, { providerId, startTime: at(from), endTime: at(to), duration: dur(minutes) }), staff(m.listAvailableSlots)));
  return r.slots.map((s) => timestampDate(s.startTime!).toISOString());
}

function book(svc: SchedulingServiceImpl, providerId: string, requestId: string, start: string, minutes = 30) {
  return svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId, providerId, patientId: "pat-1", startTime: at(start), duration: dur(minutes) }), staff(m.bookAppointment));
}

/** crud runs the create/read/update cases on a database (Postgres or PGlite). */
async function crud(t: Test, embedded: boolean) {
  const { svc, db } = await instance(t, { embedded });
  const made = (await createLocation(svc, { locationId: "loc-kadikoy", address: "Caferağa Mah. 1", closures: [HOLIDAY] })).location!;
  t.match(made, { locationId: "loc-kadikoy", displayName: "Kadıköy Clinic", timeZone: "Europe/Istanbul", address: "Caferağa Mah. 1" });
  t.same(made.closures.map((c) => [c.startDate, c.endDate, c.reason]), [[HOLIDAY.startDate, HOLIDAY.endDate, HOLIDAY.reason]]);
  const replay = (await createLocation(svc, { locationId: "loc-kadikoy", address: "Caferağa Mah. 1", closures: [HOLIDAY] })).location!;
  t.same(replay, made, "a retry with the same requestId answers as the first call did");
  const again = (await createLocation(svc, { requestId: "req-other", locationId: "loc-kadikoy", address: "Caferağa Mah. 1", closures: [HOLIDAY] })).location!;
  t.equal(again.locationId, "loc-kadikoy", "the same id with the same details under a new requestId returns the location");
  const exists = await failure(createLocation(svc, { requestId: "req-other-2", locationId: "loc-kadikoy", displayName: "Moda Clinic" }));
  t.match({ code: exists.code, reason: exists.reason }, { code: Code.AlreadyExists, reason: "LOCATION_EXISTS" });
  t.notMatch(exists.message, /loc-kadikoy/, "no internal id in what staff read");
  t.equal(await outcome(createLocation(svc, { locationId: "loc-kadikoy", displayName: "Other" })), "REQUEST_ID_REUSED", "a requestId reused with other details");
  const generated = (await createLocation(svc, { requestId: "req-gen", displayName: "Beşiktaş Clinic", timeZone: "europe/istanbul" })).location!;
  t.match(generated.locationId, /^l-/, "an id is generated when none is chosen");
  t.equal(generated.timeZone, "Europe/Istanbul", "the zone in its canonical spelling");

  t.equal((await svc.getLocation(create(GetLocationRequestSchema, { locationId: "loc-kadikoy" }), staff(m.getLocation))).location?.address, "Caferağa Mah. 1");
  // The closure read with the schedule (the slot list) and in the booking's one statement.
  await provider(svc, "p-kadikoy", "Europe/Istanbul", "loc-kadikoy");
  await works(svc, "p-kadikoy", ALL_DAYS.map((d) => [d, "09:00", "17:00"]));
  t.same(await slots(svc, "p-kadikoy", "2027-04-22T21:00:00Z", "2027-04-23T21:00:00Z"), [], "no slot on the holiday");
  t.equal(await outcome(book(svc, "p-kadikoy", "on-holiday", "2027-04-23T07:00:00Z")), "LOCATION_CLOSED");
  const missing = await failure(svc.getLocation(create(GetLocationRequestSchema, { locationId: "nowhere" }), staff(m.getLocation)));
  t.match({ code: missing.code, reason: missing.reason }, { code: Code.NotFound, reason: "LOCATION_NOT_FOUND" });

  // Only what the mask names changes, whatever else the location carries.
  const moved = (await updateLocation(svc, "upd-1", { locationId: "loc-kadikoy", address: "Moda Cd. 2", displayName: "ignored", timeZone: "Asia/Tokyo" }, ["address"])).location!;
  t.match(moved, { displayName: "Kadıköy Clinic", timeZone: "Europe/Istanbul", address: "Moda Cd. 2" });
  t.equal(moved.closures.length, 1, "closures kept");
  const replayed = (await updateLocation(svc, "upd-1", { locationId: "loc-kadikoy", address: "Moda Cd. 2" }, ["address"])).location!;
  t.same(replayed, moved, "an update retried answers as the first");
  const all = (await updateLocation(svc, "upd-2", { locationId: "loc-kadikoy", displayName: "Kadıköy Branch", timeZone: "Europe/Berlin", closures: [] }, ["display_name", "time_zone", "closures"])).location!;
  t.match(all, { displayName: "Kadıköy Branch", timeZone: "Europe/Berlin", address: "Moda Cd. 2" });
  t.same(all.closures, []);
  const gone = await failure(updateLocation(svc, "upd-3", { locationId: "nowhere", address: "x" }, ["address"]));
  t.match({ code: gone.code, reason: gone.reason }, { code: Code.NotFound, reason: "LOCATION_NOT_FOUND" });

  const audited = await db.selectFrom("scheduling.audit_log").select(["action", "record_id", "actor"]).where("record_type", "=", "location").orderBy("id").execute();
  t.same(
    audited.map((a) => [a.action, a.record_id]),
    [["CreateLocation", "loc-kadikoy"], ["CreateLocation", "loc-kadikoy"], ["CreateLocation", generated.locationId], ["UpdateLocation", "loc-kadikoy"], ["UpdateLocation", "loc-kadikoy"]],
    "every write audited once (replays are not writes)",
  );
  return svc;
}

t.test("locations: create, retry, get, update by mask, audit (Postgres)", async (t) => {
  const svc = await crud(t, false);
  for (const name of ["Ankara Clinic", "Bursa Clinic", "İzmir Clinic"]) await createLocation(svc, { requestId: `req-${name.length}-${name.charCodeAt(0)}`, displayName: name });
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = create(ListLocationsResponseSchema, await svc.listLocations(create(ListLocationsRequestSchema, { pageSize: 2, pageToken }), staff(m.listLocations)));
    seen.push(...page.locations.map((l) => l.displayName));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  t.same(seen, ["Ankara Clinic", "Beşiktaş Clinic", "Bursa Clinic", "Kadıköy Branch", "Main clinic", "İzmir Clinic"], "every location once, by display name");
});

t.test("locations: create, retry, get, update by mask, audit (PGlite)", async (t) => {
  await crud(t, true);
});

t.test("location requests are validated field by field", async (t) => {
  const { svc } = await instance(t);
  const tooMany = Array.from({ length: 201 }, () => HOLIDAY);
  const cases: { name: string; call: () => Promise<unknown>; fields: string[] }[] = [
    { name: "nothing", call: () => svc.createLocation(create(CreateLocationRequestSchema, {}), admin(m.createLocation)), fields: ["displayName", "requestId", "timeZone"] },
    { name: "unknown zone, bad id", call: () => createLocation(svc, { locationId: "bad id", timeZone: "Mars/Olympus_Mons" }), fields: ["locationId", "timeZone"] },
    {
      name: "closures: bad date, end before start, control characters",
      call: () => createLocation(svc, { closures: [{ startDate: "2027-02-30", endDate: "2027-03-01", reason: "" }, { startDate: "2027-05-02", endDate: "2027-05-01", reason: "a\u0000b" }] }),
      fields: ["closures[0].startDate", "closures[1].endDate", "closures[1].reason"],
    },
    { name: "more than 200 closures", call: () => createLocation(svc, { closures: tooMany }), fields: ["closures"] },
    { name: "address too long", call: () => createLocation(svc, { address: "x".repeat(501) }), fields: ["address"] },
    { name: "update: empty mask", call: () => updateLocation(svc, "u1", { locationId: "default", address: "x" }, []), fields: ["updateMask"] },
    { name: "update: unknown and repeated paths", call: () => updateLocation(svc, "u2", { locationId: "default" }, ["address", "location_id", "address"]), fields: ["updateMask.paths[1]", "updateMask.paths[2]"] },
    { name: "update: no location", call: () => svc.updateLocation(create(UpdateLocationRequestSchema, { requestId: "u3", updateMask: { paths: ["address"] } }), admin(m.updateLocation)), fields: ["location", "location.locationId"] },
    { name: "update: the masked fields are checked", call: () => updateLocation(svc, "u4", { locationId: "default", displayName: " ", timeZone: "Nowhere/City" }, ["display_name", "time_zone"]), fields: ["location.displayName", "location.timeZone"] },
    { name: "update: a field outside the mask changes nothing but is checked when set", call: () => updateLocation(svc, "u5", { locationId: "default", address: "x", displayName: "a\u0000" }, ["address"]), fields: ["location.displayName"] },
    { name: "list: page token of another list", call: () => svc.listLocations(create(ListLocationsRequestSchema, { pageToken: "AAAA" }), staff(m.listLocations)), fields: ["pageToken"] },
  ];
  for (const c of cases) t.same(await violatedFields(c.call()), c.fields, c.name);
});

t.test("the default location follows SCHEDULING_DEFAULT_TIME_ZONE until an administrator changes it", async (t) => {
  const database = await createModuleDatabase(t, [schedulingModule]);
  const zoneOfDefault = async (svc: SchedulingServiceImpl) => (await svc.getLocation(create(GetLocationRequestSchema, { locationId: "default" }), staff(m.getLocation))).location!.timeZone;
  const start = (defaultTimeZone?: string) => directSchedulingService(t, { db: database.db }, defaultTimeZone ? { defaultTimeZone } : {});
  t.equal(await zoneOfDefault(start()), "UTC", "UTC when unset");
  t.equal(await zoneOfDefault(start("Europe/Istanbul")), "Europe/Istanbul", "the configured zone, set at start");
  t.equal(await zoneOfDefault(start("America/New_York")), "America/New_York", "a new configuration at the next start");
  const svc = start("America/New_York");
  await updateLocation(svc, "default-address", { locationId: "default", address: "Bağdat Cd. 5" }, ["address"]);
  t.equal(await zoneOfDefault(start("Asia/Tokyo")), "America/New_York", "once an administrator changed the location it keeps its zone");
  t.equal(loadSchedulingOptions({ SCHEDULING_DEFAULT_TIME_ZONE: "europe/istanbul" }).defaultTimeZone, "Europe/Istanbul");
  t.equal(loadSchedulingOptions({}).defaultTimeZone, "UTC");
  t.throws(() => loadSchedulingOptions({ SCHEDULING_DEFAULT_TIME_ZONE: "Mars/Base" }), ConfigError);
});

t.test("providers and rooms at locations: create, retry, filters bound to their page tokens", async (t) => {
  const { svc } = await instance(t);
  await createLocation(svc, { locationId: "loc-a", displayName: "A Clinic" });
  await createLocation(svc, { locationId: "loc-b", displayName: "B Clinic" });
  t.equal((await provider(svc, "p-default", "UTC")).locationId, "default", "empty: the default location");
  t.equal((await provider(svc, "p-a", "Europe/Istanbul", "loc-a")).locationId, "loc-a");
  await provider(svc, "p-b", "Europe/Istanbul", "loc-b");
  await provider(svc, "p-visits-a", "Europe/Istanbul", "loc-b");
  await works(svc, "p-visits-a", [[DayOfWeek.MONDAY, "09:00", "12:00", "loc-a"], [DayOfWeek.TUESDAY, "09:00", "12:00"]]);
  const unknown = await failure(provider(svc, "p-x", "UTC", "loc-nowhere"));
  t.match({ code: unknown.code, reason: unknown.reason }, { code: Code.NotFound, reason: "LOCATION_NOT_FOUND" });
  t.equal(await outcome(provider(svc, "p-a", "Europe/Istanbul", "loc-b")), "PROVIDER_EXISTS", "the same id at another location is another provider");
  t.equal((await provider(svc, "p-a", "Europe/Istanbul", "loc-a")).providerId, "p-a", "a retry returns it");

  const list = async (locationId: string, pageSize: number) => {
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = create(ListProvidersResponseSchema, await svc.listProviders(create(ListProvidersRequestSchema, { locationId, pageSize, pageToken }), staff(m.listProviders)));
      ids.push(...page.providers.map((p) => p.providerId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return ids;
  };
  t.same(await list("loc-a", 1), ["p-a", "p-visits-a"], "its own providers and those whose weekly hours name it, page by page");
  t.same(await list("loc-b", 5), ["p-b", "p-visits-a"]);
  t.same(await list("", 2), ["p-a", "p-b", "p-default", "p-visits-a"]);
  const first = create(ListProvidersResponseSchema, await svc.listProviders(create(ListProvidersRequestSchema, { locationId: "loc-a", pageSize: 1 }), staff(m.listProviders)));
  t.same(await violatedFields(svc.listProviders(create(ListProvidersRequestSchema, { locationId: "loc-b", pageToken: first.nextPageToken }), staff(m.listProviders))), ["pageToken"], "a token continues only its own location's list");

  const room = (resourceId: string, locationId: string, capabilities: string[], displayName = "Room") =>
    svc.createResource(create(CreateResourceRequestSchema, { resourceId, displayName, kind: ResourceKind.ROOM, locationId, capabilities }), staff(m.createResource));
  t.same((await room("r-a", "loc-a", ["ultrasound", "ecg"])).resource?.capabilities, ["ultrasound", "ecg"]);
  t.equal((await room("r-d", "", [])).resource?.locationId, "default");
  await room("r-a2", "loc-a", []);
  t.equal(await outcome(room("r-a", "loc-a", ["ultrasound"])), "RESOURCE_EXISTS", "other capabilities: another room");
  t.equal(await outcome(room("r-a", "loc-b", ["ultrasound", "ecg"])), "RESOURCE_EXISTS", "another location: another room");
  t.equal((await room("r-a", "loc-a", ["ultrasound", "ecg"])).resource?.resourceId, "r-a", "a retry returns it");
  t.equal(await outcome(room("r-x", "loc-nowhere", [])), "LOCATION_NOT_FOUND");
  t.same(await violatedFields(room("r-y", "", ["Ultrasound", "ecg", "ecg", "x".repeat(41), ""])), ["capabilities[0]", "capabilities[2]", "capabilities[3]", "capabilities[4]"], "never lower-cased or deduplicated silently");
  t.same(await violatedFields(room("r-z", "", Array.from({ length: 21 }, (_, i) => `c${i}`))), ["capabilities"]);
  const rooms = create(ListResourcesResponseSchema, await svc.listResources(create(ListResourcesRequestSchema, { locationId: "loc-a", pageSize: 1 }), staff(m.listResources)));
  t.same(rooms.resources.map((r) => r.resourceId), ["r-a"]);
  const next = create(ListResourcesResponseSchema, await svc.listResources(create(ListResourcesRequestSchema, { locationId: "loc-a", pageSize: 1, pageToken: rooms.nextPageToken }), staff(m.listResources)));
  t.same(next.resources.map((r) => r.resourceId), ["r-a2"]);
  t.same(await violatedFields(svc.listResources(create(ListResourcesRequestSchema, { pageToken: rooms.nextPageToken }), staff(m.listResources))), ["pageToken"], "bound to the location filter");
});

t.test("a provider at two locations: hours per location, never overlapping, no visit across them, each appointment at its location", async (t) => {
  const { svc } = await instance(t);
  await createLocation(svc, { locationId: "loc-a", displayName: "A Clinic", timeZone: "UTC" });
  await createLocation(svc, { locationId: "loc-b", displayName: "B Clinic", timeZone: "UTC" });
  await provider(svc, "p-two", "UTC", "loc-a");
  // Monday at A 09-12 (its own location, unnamed), at B 12-17.
  await works(svc, "p-two", [[DayOfWeek.MONDAY, "09:00", "12:00"], [DayOfWeek.MONDAY, "12:00", "17:00", "loc-b"]]);
  const got = create(GetAvailabilityResponseSchema, await svc.getAvailability(create(GetAvailabilityRequestSchema, { providerId: "p-two" }), staff(m.getAvailability)));
  t.same(got.availability?.weeklyHours.map((w) => [w.startTime, w.endTime, w.locationId]), [["09:00", "12:00", ""], ["12:00", "17:00", "loc-b"]], "each entry's location as sent");

  const overlap = await violatedFields(works(svc, "p-two", [[DayOfWeek.MONDAY, "09:00", "13:00", "loc-a"], [DayOfWeek.MONDAY, "12:00", "17:00", "loc-b"]]));
  t.same(overlap, ["weeklyHours[1]"], "hours at two locations overlapping on one day are refused: one provider, one place at a time");
  const unknown = await failure(works(svc, "p-two", [[DayOfWeek.MONDAY, "09:00", "12:00"], [DayOfWeek.TUESDAY, "09:00", "12:00", "loc-nowhere"]]));
  t.match({ code: unknown.code, reason: unknown.reason, field: unknown.metadata.field }, { code: Code.NotFound, reason: "LOCATION_NOT_FOUND", field: "weeklyHours[1].locationId" });
  t.same(await violatedFields(works(svc, "p-two", [[DayOfWeek.MONDAY, "09:00", "12:00", "bad id"]])), ["weeklyHours[0].locationId"]);
  const withBreak = (locationId: string) =>
    svc.setAvailability(
      create(SetAvailabilityRequestSchema, {
        providerId: "p-two",
        weeklyHours: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "09:00", endTime: "12:00" }, { dayOfWeek: DayOfWeek.MONDAY, startTime: "12:00", endTime: "17:00", locationId: "loc-b" }],
        breaks: [{ dayOfWeek: DayOfWeek.MONDAY, startTime: "15:00", endTime: "15:30", locationId }],
        slotDuration: dur(30),
      }),
      staff(m.setAvailability),
    );
  t.same(await violatedFields(withBreak("bad id")), ["breaks[0].locationId"], "a break's location is ignored (it is where its hours are) but must be well-formed");
  const kept = create(SetAvailabilityResponseSchema, await withBreak("loc-b"));
  t.same(kept.availability?.breaks.map((b) => [b.startTime, b.locationId]), [["15:00", ""]]);

  // 2027-03-08 is a Monday. A two-hour visit fits at A until 10:00 and at B from 12:00, never across noon.
  const monday = await slots(svc, "p-two", "2027-03-08T00:00:00Z", "2027-03-09T00:00:00Z", 120);
  t.ok(monday.includes("2027-03-08T10:00:00.000Z") && monday.includes("2027-03-08T12:00:00.000Z"));
  t.notOk(monday.some((s) => s > "2027-03-08T10:00:00.000Z" && s < "2027-03-08T12:00:00.000Z"), "no slot runs from A's hours into B's");
  t.equal(await outcome(book(svc, "p-two", "across", "2027-03-08T11:00:00Z", 120)), "ENDS_AFTER_WORKING_HOURS");
  const atA = (await book(svc, "p-two", "at-a", "2027-03-08T09:00:00Z")).appointment!;
  const atB = (await book(svc, "p-two", "at-b", "2027-03-08T13:00:00Z")).appointment!;
  t.equal(atA.locationId, "loc-a", "the provider's own location for hours naming none");
  t.equal(atB.locationId, "loc-b", "the location of the hours the visit starts in");
  // Freed time offered to the waitlist is at the location of its hours too.
  await svc.joinWaitlist(
    create(JoinWaitlistRequestSchema, { requestId: "wait", providerId: "p-two", patientId: "pat-2", windowStartTime: at("2027-03-08T13:00:00Z"), windowEndTime: at("2027-03-08T14:00:00Z") }),
    staff(m.joinWaitlist),
  );
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: atB.appointmentId, requestId: "free-b" }), staff(m.cancelAppointment));
  const offered = create(ListAppointmentsResponseSchema, await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId: "pat-2" }), staff(m.listAppointments))).appointments;
  t.same(offered.map((a) => [a.status, a.locationId]), [[AppointmentStatus.PROPOSED, "loc-b"]], "the offer is at B");
  const moved = await svc.rescheduleAppointment(create(RescheduleAppointmentRequestSchema, { appointmentId: atA.appointmentId, requestId: "move", newStartTime: at("2027-03-08T14:00:00Z") }), staff(m.rescheduleAppointment));
  t.equal(moved.appointment?.locationId, "loc-b", "a reschedule takes the location of its new time");
  t.equal(moved.previousAppointment?.locationId, "loc-a");
});

t.test("a closure removes every slot of its local dates in the location's zone, and no booking gets onto one", async (t) => {
  const { svc } = await instance(t);
  await createLocation(svc, { locationId: "loc-kadikoy", closures: [HOLIDAY] });
  // A provider in Istanbul working 09:00-17:00 every day at Kadıköy.
  await provider(svc, "p-ist", "Europe/Istanbul", "loc-kadikoy");
  await works(svc, "p-ist", ALL_DAYS.map((d) => [d, "09:00", "17:00"]));
  const days = (await slots(svc, "p-ist", "2027-04-22T00:00:00Z", "2027-04-25T00:00:00Z")).map((s) => s.slice(0, 10));
  t.same([...new Set(days)], ["2027-04-22", "2027-04-24"], "nothing on the holiday");
  const closed = await failure(book(svc, "p-ist", "holiday", "2027-04-23T07:00:00Z"));
  t.equal(closed.code, Code.FailedPrecondition);
  t.equal(closed.reason, "LOCATION_CLOSED");
  t.equal(closed.message, "Kadıköy Clinic is closed on Friday 23 April 2027 (2027-04-23, Europe/Istanbul): Ulusal Egemenlik ve Çocuk Bayramı; choose another day");
  t.same(closed.metadata, {
    locationName: "Kadıköy Clinic",
    timeZone: "Europe/Istanbul",
    localDate: "2027-04-23",
    closureReason: HOLIDAY.reason,
    closureStartDate: HOLIDAY.startDate,
    closureEndDate: HOLIDAY.endDate,
  });
  const booked = (await book(svc, "p-ist", "before", "2027-04-22T07:00:00Z")).appointment!;
  t.equal(booked.locationId, "loc-kadikoy");
  const moving = svc.rescheduleAppointment(create(RescheduleAppointmentRequestSchema, { appointmentId: booked.appointmentId, requestId: "onto-holiday", newStartTime: at("2027-04-23T08:00:00Z") }), staff(m.rescheduleAppointment));
  t.equal(await outcome(moving), "LOCATION_CLOSED", "nor a reschedule");

  // A closure added later: the appointment already booked stays, the date's free slots go.
  await updateLocation(svc, "close-22nd", { locationId: "loc-kadikoy", closures: [{ startDate: "2027-04-22", endDate: "2027-04-23", reason: "" }] }, ["closures"]);
  t.same(await slots(svc, "p-ist", "2027-04-22T00:00:00Z", "2027-04-23T00:00:00Z"), []);
  const refused = await failure(book(svc, "p-ist", "22nd", "2027-04-22T09:00:00Z"));
  t.equal(refused.message, "Kadıköy Clinic is closed on Thursday 22 April 2027 (2027-04-22, Europe/Istanbul) (closed from Thursday 22 April 2027 to Friday 23 April 2027); choose another day");
});

t.test("closure dates are the location's, not the provider's: a provider in UTC at a location in Istanbul", async (t) => {
  const { svc } = await instance(t);
  await createLocation(svc, { locationId: "loc-kadikoy", closures: [HOLIDAY] });
  // Working round the clock in UTC at Kadıköy: 23 April in Istanbul is 22 April 21:00Z to 23 April 21:00Z.
  await provider(svc, "p-utc", "UTC", "loc-kadikoy");
  await works(svc, "p-utc", ALL_DAYS.map((d) => [d, "00:00", "24:00"]));
  const open = await slots(svc, "p-utc", "2027-04-22T20:00:00Z", "2027-04-23T22:00:00Z");
  t.same(open, ["2027-04-22T20:00:00.000Z", "2027-04-22T20:30:00.000Z", "2027-04-23T21:00:00.000Z", "2027-04-23T21:30:00.000Z"], "closed from Istanbul's midnight to Istanbul's midnight");
  const late = await failure(book(svc, "p-utc", "late-22nd", "2027-04-22T22:00:00Z"));
  t.match({ reason: late.reason, localDate: late.metadata.localDate }, { reason: "LOCATION_CLOSED", localDate: "2027-04-23" }, "22 April for the provider, 23 April at the location: closed");
  const into = await failure(book(svc, "p-utc", "into", "2027-04-22T20:30:00Z", 60));
  t.match({ reason: into.reason, localDate: into.metadata.localDate }, { reason: "LOCATION_CLOSED", localDate: "2027-04-23" }, "a visit running into the closure");
  t.equal((await book(svc, "p-utc", "after", "2027-04-23T21:00:00Z")).appointment?.locationId, "loc-kadikoy", "24 April in Istanbul: open");
});
