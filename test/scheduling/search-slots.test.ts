// SearchSlots (issue 20, item 3), the class against real Postgres under a fake clock: the free slots of
// a visit type across its providers in time order (ties by provider id), with its length and buffers,
// the rooms booking would take, its rules window, a patient's per-day maximum; paged with a token
// bound to the query; and every way a request is refused (field violations, a patient searching
// with someone else's id, a provider who does not offer the visit type, unknown ids).
import t from "tap";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { BookAppointmentRequestSchema, SchedulingService, SearchSlotsRequestSchema, SearchSlotsResponseSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { sql } from "kysely";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure, violatedFields } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { insertCapableResource, insertLocation, insertVisitType } from "../helpers/visit-types.js";

const MIN = 60_000;
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);
const db = database.db;
const clock = createFakeClock(new Date("2026-03-02T06:00:00Z"));
const svc = directSchedulingService(t, { db, clock });

/** Istanbul is UTC+3 all year: local "HH:MM" on a March 2026 date as an instant. */
const ist = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00+03:00`);
const hhmmOf = (ms: number) => new Date(ms + 3 * 60 * MIN).toISOString().slice(11, 16);

for (const providerId of ["p-b", "p-a", "p-c"]) {
  await createProviderIn(svc, ctx, { providerId, timeZone: "Europe/Istanbul", start: "09:00", end: "12:00", slotMinutes: 15 });
}
await insertLocation(db, "loc-2", "Europe/Istanbul");
await insertVisitType(db, { visitTypeId: "vt-basic", durationMinutes: 45, providerIds: ["p-b", "p-a"] });
await insertVisitType(db, { visitTypeId: "vt-buf", durationMinutes: 45, bufferBeforeMinutes: 15, bufferAfterMinutes: 10, providerIds: ["p-a"] });
await insertVisitType(db, { visitTypeId: "vt-us", durationMinutes: 45, providerIds: ["p-a", "p-b"], requiredCapabilities: ["ultrasound"] });
await insertVisitType(db, { visitTypeId: "vt-rules", durationMinutes: 45, providerIds: ["p-a", "p-b"], minNoticeMinutes: 180, horizonMinutes: 2 * 24 * 60 });
await insertVisitType(db, { visitTypeId: "vt-max", durationMinutes: 30, providerIds: ["p-a", "p-b"], maxPerPatientPerDay: 1 });
await insertVisitType(db, { visitTypeId: "vt-staff", durationMinutes: 30, providerIds: ["p-a"], patientBookable: false });
await insertCapableResource(db, "r-us1", ["ultrasound"]);

async function search(req: MessageInitShape<typeof SearchSlotsRequestSchema>, who: Parameters<typeof ctx>[1] = "receptionist", subject?: string) {
  const r = create(SearchSlotsResponseSchema, await svc.searchSlots(create(SearchSlotsRequestSchema, req), ctx(m.searchSlots, who, subject)));
  return {
    slots: r.slots.map((s) => ({ start: timestampDate(s.startTime!).getTime(), end: timestampDate(s.endTime!).getTime(), providerId: s.providerId, resourceIds: s.resourceIds })),
    next: r.nextPageToken,
  };
}

const day = (date: string) => ({
  startTime: timestampFromDate(new Date(`${date}T00:00:00Z`)),
  endTime: timestampFromDate(new Date(Date.parse(`${date}T00:00:00Z`) + 24 * 60 * MIN)),
});

async function bookAt(providerId: string, start: number, minutes: number, opts: { patientId?: string; resourceIds?: string[]; requestId: string }) {
  const r = await svc.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: opts.requestId, providerId, patientId: opts.patientId ?? "pat-0", startTime: timestampFromDate(new Date(start)), duration: { seconds: BigInt(minutes * 60) }, resourceIds: opts.resourceIds ?? [] }),
    ctx(m.bookAppointment),
  );
  return r.appointment!.appointmentId;
}

t.test("every provider offering the visit type, in time order, ties by provider id, each visit its full length", async (t) => {
  const { slots, next } = await search({ visitTypeId: "vt-basic", ...day("2026-03-03") });
  t.equal(next, "");
  const starts = ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00", "11:15"];
  t.same(
    slots.map((s) => `${hhmmOf(s.start)} ${s.providerId}`),
    starts.flatMap((h) => [`${h} p-a`, `${h} p-b`]),
    "45-minute visits on the 15-minute grid, ending by 12:00; p-c does not offer it",
  );
  t.ok(slots.every((s) => s.end - s.start === 45 * MIN && s.resourceIds.length === 0));
  t.same((await search({ visitTypeId: "vt-basic", locationId: "default", ...day("2026-03-03") })).slots.length, 20, "the visit type's own location named");
});

t.test("the buffers before and after a visit keep clear of other appointments", async (t) => {
  await bookAt("p-a", ist("2026-03-04", "10:00"), 15, { requestId: "buf-1" });
  const { slots } = await search({ visitTypeId: "vt-buf", ...day("2026-03-04") });
  // [start - 15, start + 45 + 10) must not overlap 10:00-10:15.
  t.same(slots.map((s) => hhmmOf(s.start)), ["09:00", "10:30", "10:45", "11:00", "11:15"]);
});

t.test("the rooms and devices booking would take: one per required capability, free at the time", async (t) => {
  await bookAt("p-b", ist("2026-03-05", "11:00"), 15, { requestId: "us-1", resourceIds: ["r-us1"] });
  const first = await search({ visitTypeId: "vt-us", ...day("2026-03-05") });
  t.ok(first.slots.length > 0);
  t.ok(first.slots.every((s) => s.resourceIds.length === 1 && s.resourceIds[0] === "r-us1"));
  t.notOk(first.slots.some((s) => s.start < ist("2026-03-05", "11:15") && s.end > ist("2026-03-05", "11:00")), "none while the only ultrasound room is booked");
  t.ok(first.slots.some((s) => s.providerId === "p-a" && s.start === ist("2026-03-05", "10:00")), "p-a at 10:00 before the room is taken");
  await insertCapableResource(db, "r-us2", ["xray", "ultrasound"]);
  await insertCapableResource(db, "r-us-elsewhere", ["ultrasound"], "loc-2");
  const second = await search({ visitTypeId: "vt-us", ...day("2026-03-05") });
  const at1030 = second.slots.filter((s) => s.start === ist("2026-03-05", "10:30"));
  t.same(at1030.map((s) => [s.providerId, s.resourceIds]), [["p-a", ["r-us2"]]], "p-a takes the other room while r-us1 is booked; p-b is busy itself; never a room of another location");
  t.same(second.slots.filter((s) => s.start === ist("2026-03-05", "09:00")).map((s) => s.resourceIds), [["r-us1"], ["r-us1"]], "each slot on its own names the first free room");
  await insertVisitType(db, { visitTypeId: "vt-none", durationMinutes: 30, providerIds: ["p-a"], requiredCapabilities: ["mri"] });
  t.same((await search({ visitTypeId: "vt-none", ...day("2026-03-05") })).slots, [], "no room with the capability: no slot");
});

t.test("nothing past, nothing inside the minimum notice or beyond the visit type's horizon, for staff too", async (t) => {
  clock.set(new Date(ist("2026-03-10", "08:00")));
  t.teardown(() => clock.set(new Date("2026-03-02T06:00:00Z")));
  const basic = await search({ visitTypeId: "vt-basic", providerIds: ["p-a"], ...day("2026-03-10") });
  t.equal(basic.slots.length, 10, "now is before the day's hours");
  clock.set(new Date(ist("2026-03-10", "09:50")));
  t.same((await search({ visitTypeId: "vt-basic", providerIds: ["p-a"], ...day("2026-03-10") })).slots.map((s) => hhmmOf(s.start)), ["10:00", "10:15", "10:30", "10:45", "11:00", "11:15"], "none that has started");
  clock.set(new Date(ist("2026-03-10", "08:00")));
  const range = { startTime: timestampFromDate(new Date("2026-03-09T00:00:00Z")), endTime: timestampFromDate(new Date("2026-03-16T00:00:00Z")) };
  const rules = await search({ visitTypeId: "vt-rules", providerIds: ["p-a"], ...range });
  t.same(
    rules.slots.map((s) => new Date(s.start + 3 * 60 * MIN).toISOString().slice(5, 16)),
    ["03-10T11:00", "03-10T11:15", ...["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00", "11:15"].map((h) => `03-11T${h}`)],
    "from 3 hours ahead (11:00) until 2 days ahead (08:00 on the 12th)",
  );
});

t.test("with a patient: no slot on a day the patient already has the most visits of the type", async (t) => {
  const id = await bookAt("p-b", ist("2026-03-06", "10:00"), 30, { patientId: "pat-x", requestId: "max-1" });
  await sql`update scheduling.appointments set visit_type_id = 'vt-max' where appointment_id = ${id}`.execute(db);
  const range = { startTime: timestampFromDate(new Date("2026-03-06T00:00:00Z")), endTime: timestampFromDate(new Date("2026-03-08T00:00:00Z")) };
  const anyone = await search({ visitTypeId: "vt-max", ...range });
  const pat = await search({ visitTypeId: "vt-max", patientId: "pat-x", ...range });
  t.ok(anyone.slots.some((s) => s.start < ist("2026-03-07", "00:00")), "others may book the 6th");
  t.notOk(pat.slots.some((s) => s.start < ist("2026-03-07", "00:00")), "pat-x has one on the 6th: none that day, with any provider");
  t.same(pat.slots, anyone.slots.filter((s) => s.start >= ist("2026-03-07", "00:00")), "the 7th as for anyone");
  const own = await search({ visitTypeId: "vt-max", patientId: "pat-x", ...range }, "patient", "pat-x");
  t.same(own.slots, pat.slots, "a patient searching with their own id");
});

t.test("refusals: someone else's patient id, a staff-only visit type for patients, providers, ids", async (t) => {
  const other = await domainFailure(search({ visitTypeId: "vt-basic", patientId: "pat-y", ...day("2026-03-03") }, "patient", "pat-x"));
  t.equal(other.code, Code.PermissionDenied);
  t.equal(other.reason, "OWN_RECORDS_ONLY");
  t.equal((await search({ visitTypeId: "vt-basic", ...day("2026-03-03") }, "patient", "pat-x")).slots.length, 20, "without a patient id");
  t.equal((await search({ visitTypeId: "vt-basic", patientId: "pat-y", ...day("2026-03-03") }, "receptionist")).slots.length, 20, "staff for any patient");
  const staffOnly = await domainFailure(search({ visitTypeId: "vt-staff", ...day("2026-03-03") }, "patient", "pat-x"));
  t.equal(staffOnly.reason, "VISIT_TYPE_STAFF_ONLY");
  t.equal((await search({ visitTypeId: "vt-staff", ...day("2026-03-03") })).slots.length, 11, "staff see it");
  const notOffered = await domainFailure(search({ visitTypeId: "vt-basic", providerIds: ["p-a", "p-c"], ...day("2026-03-03") }));
  t.equal(notOffered.code, Code.FailedPrecondition);
  t.equal(notOffered.reason, "NOT_OFFERED_BY_PROVIDER");
  t.equal((await domainFailure(search({ visitTypeId: "vt-basic", providerIds: ["p-zz"], ...day("2026-03-03") }))).reason, "PROVIDER_NOT_FOUND");
  t.equal((await domainFailure(search({ visitTypeId: "vt-nope", ...day("2026-03-03") }))).reason, "VISIT_TYPE_NOT_FOUND");
  t.equal((await domainFailure(search({ visitTypeId: "vt-basic", locationId: "nowhere", ...day("2026-03-03") }))).reason, "LOCATION_NOT_FOUND");
  t.equal((await domainFailure(search({ visitTypeId: "vt-basic", locationId: "loc-2", ...day("2026-03-03") }))).reason, "VISIT_TYPE_NOT_FOUND", "not offered at that location");
  t.same((await search({ visitTypeId: "vt-basic", providerIds: ["p-b"], ...day("2026-03-03") })).slots.map((s) => s.providerId), Array(10).fill("p-b"));
});

t.test("pages continue after (start, provider) and only the query they came from", async (t) => {
  const all = (await search({ visitTypeId: "vt-basic", ...day("2026-03-03") })).slots;
  const walked: typeof all = [];
  let token = "";
  let pages = 0;
  do {
    const page = await search({ visitTypeId: "vt-basic", pageSize: 3, pageToken: token, ...day("2026-03-03") });
    walked.push(...page.slots);
    token = page.next;
    pages++;
  } while (token !== "" && pages < 20);
  t.same(walked, all);
  t.equal(pages, 7, "20 slots in pages of 3");
  const page = await search({ visitTypeId: "vt-basic", pageSize: 3, ...day("2026-03-03") });
  t.same(
    await violatedFields(svc.searchSlots(create(SearchSlotsRequestSchema, { visitTypeId: "vt-basic", pageSize: 3, pageToken: page.next, ...day("2026-03-04") }), ctx(m.searchSlots))),
    ["pageToken"],
    "another range",
  );
  t.same(
    await violatedFields(svc.searchSlots(create(SearchSlotsRequestSchema, { visitTypeId: "vt-basic", patientId: "pat-q", pageSize: 3, pageToken: page.next, ...day("2026-03-03") }), ctx(m.searchSlots))),
    ["pageToken"],
    "another patient",
  );
});

t.test("field violations name every bad field", async (t) => {
  const fields = (req: MessageInitShape<typeof SearchSlotsRequestSchema>) => violatedFields(svc.searchSlots(create(SearchSlotsRequestSchema, req), ctx(m.searchSlots)));
  t.same(await fields({}), ["endTime", "startTime", "visitTypeId"]);
  t.same(
    await fields({
      visitTypeId: "vt basic",
      locationId: "a\u0000",
      startTime: timestampFromDate(new Date("2026-03-01T00:00:00Z")),
      endTime: timestampFromDate(new Date("2026-04-02T00:00:00Z")),
      providerIds: ["p-a", "p-a", ""],
      patientId: "x/y",
      pageSize: 2001,
      pageToken: "not a token",
    }),
    ["endTime", "locationId", "pageSize", "pageToken", "patientId", "providerIds[1]", "providerIds[2]", "visitTypeId"],
  );
  t.equal((await search({ visitTypeId: "vt-basic", pageSize: 2000, ...day("2026-03-03") })).slots.length, 20, "a page of 2000 is allowed");
  t.same(await fields({ visitTypeId: "vt-basic", startTime: timestampFromDate(new Date("2026-03-03T00:00:00Z")), endTime: timestampFromDate(new Date("2026-03-03T00:00:00Z")) }), ["endTime"]);
});

t.test("the same reads on PGlite (npm start): busy time of the provider and the room, buffers", async (t) => {
  const lite = await createModuleDatabase(t, [schedulingModule], { embedded: true });
  const embedded = directSchedulingService(t, { db: lite.db, clock });
  await createProviderIn(embedded, ctx, { providerId: "p-a", timeZone: "Europe/Istanbul", start: "09:00", end: "12:00", slotMinutes: 15 });
  await insertVisitType(lite.db, { visitTypeId: "vt-us", durationMinutes: 45, bufferBeforeMinutes: 15, providerIds: ["p-a"], requiredCapabilities: ["ultrasound"] });
  await insertCapableResource(lite.db, "r-us1", ["ultrasound"]);
  const request = { requestId: "lite-1", providerId: "p-a", patientId: "pat-0", startTime: timestampFromDate(new Date(ist("2026-03-04", "10:00"))), duration: { seconds: 900n }, resourceIds: ["r-us1"] };
  await embedded.bookAppointment(create(BookAppointmentRequestSchema, request), ctx(m.bookAppointment));
  const r = create(SearchSlotsResponseSchema, await embedded.searchSlots(create(SearchSlotsRequestSchema, { visitTypeId: "vt-us", ...day("2026-03-04") }), ctx(m.searchSlots)));
  t.same(
    r.slots.map((s) => `${hhmmOf(timestampDate(s.startTime!).getTime())} ${s.resourceIds.join(",")}`),
    ["09:00 r-us1", "09:15 r-us1", "10:30 r-us1", "10:45 r-us1", "11:00 r-us1", "11:15 r-us1"],
  );
});
