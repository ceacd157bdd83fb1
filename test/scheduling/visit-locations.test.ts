// Visit types across locations (issue 20, items 1-5 together), the class against real Postgres under a
// fake clock: a provider works at the main clinic on weekdays and at a branch on Thursdays (a
// weekly-hours entry naming it); a visit type belongs to one location. SearchSlots offers only the
// times the provider works at the location searched, none on the location's closures; BookAppointment,
// HoldSlot and BookSeries refuse a visit of the type while the provider is at the other location
// (NOT_AT_VISIT_TYPE_LOCATION) or on a closure (LOCATION_CLOSED); what is booked carries the location.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DayOfWeek, RecurrenceFrequency } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  BookSeriesRequestSchema,
  CreateLocationRequestSchema,
  CreateVisitTypeRequestSchema,
  HoldSlotRequestSchema,
  SchedulingService,
  SearchSlotsRequestSchema,
  SetAvailabilityRequestSchema,
  UpdateLocationRequestSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { domainFailure } from "../helpers/call-outcome.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";

const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);
// Monday 1 March 2027, 06:00 in Istanbul.
const clock = createFakeClock(new Date("2027-03-01T03:00:00Z"));
const svc = directSchedulingService(t, { db: database.db, clock }, { defaultTimeZone: "Europe/Istanbul" });
const ist = (date: string, hhmm: string) => new Date(`${date}T${hhmm}:00+03:00`);
const hour = { seconds: 3600n };

await svc.createLocation(create(CreateLocationRequestSchema, { requestId: "l1", locationId: "moda", displayName: "Moda Branch", timeZone: "Europe/Istanbul" }), ctx(m.createLocation, "admin"));
// The main clinic is closed on Friday 5 March 2027.
await svc.updateLocation(
  create(UpdateLocationRequestSchema, { requestId: "l2", location: { locationId: "default", closures: [{ startDate: "2027-03-05", endDate: "2027-03-05", reason: "Bakım" }] }, updateMask: { paths: ["closures"] } }),
  ctx(m.updateLocation, "admin"),
);
await createProviderIn(svc, ctx, { providerId: "dr-elif", displayName: "Dr. Elif Kaya", timeZone: "Europe/Istanbul", start: "09:00", end: "12:00", slotMinutes: 30 });
const weekdays = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY];
await svc.setAvailability(
  create(SetAvailabilityRequestSchema, {
    providerId: "dr-elif",
    weeklyHours: weekdays.map((dayOfWeek) => ({ dayOfWeek, startTime: "09:00", endTime: "12:00", locationId: dayOfWeek === DayOfWeek.THURSDAY ? "moda" : "" })),
    slotDuration: { seconds: 1800n },
  }),
  ctx(m.setAvailability),
);
const visitType = (visitTypeId: string, locationId: string) =>
  svc.createVisitType(
    create(CreateVisitTypeRequestSchema, { requestId: visitTypeId, visitType: { visitTypeId, locationId, displayName: locationId === "moda" ? "Kardiyoloji kontrolü (Moda)" : "Kardiyoloji kontrolü", duration: hour, providerIds: ["dr-elif"], patientBookable: true } }),
    ctx(m.createVisitType, "admin"),
  );
await visitType("vt-main", "default");
await visitType("vt-moda", "moda");

async function dates(locationId: string, visitTypeId: string): Promise<string[]> {
  const r = await svc.searchSlots(
    create(SearchSlotsRequestSchema, { locationId, visitTypeId, startTime: timestampFromDate(ist("2027-03-01", "00:00")), endTime: timestampFromDate(ist("2027-03-08", "00:00")) }),
    ctx(m.searchSlots),
  );
  return [...new Set((r.slots ?? []).map((s) => new Date(Number(s.startTime!.seconds) * 1000).toISOString().slice(0, 10)))];
}

t.test("SearchSlots: only the days the provider works at the location searched, none on its closures", async (t) => {
  t.same(await dates("default", "vt-main"), ["2027-03-01", "2027-03-02", "2027-03-03"], "the main clinic: Monday to Wednesday (Thursday at Moda, Friday closed)");
  t.same(await dates("moda", "vt-moda"), ["2027-03-04"], "Moda: Thursday only");
});

t.test("booking, holding or a series of a visit type while the provider is at the other location is refused", async (t) => {
  const thursday = ist("2027-03-04", "09:00");
  const book = (visitTypeId: string, start: Date, requestId: string) =>
    svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId, providerId: "dr-elif", patientId: "pat-1", startTime: timestampFromDate(start), visitTypeId }), ctx(m.bookAppointment));
  const refused = await domainFailure(book("vt-main", thursday, "b1"));
  t.equal(refused.reason, "NOT_AT_VISIT_TYPE_LOCATION", refused.message);
  t.match(refused.message, /Moda Branch/, "the message names where the provider is");
  t.notMatch(refused.message, /moda|default|dr-elif|vt-main/, "and no ids");
  t.equal((await domainFailure(book("vt-main", ist("2027-03-05", "09:00"), "b2"))).reason, "LOCATION_CLOSED", "Friday: the main clinic is closed");
  const hold = await domainFailure(
    svc.holdSlot(create(HoldSlotRequestSchema, { requestId: "h1", visitTypeId: "vt-main", providerId: "dr-elif", patientId: "pat-2", startTime: timestampFromDate(thursday) }), ctx(m.holdSlot)),
  );
  t.equal(hold.reason, "NOT_AT_VISIT_TYPE_LOCATION", "HoldSlot too");
  const series = await domainFailure(
    svc.bookSeries(
      create(BookSeriesRequestSchema, { requestId: "s1", visitTypeId: "vt-main", providerId: "dr-elif", patientId: "pat-3", firstStartTime: timestampFromDate(ist("2027-03-01", "09:00")), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 4 } }),
      ctx(m.bookSeries),
    ),
  );
  t.equal(series.reason, "NOT_AT_VISIT_TYPE_LOCATION", "BookSeries: the 4th occurrence (Thursday) is at the branch");
  t.equal(series.metadata.occurrence, "4", "named by its place in the series");

  const atModa = (await book("vt-moda", thursday, "b3")).appointment!;
  t.equal(atModa.locationId, "moda", "the Thursday visit takes place at Moda");
  const atMain = (await book("vt-main", ist("2027-03-01", "10:00"), "b4")).appointment!;
  t.equal(atMain.locationId, "default", "the Monday one at the main clinic");
});
