// The class alone: every SchedulingService RPC rejects malformed requests with INVALID_ARGUMENT
// naming exactly the bad fields, and lets well-formed ones through validation: they reach the
// database, which here is a stand-in that throws NoDatabaseError on first use.
import t from "tap";
import { create, type DescMethod, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema, FieldMaskSchema, TimestampSchema, type FieldMask, durationFromMs, timestampFromDate, timestampFromMs, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AppointmentStatus,
  DateExceptionSchema,
  DayOfWeek,
  RecurrenceFrequency,
  LocationSchema,
  ResourceKind,
  WeeklyIntervalSchema,
  type DateException,
  type Location,
  type WeeklyInterval,
} from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  AcceptOfferRequestSchema,
  BookAppointmentRequestSchema,
  BookSeriesRequestSchema,
  HoldSlotRequestSchema,
  CancelAppointmentRequestSchema,
  CancelSeriesRequestSchema,
  CheckInAppointmentRequestSchema,
  CreateLocationRequestSchema,
  CreateProviderRequestSchema,
  CreateResourceRequestSchema,
  GetLocationRequestSchema,
  ListLocationsRequestSchema,
  UpdateLocationRequestSchema,
  GetAppointmentRequestSchema,
  GetAvailabilityRequestSchema,
  GetProviderRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  ListAvailableSlotsRequestSchema,
  ListProvidersRequestSchema,
  ListResourcesRequestSchema,
  SearchSlotsRequestSchema,
  MarkNoShowRequestSchema,
  CompleteAppointmentRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
  SetAvailabilityRequestSchema,
  WatchAppointmentsRequestSchema,
  ReassignPatientRequestSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { InvalidArgumentError } from "../../services/runtime/errors.js";
import { PageTokens } from "../../services/runtime/page-token.js";
import { PROVIDERS_PAGE, RESOURCES_PAGE } from "../../services/scheduling/provider-directory.js";
import { LOCATIONS_PAGE } from "../../services/scheduling/locations.js";
import { APPOINTMENTS_PAGE, SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { validateSetAvailability } from "../../services/scheduling/availability.validation.js";
import { validateBookAppointment, validateCreateProvider, validateListAvailableSlots, validateListProviders, validateListResources } from "../../services/scheduling/scheduling.validation.js";
import { validateListAppointments } from "../../services/scheduling/calendar.validation.js";
import { testContext } from "../helpers/handler-context.js";
import { shown, thrownBy, validationTable } from "../helpers/validation-table.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** NoDatabaseError marks a request that passed validation and went on to the database. */
class NoDatabaseError extends Error {}
const noDatabase = new Proxy({}, { get: () => { throw new NoDatabaseError("validation passed; no database in this test"); } });
const pageTokens = new PageTokens("scheduling-validation-test-page-token-secret");
const impl = new SchedulingServiceImpl({ db: noDatabase as never, clock: createFakeClock(), pageTokens }, { offerSweepIntervalMs: 0 });
const method = SchedulingService.method;

// ---- helpers ------------------------------------------------------------------------------------

const ctx = (m: DescMethod) => testContext(m);

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // A skeleton stream must not send anything before it fails.
    throw new Error("the stream sent a message");
  }
}

const ts = (iso: string): Timestamp => timestampFromDate(new Date(iso));
const dur = (ms: number): Duration => durationFromMs(ms);
/** tsn is an instant with nanoseconds as given (a Date cannot hold less than a millisecond). */
const tsn = (iso: string, nanos: number): Timestamp => create(TimestampSchema, { seconds: ts(iso).seconds, nanos });
/** durn is a duration of whole seconds plus nanoseconds. */
const durn = (seconds: number, nanos: number): Duration => create(DurationSchema, { seconds: BigInt(seconds), nanos });
const wi = (dayOfWeek: DayOfWeek, startTime: string, endTime: string, locationId = ""): WeeklyInterval =>
  create(WeeklyIntervalSchema, { dayOfWeek, startTime, endTime, locationId });
const ex = (startDate: string, endDate: string, reason = ""): DateException =>
  create(DateExceptionSchema, { startDate, endDate, reason });

/** rpc adds an RPC's row: a request passes validation when it reaches the database; every violation has its own reason. */
const { rpc, coversEveryRpc } = validationTable(t, SchedulingService, (err) => err instanceof NoDatabaseError, { ownReasons: true });

// ---- providers and resources --------------------------------------------------------------------

rpc({
  method: method.createProvider,
  schema: CreateProviderRequestSchema,
  call: (req, c) => impl.createProvider(req, c),
  valid: { displayName: "Dr. Ada Lovelace", timeZone: "Europe/Istanbul", specialty: "dermatology" },
  alsoValid: [
    { name: "client-chosen id", patch: { providerId: "dr-ada_1" } },
    { name: "64-character id", patch: { providerId: "a".repeat(64) } },
    { name: "200-character name", patch: { displayName: "n".repeat(200) } },
    { name: "no specialty", patch: { specialty: "" } },
    { name: "UTC", patch: { timeZone: "UTC" } },
    { name: "zone in another letter case", patch: { timeZone: "europe/ISTANBUL" } },
    { name: "lower-case utc", patch: { timeZone: "utc" } },
    { name: "an IANA alias", patch: { timeZone: "EST5EDT" } },
    { name: "at a location", patch: { locationId: "loc-kadikoy" } },
  ],
  bad: [
    { name: "location id with a space", patch: { locationId: "loc kadikoy" }, fields: ["locationId"] },
    { name: "empty request", patch: { displayName: "", timeZone: "", specialty: "" }, fields: ["displayName", "timeZone"] },
    { name: "blank name", patch: { displayName: "   " }, fields: ["displayName"] },
    { name: "201-character name", patch: { displayName: "n".repeat(201) }, fields: ["displayName"] },
    { name: "name with a control character", patch: { displayName: "Dr.\u0000Ada" }, fields: ["displayName"] },
    { name: "unknown zone", patch: { timeZone: "Mars/Olympus_Mons" }, fields: ["timeZone"] },
    { name: "misspelt zone", patch: { timeZone: "Europe/Istanbu" }, fields: ["timeZone"] },
    { name: "201-character specialty", patch: { specialty: "s".repeat(201) }, fields: ["specialty"] },
    { name: "id with a space", patch: { providerId: "dr ada" }, fields: ["providerId"] },
    { name: "65-character id", patch: { providerId: "a".repeat(65) }, fields: ["providerId"] },
    {
      name: "three bad fields",
      patch: { displayName: "", timeZone: "Nowhere", providerId: "dr/ada" },
      fields: ["displayName", "timeZone", "providerId"],
    },
  ],
});

rpc({
  method: method.getProvider,
  schema: GetProviderRequestSchema,
  call: (req, c) => impl.getProvider(req, c),
  valid: { providerId: "dr-ada" },
  bad: [
    { name: "no id", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "id with a slash", patch: { providerId: "dr/ada" }, fields: ["providerId"] },
  ],
});

rpc({
  method: method.listProviders,
  schema: ListProvidersRequestSchema,
  call: (req, c) => impl.listProviders(req, c),
  valid: {},
  alsoValid: [
    { name: "page size 500", patch: { pageSize: 500 } },
    { name: "page token", patch: { pageSize: 10, pageToken: pageTokens.seal(PROVIDERS_PAGE, { name: "a", id: "b" }) } },
    { name: "one location's page token", patch: { locationId: "loc-a", pageToken: pageTokens.seal(PROVIDERS_PAGE, { name: "a", id: "b" }, ["loc-a"]) } },
  ],
  bad: [
    { name: "negative page size", patch: { pageSize: -1 }, fields: ["pageSize"] },
    { name: "page size 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
    { name: "malformed page token", patch: { pageToken: "not a token!" }, fields: ["pageToken"] },
    { name: "hand-written page token", patch: { pageToken: "eyJuIjoiYSIsImkiOiJiIn0" }, fields: ["pageToken"] },
    { name: "page token of another RPC", patch: { pageToken: pageTokens.seal(RESOURCES_PAGE, { name: "a", id: "b" }, [undefined]) }, fields: ["pageToken"] },
    { name: "page token of another location", patch: { locationId: "loc-b", pageToken: pageTokens.seal(PROVIDERS_PAGE, { name: "a", id: "b" }, ["loc-a"]) }, fields: ["pageToken"] },
    { name: "page token of one location for all", patch: { pageToken: pageTokens.seal(PROVIDERS_PAGE, { name: "a", id: "b" }, ["loc-a"]) }, fields: ["pageToken"] },
    { name: "bad location", patch: { locationId: "loc/a" }, fields: ["locationId"] },
    { name: "both", patch: { pageSize: 1000, pageToken: "???" }, fields: ["pageSize", "pageToken"] },
  ],
});

rpc({
  method: method.createResource,
  schema: CreateResourceRequestSchema,
  call: (req, c) => impl.createResource(req, c),
  valid: { displayName: "Room 3", kind: ResourceKind.ROOM },
  alsoValid: [
    { name: "device", patch: { kind: ResourceKind.DEVICE } },
    { name: "client-chosen id", patch: { resourceId: "room-3" } },
    { name: "at a location with capabilities", patch: { locationId: "loc-a", capabilities: ["ultrasound", "ecg-12_lead", "x".repeat(40)] } },
    { name: "20 capabilities", patch: { capabilities: Array.from({ length: 20 }, (_, i) => `c${i}`) } },
  ],
  bad: [
    { name: "kind unspecified", patch: { kind: ResourceKind.UNSPECIFIED }, fields: ["kind"] },
    { name: "unknown kind", patch: { kind: 9 as ResourceKind }, fields: ["kind"] },
    { name: "no name", patch: { displayName: "" }, fields: ["displayName"] },
    { name: "bad id", patch: { resourceId: "room 3" }, fields: ["resourceId"] },
    { name: "bad location", patch: { locationId: "loc a" }, fields: ["locationId"] },
    { name: "capability in upper case", patch: { capabilities: ["Ultrasound"] }, fields: ["capabilities[0]"] },
    { name: "capability too long, empty, with a space", patch: { capabilities: ["x".repeat(41), "", "ultra sound"] }, fields: ["capabilities[0]", "capabilities[1]", "capabilities[2]"] },
    { name: "capability twice", patch: { capabilities: ["ecg", "ultrasound", "ecg"] }, fields: ["capabilities[2]"] },
    { name: "21 capabilities", patch: { capabilities: Array.from({ length: 21 }, (_, i) => `c${i}`) }, fields: ["capabilities"] },
    {
      name: "empty request",
      patch: { displayName: "", kind: ResourceKind.UNSPECIFIED },
      fields: ["displayName", "kind"],
    },
  ],
});

rpc({
  method: method.listResources,
  schema: ListResourcesRequestSchema,
  call: (req, c) => impl.listResources(req, c),
  valid: {},
  alsoValid: [
    { name: "only devices", patch: { kind: ResourceKind.DEVICE, pageSize: 20 } },
    { name: "page token", patch: { kind: ResourceKind.DEVICE, pageToken: pageTokens.seal(RESOURCES_PAGE, { name: "a", id: "b" }, ["DEVICE"]) } },
    { name: "one location's page token", patch: { locationId: "loc-a", pageToken: pageTokens.seal(RESOURCES_PAGE, { name: "a", id: "b" }, [undefined, "loc-a"]) } },
  ],
  bad: [
    { name: "page token of another kind", patch: { kind: ResourceKind.ROOM, pageToken: pageTokens.seal(RESOURCES_PAGE, { name: "a", id: "b" }, ["DEVICE"]) }, fields: ["pageToken"] },
    { name: "page token of another location", patch: { locationId: "loc-b", pageToken: pageTokens.seal(RESOURCES_PAGE, { name: "a", id: "b" }, [undefined, "loc-a"]) }, fields: ["pageToken"] },
    { name: "bad location", patch: { locationId: "loc a" }, fields: ["locationId"] },
    { name: "unknown kind", patch: { kind: 7 as ResourceKind }, fields: ["kind"] },
    { name: "page size 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
    { name: "malformed page token", patch: { pageToken: "a b" }, fields: ["pageToken"] },
    { name: "all three", patch: { kind: 3 as ResourceKind, pageSize: -2, pageToken: "%%" }, fields: ["kind", "pageSize", "pageToken"] },
  ],
});

// ---- availability -------------------------------------------------------------------------------

const MON = DayOfWeek.MONDAY;
const TUE = DayOfWeek.TUESDAY;
const WED = DayOfWeek.WEDNESDAY;

/** 101 well-formed, non-overlapping intervals: one too many. */
const tooManyIntervals = Array.from({ length: 101 }, (_, i) => {
  const hour = Math.floor(i / 7);
  const hh = String(hour).padStart(2, "0");
  return wi(((i % 7) + 1) as DayOfWeek, `${hh}:00`, `${hh}:30`);
});

rpc({
  method: method.setAvailability,
  schema: SetAvailabilityRequestSchema,
  call: (req, c) => impl.setAvailability(req, c),
  valid: {
    providerId: "dr-ada",
    weeklyHours: [wi(MON, "09:00", "12:00"), wi(MON, "13:00", "17:00"), wi(TUE, "09:00", "24:00")],
    breaks: [wi(MON, "10:30", "10:45")],
    exceptions: [ex("2026-12-24", "2026-12-26", "holidays")],
    slotDuration: dur(15 * MIN),
    buffer: dur(5 * MIN),
  },
  alsoValid: [
    { name: "touching intervals", patch: { weeklyHours: [wi(MON, "09:00", "12:00"), wi(MON, "12:00", "13:00")], breaks: [] } },
    { name: "same hours on several days", patch: { weeklyHours: [wi(MON, "09:00", "17:00"), wi(TUE, "09:00", "17:00")] } },
    { name: "a break leaving one slot", patch: { weeklyHours: [wi(MON, "09:00", "10:00")], breaks: [wi(MON, "09:30", "10:00")], slotDuration: dur(30 * MIN) } },
    { name: "an interval of exactly one slot", patch: { weeklyHours: [wi(MON, "09:00", "09:30")], breaks: [], slotDuration: dur(30 * MIN) } },
    { name: "touching breaks", patch: { breaks: [wi(MON, "10:00", "10:30"), wi(MON, "10:30", "11:00")] } },
    { name: "no hours at all", patch: { weeklyHours: [], breaks: [], exceptions: [] } },
    { name: "whole day", patch: { weeklyHours: [wi(DayOfWeek.SUNDAY, "00:00", "24:00")], breaks: [] } },
    { name: "5-minute slots", patch: { slotDuration: dur(5 * MIN) } },
    { name: "8-hour slots", patch: { weeklyHours: [wi(MON, "08:00", "16:00")], breaks: [], slotDuration: dur(8 * HOUR) } },
    { name: "no buffer", patch: { buffer: undefined } },
    { name: "zero buffer", patch: { buffer: dur(0) } },
    { name: "2-hour buffer", patch: { buffer: dur(2 * HOUR) } },
    { name: "one-day exception, no reason", patch: { exceptions: [ex("2026-05-01", "2026-05-01")] } },
    { name: "multi-line reason", patch: { exceptions: [ex("2026-05-01", "2026-05-02", "leave\nback on the 3rd")] } },
    { name: "leap day", patch: { exceptions: [ex("2028-02-29", "2028-03-01")] } },
    { name: "hours at named locations", patch: { weeklyHours: [wi(MON, "09:00", "12:00", "loc-a"), wi(MON, "13:00", "17:00", "loc-b")], breaks: [] } },
    { name: "a break naming a location (ignored)", patch: { breaks: [wi(MON, "10:30", "10:45", "loc-a")] } },
  ],
  bad: [
    { name: "no provider", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "hours at a malformed location", patch: { weeklyHours: [wi(MON, "09:00", "12:00", "loc a")], breaks: [] }, fields: ["weeklyHours[0].locationId"] },
    { name: "a break at a malformed location", patch: { breaks: [wi(MON, "10:30", "10:45", "loc\u0000")] }, fields: ["breaks[0].locationId"] },
    { name: "hours at two locations overlapping", patch: { weeklyHours: [wi(MON, "09:00", "13:00", "loc-a"), wi(MON, "12:00", "17:00", "loc-b")], breaks: [] }, fields: ["weeklyHours[1]"] },
    { name: "interval shorter than one slot", patch: { weeklyHours: [wi(MON, "09:00", "09:20")], breaks: [], slotDuration: dur(30 * MIN) }, fields: ["weeklyHours[0]"] },
    { name: "intervals shorter than 8-hour slots", patch: { slotDuration: dur(8 * HOUR) }, fields: ["weeklyHours[0]", "weeklyHours[1]"] },
    { name: "break as long as the interval", patch: { breaks: [wi(MON, "13:00", "17:00")] }, fields: ["weeklyHours[1]"] },
    { name: "a break cutting every slot", patch: { weeklyHours: [wi(MON, "09:00", "10:00")], breaks: [wi(MON, "09:15", "09:45")], slotDuration: dur(30 * MIN) }, fields: ["weeklyHours[0]"] },
    { name: "slot length with nanoseconds", patch: { slotDuration: durn(900, 1) }, fields: ["slotDuration"] },
    { name: "buffer below a millisecond", patch: { buffer: durn(0, 100) }, fields: ["buffer"] },
    { name: "day unspecified", patch: { weeklyHours: [wi(DayOfWeek.UNSPECIFIED, "09:00", "12:00")], breaks: [] }, fields: ["weeklyHours[0].dayOfWeek"] },
    { name: "day 8", patch: { weeklyHours: [wi(8 as DayOfWeek, "09:00", "12:00")], breaks: [] }, fields: ["weeklyHours[0].dayOfWeek"] },
    { name: "start without leading zero", patch: { weeklyHours: [wi(MON, "9:00", "12:00")], breaks: [] }, fields: ["weeklyHours[0].startTime"] },
    { name: "start 24:00", patch: { weeklyHours: [wi(MON, "24:00", "24:00")], breaks: [] }, fields: ["weeklyHours[0].startTime"] },
    { name: "minute 60", patch: { weeklyHours: [wi(MON, "11:60", "12:00")], breaks: [] }, fields: ["weeklyHours[0].startTime"] },
    { name: "no end", patch: { weeklyHours: [wi(MON, "09:00", "")], breaks: [] }, fields: ["weeklyHours[0].endTime"] },
    { name: "end 25:00", patch: { weeklyHours: [wi(MON, "09:00", "25:00")], breaks: [] }, fields: ["weeklyHours[0].endTime"] },
    { name: "end before start", patch: { weeklyHours: [wi(MON, "12:00", "09:00")], breaks: [] }, fields: ["weeklyHours[0].endTime"] },
    { name: "end equals start", patch: { weeklyHours: [wi(MON, "09:00", "09:00")], breaks: [] }, fields: ["weeklyHours[0].endTime"] },
    {
      name: "second interval bad",
      patch: { weeklyHours: [wi(MON, "09:00", "12:00"), wi(TUE, "13:00", "1pm")] },
      fields: ["weeklyHours[1].endTime"],
    },
    {
      name: "overlapping intervals",
      patch: { weeklyHours: [wi(MON, "09:00", "12:00"), wi(MON, "11:00", "13:00")], breaks: [] },
      fields: ["weeklyHours[1]"],
    },
    {
      name: "overlap given out of order",
      patch: { weeklyHours: [wi(MON, "11:00", "13:00"), wi(MON, "09:00", "12:00")], breaks: [] },
      fields: ["weeklyHours[0]"],
    },
    {
      name: "intervals inside a long one",
      patch: { weeklyHours: [wi(MON, "08:00", "18:00"), wi(MON, "09:00", "10:00"), wi(MON, "11:00", "12:00")], breaks: [] },
      fields: ["weeklyHours[1]", "weeklyHours[2]"],
    },
    {
      name: "duplicate interval",
      patch: { weeklyHours: [wi(TUE, "09:00", "17:00"), wi(TUE, "09:00", "17:00")], breaks: [] },
      fields: ["weeklyHours[1]"],
    },
    { name: "too many intervals", patch: { weeklyHours: tooManyIntervals, breaks: [] }, fields: ["weeklyHours"] },
    {
      name: "overlapping breaks",
      patch: { breaks: [wi(MON, "10:00", "10:30"), wi(MON, "10:15", "10:45")] },
      fields: ["breaks[1]"],
    },
    { name: "break between intervals", patch: { breaks: [wi(MON, "12:00", "13:00")] }, fields: ["breaks[0]"] },
    { name: "break spanning two intervals", patch: { breaks: [wi(MON, "11:30", "13:30")] }, fields: ["breaks[0]"] },
    { name: "break past the end", patch: { breaks: [wi(MON, "16:30", "17:30")] }, fields: ["breaks[0]"] },
    { name: "break on a day off", patch: { breaks: [wi(WED, "10:00", "10:15")] }, fields: ["breaks[0]"] },
    { name: "break end before start", patch: { breaks: [wi(MON, "10:45", "10:30")] }, fields: ["breaks[0].endTime"] },
    { name: "break without a day", patch: { breaks: [wi(DayOfWeek.UNSPECIFIED, "10:30", "10:45")] }, fields: ["breaks[0].dayOfWeek"] },
    {
      name: "breaks are not judged against broken hours",
      patch: { weeklyHours: [wi(MON, "9", "12:00"), wi(MON, "13:00", "17:00")], breaks: [wi(MON, "10:30", "10:45")] },
      fields: ["weeklyHours[0].startTime"],
    },
    { name: "impossible date", patch: { exceptions: [ex("2026-02-30", "2026-03-01")] }, fields: ["exceptions[0].startDate"] },
    { name: "not a leap year", patch: { exceptions: [ex("2026-02-28", "2027-02-29")] }, fields: ["exceptions[0].endDate"] },
    { name: "no end date", patch: { exceptions: [ex("2026-05-01", "")] }, fields: ["exceptions[0].endDate"] },
    { name: "date in another format", patch: { exceptions: [ex("01.05.2026", "2026-05-01")] }, fields: ["exceptions[0].startDate"] },
    { name: "end date before start date", patch: { exceptions: [ex("2026-05-02", "2026-05-01")] }, fields: ["exceptions[0].endDate"] },
    {
      name: "501-character reason",
      patch: { exceptions: [ex("2026-05-01", "2026-05-01"), ex("2026-06-01", "2026-06-01", "r".repeat(501))] },
      fields: ["exceptions[1].reason"],
    },
    { name: "no slot duration", patch: { slotDuration: undefined }, fields: ["slotDuration"] },
    { name: "4-minute slots", patch: { slotDuration: dur(4 * MIN) }, fields: ["slotDuration"] },
    { name: "90-second slots", patch: { slotDuration: dur(90_000) }, fields: ["slotDuration"] },
    { name: "slots over 8 hours", patch: { slotDuration: dur(8 * HOUR + MIN) }, fields: ["slotDuration"] },
    { name: "negative buffer", patch: { buffer: dur(-MIN) }, fields: ["buffer"] },
    { name: "buffer over 2 hours", patch: { buffer: dur(2 * HOUR + MIN) }, fields: ["buffer"] },
    { name: "30-second buffer", patch: { buffer: dur(30_000) }, fields: ["buffer"] },
    {
      name: "several bad fields",
      patch: {
        providerId: "",
        weeklyHours: [wi(MON, "12:00", "09:00"), wi(TUE, "09:00", "12:00"), wi(TUE, "10:00", "11:00")],
        breaks: [],
        exceptions: [ex("2026-05-02", "2026-05-01")],
        slotDuration: undefined,
        buffer: dur(3 * HOUR),
      },
      fields: ["providerId", "weeklyHours[0].endTime", "weeklyHours[2]", "exceptions[0].endDate", "slotDuration", "buffer"],
    },
  ],
});

rpc({
  method: method.getAvailability,
  schema: GetAvailabilityRequestSchema,
  call: (req, c) => impl.getAvailability(req, c),
  valid: { providerId: "dr-ada" },
  bad: [
    { name: "no provider", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "bad provider", patch: { providerId: "dr ada" }, fields: ["providerId"] },
  ],
});

rpc({
  method: method.listAvailableSlots,
  schema: ListAvailableSlotsRequestSchema,
  call: (req, c) => impl.listAvailableSlots(req, c),
  valid: {
    providerId: "dr-ada",
    startTime: ts("2026-01-05T00:00:00Z"),
    endTime: ts("2026-01-12T00:00:00Z"),
    duration: dur(30 * MIN),
    resourceIds: ["room-3", "echo-1"],
  },
  alsoValid: [
    { name: "exactly 31 days", patch: { endTime: ts("2026-02-05T00:00:00Z") } },
    { name: "no duration", patch: { duration: undefined } },
    { name: "range to the millisecond", patch: { startTime: tsn("2026-01-05T00:00:30Z", 500_000_000), endTime: tsn("2026-01-06T00:00:00Z", 1_000_000) } },
    { name: "8-hour duration", patch: { duration: dur(8 * HOUR) } },
    { name: "no resources", patch: { resourceIds: [] } },
    { name: "10 resources", patch: { resourceIds: Array.from({ length: 10 }, (_, i) => `room-${i}`) } },
  ],
  bad: [
    { name: "no provider", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "no start", patch: { startTime: undefined }, fields: ["startTime"] },
    { name: "no end", patch: { endTime: undefined }, fields: ["endTime"] },
    { name: "start before 1970", patch: { startTime: timestampFromMs(-DAY) }, fields: ["startTime"] },
    { name: "start with microseconds", patch: { startTime: tsn("2026-01-05T00:00:00Z", 1000) }, fields: ["startTime"] },
    { name: "end with nanoseconds", patch: { endTime: tsn("2026-01-06T00:00:00Z", 1) }, fields: ["endTime"] },
    { name: "duration below a millisecond", patch: { duration: durn(0, 100) }, fields: ["duration"] },
    { name: "end equals start", patch: { endTime: ts("2026-01-05T00:00:00Z") }, fields: ["endTime"] },
    { name: "end before start", patch: { endTime: ts("2026-01-04T00:00:00Z") }, fields: ["endTime"] },
    { name: "31 days and a second", patch: { endTime: ts("2026-02-05T00:00:01Z") }, fields: ["endTime"] },
    { name: "zero duration", patch: { duration: dur(0) }, fields: ["duration"] },
    { name: "negative duration", patch: { duration: dur(-30 * MIN) }, fields: ["duration"] },
    { name: "90-second duration", patch: { duration: dur(90_000) }, fields: ["duration"] },
    { name: "duration over 8 hours", patch: { duration: dur(8 * HOUR + MIN) }, fields: ["duration"] },
    { name: "bad resource id", patch: { resourceIds: ["room-3", "room 4"] }, fields: ["resourceIds[1]"] },
    { name: "empty resource id", patch: { resourceIds: [""] }, fields: ["resourceIds[0]"] },
    { name: "duplicate resource", patch: { resourceIds: ["room-3", "echo-1", "room-3"] }, fields: ["resourceIds[2]"] },
    {
      name: "11 resources",
      patch: { resourceIds: Array.from({ length: 11 }, (_, i) => `room-${i}`) },
      fields: ["resourceIds"],
    },
    {
      name: "several bad fields",
      patch: { providerId: "", startTime: undefined, duration: dur(0), resourceIds: ["a", "a"] },
      fields: ["providerId", "startTime", "duration", "resourceIds[1]"],
    },
  ],
});

// ---- appointments -------------------------------------------------------------------------------

rpc({
  method: method.bookAppointment,
  schema: BookAppointmentRequestSchema,
  call: (req, c) => impl.bookAppointment(req, c),
  valid: {
    requestId: "req-0001",
    providerId: "dr-ada",
    patientId: "pat-42",
    startTime: ts("2026-01-05T09:00:00Z"),
    duration: dur(30 * MIN),
    resourceIds: ["room-3"],
    reason: "check-up",
  },
  alsoValid: [
    { name: "no duration, rooms or reason", patch: { duration: undefined, resourceIds: [], reason: "" } },
    { name: "8-hour duration", patch: { duration: dur(8 * HOUR) } },
    { name: "500-character reason", patch: { reason: "r".repeat(500) } },
    { name: "multi-line reason", patch: { reason: "rash\n\tsince Monday" } },
    { name: "UUID request id", patch: { requestId: "3f2b8c1e-9d4a-4b7e-a1c2-5e6f7a8b9c0d" } },
  ],
  bad: [
    {
      name: "empty request",
      patch: { requestId: "", providerId: "", patientId: "", startTime: undefined, duration: undefined, resourceIds: [], reason: "" },
      fields: ["requestId", "providerId", "patientId", "startTime"],
    },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "request id with a space", patch: { requestId: "req 1" }, fields: ["requestId"] },
    { name: "129-character request id", patch: { requestId: "r".repeat(129) }, fields: ["requestId"] },
    { name: "no provider", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "no patient", patch: { patientId: "" }, fields: ["patientId"] },
    { name: "bad patient", patch: { patientId: "Jane Doe" }, fields: ["patientId"] },
    { name: "no start", patch: { startTime: undefined }, fields: ["startTime"] },
    { name: "start with microseconds", patch: { startTime: tsn("2026-01-05T09:00:00Z", 1000) }, fields: ["startTime"] },
    { name: "start with nanoseconds", patch: { startTime: tsn("2026-01-05T09:00:00Z", 1) }, fields: ["startTime"] },
    { name: "start with half a second", patch: { startTime: tsn("2026-01-05T09:00:00Z", 500_000_000) }, fields: ["startTime"] },
    { name: "start with seconds", patch: { startTime: ts("2026-01-05T09:00:30Z") }, fields: ["startTime"] },
    { name: "zero duration", patch: { duration: dur(0) }, fields: ["duration"] },
    { name: "duration below a millisecond", patch: { duration: durn(0, 100) }, fields: ["duration"] },
    { name: "duration with nanoseconds", patch: { duration: durn(1800, 1) }, fields: ["duration"] },
    { name: "duration in seconds", patch: { duration: dur(10 * MIN + 30_000) }, fields: ["duration"] },
    { name: "9-hour duration", patch: { duration: dur(9 * HOUR) }, fields: ["duration"] },
    { name: "duplicate room", patch: { resourceIds: ["room-3", "room-3"] }, fields: ["resourceIds[1]"] },
    { name: "11 rooms", patch: { resourceIds: Array.from({ length: 11 }, (_, i) => `r${i}`) }, fields: ["resourceIds"] },
    { name: "501-character reason", patch: { reason: "r".repeat(501) }, fields: ["reason"] },
    { name: "reason with a bell", patch: { reason: "ding\u0007" }, fields: ["reason"] },
    {
      name: "several bad fields",
      patch: { requestId: "", patientId: "p/1", duration: dur(-MIN), reason: "r".repeat(600) },
      fields: ["requestId", "patientId", "duration", "reason"],
    },
  ],
});

rpc({
  method: method.cancelAppointment,
  schema: CancelAppointmentRequestSchema,
  call: (req, c) => impl.cancelAppointment(req, c),
  valid: { appointmentId: "apt-1", requestId: "req-1", reason: "feeling better" },
  alsoValid: [{ name: "no reason", patch: { reason: "" } }],
  bad: [
    { name: "empty request", patch: { appointmentId: "", requestId: "", reason: "" }, fields: ["appointmentId", "requestId"] },
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "bad appointment", patch: { appointmentId: "apt 1" }, fields: ["appointmentId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "501-character reason", patch: { reason: "r".repeat(501) }, fields: ["reason"] },
  ],
});

rpc({
  method: method.rescheduleAppointment,
  schema: RescheduleAppointmentRequestSchema,
  call: (req, c) => impl.rescheduleAppointment(req, c),
  valid: { appointmentId: "apt-1", requestId: "req-2", newStartTime: ts("2026-01-06T10:00:00Z") },
  bad: [
    { name: "no new start", patch: { newStartTime: undefined }, fields: ["newStartTime"] },
    { name: "new start before 1970", patch: { newStartTime: timestampFromMs(-1000) }, fields: ["newStartTime"] },
    { name: "new start with microseconds", patch: { newStartTime: tsn("2026-01-06T10:00:00Z", 1000) }, fields: ["newStartTime"] },
    { name: "new start with seconds", patch: { newStartTime: ts("2026-01-06T10:00:01Z") }, fields: ["newStartTime"] },
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    {
      name: "empty request",
      patch: { appointmentId: "", requestId: "", newStartTime: undefined },
      fields: ["appointmentId", "requestId", "newStartTime"],
    },
  ],
});

const weekly = (patch: { count?: number; until?: string; interval?: number; frequency?: RecurrenceFrequency } = {}) => ({ frequency: RecurrenceFrequency.WEEKLY, count: 4, until: "", interval: 0, ...patch }) as never;

rpc({
  method: method.bookSeries,
  schema: BookSeriesRequestSchema,
  call: (req, c) => impl.bookSeries(req, c),
  valid: { requestId: "req-s", visitTypeId: "vt-1", providerId: "dr-ada", patientId: "pat-1", firstStartTime: ts("2026-01-06T10:00:00Z"), recurrence: weekly() },
  alsoValid: [
    { name: "until instead of count", patch: { recurrence: weekly({ count: 0, until: "2026-03-01" }) } },
    { name: "daily every 52 days, 52 times", patch: { recurrence: weekly({ frequency: RecurrenceFrequency.DAILY, interval: 52, count: 52 }) } },
    { name: "rooms, reason and an override reason", patch: { resourceIds: ["room-1"], reason: "physio", overrideReason: "doctor's request" } },
  ],
  bad: [
    { name: "no recurrence", patch: { recurrence: undefined }, fields: ["recurrence"] },
    { name: "count 53", patch: { recurrence: weekly({ count: 53 }) }, fields: ["recurrence.count"] },
    { name: "count and until", patch: { recurrence: weekly({ until: "2026-03-01" }) }, fields: ["recurrence.until"] },
    { name: "neither count nor until", patch: { recurrence: weekly({ count: 0 }) }, fields: ["recurrence.count"] },
    { name: "no frequency", patch: { recurrence: weekly({ frequency: RecurrenceFrequency.UNSPECIFIED }) }, fields: ["recurrence.frequency"] },
    { name: "interval 53", patch: { recurrence: weekly({ interval: 53 }) }, fields: ["recurrence.interval"] },
    { name: "negative interval", patch: { recurrence: weekly({ interval: -1 }) }, fields: ["recurrence.interval"] },
    { name: "until not a date", patch: { recurrence: weekly({ count: 0, until: "2026-02-30" }) }, fields: ["recurrence.until"] },
    { name: "first start with seconds", patch: { firstStartTime: ts("2026-01-06T10:00:01Z") }, fields: ["firstStartTime"] },
    { name: "no first start", patch: { firstStartTime: undefined }, fields: ["firstStartTime"] },
    { name: "no visit type", patch: { visitTypeId: "" }, fields: ["visitTypeId"] },
    { name: "a NUL in the override reason", patch: { overrideReason: "a\u0000" }, fields: ["overrideReason"] },
    { name: "duplicate rooms", patch: { resourceIds: ["room-1", "room-1"] }, fields: ["resourceIds[1]"] },
    {
      name: "empty request",
      patch: { requestId: "", visitTypeId: "", providerId: "", patientId: "", firstStartTime: undefined, recurrence: undefined },
      fields: ["requestId", "visitTypeId", "providerId", "patientId", "firstStartTime", "recurrence"],
    },
  ],
});

rpc({
  method: method.holdSlot,
  schema: HoldSlotRequestSchema,
  call: (req, c) => impl.holdSlot(req, c),
  valid: { requestId: "req-h", visitTypeId: "vt-1", providerId: "dr-ada", patientId: "pat-1", startTime: ts("2026-01-06T10:00:00Z") },
  alsoValid: [{ name: "rooms named", patch: { resourceIds: ["room-1", "dev-us"] } }],
  bad: [
    { name: "start with seconds", patch: { startTime: ts("2026-01-06T10:00:01Z") }, fields: ["startTime"] },
    { name: "no start", patch: { startTime: undefined }, fields: ["startTime"] },
    { name: "NUL in the visit type", patch: { visitTypeId: "v\u0000" }, fields: ["visitTypeId"] },
    { name: "duplicate rooms", patch: { resourceIds: ["room-1", "room-1"] }, fields: ["resourceIds[1]"] },
    {
      name: "empty request",
      patch: { requestId: "", visitTypeId: "", providerId: "", patientId: "", startTime: undefined },
      fields: ["requestId", "visitTypeId", "providerId", "patientId", "startTime"],
    },
  ],
});

rpc({
  method: method.cancelSeries,
  schema: CancelSeriesRequestSchema,
  call: (req, c) => impl.cancelSeries(req, c),
  valid: { requestId: "req-c", seriesId: "s-1", fromAppointmentId: "apt-1", reason: "treatment finished" },
  bad: [
    { name: "no series", patch: { seriesId: "" }, fields: ["seriesId"] },
    { name: "bad from appointment", patch: { fromAppointmentId: "apt#1" }, fields: ["fromAppointmentId"] },
    { name: "reason too long", patch: { reason: "x".repeat(501) }, fields: ["reason"] },
    { name: "empty request", patch: { requestId: "", seriesId: "", fromAppointmentId: "" }, fields: ["requestId", "seriesId", "fromAppointmentId"] },
  ],
});

rpc({
  method: method.getAppointment,
  schema: GetAppointmentRequestSchema,
  call: (req, c) => impl.getAppointment(req, c),
  valid: { appointmentId: "apt-1" },
  bad: [
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "bad appointment", patch: { appointmentId: "apt#1" }, fields: ["appointmentId"] },
  ],
});

rpc({
  method: method.listAppointments,
  schema: ListAppointmentsRequestSchema,
  call: (req, c) => impl.listAppointments(req, c),
  valid: { providerId: "dr-ada" },
  alsoValid: [
    { name: "by patient", patch: { providerId: "", patientId: "pat-42" } },
    { name: "by both", patch: { patientId: "pat-42" } },
    { name: "by location", patch: { providerId: "", locationId: "loc-a" } },
    { name: "by room or device", patch: { providerId: "", resourceId: "room-1" } },
    { name: "in a range", patch: { startTime: ts("2026-01-05T00:00:00Z"), endTime: ts("2026-01-06T00:00:00Z") } },
    { name: "open-ended range", patch: { startTime: ts("2026-01-05T00:00:00Z") } },
    { name: "range to the millisecond", patch: { startTime: tsn("2026-01-05T00:00:00Z", 999_000_000) } },
    { name: "some states", patch: { statuses: [AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN], pageSize: 500 } },
    {
      name: "page token",
      patch: { pageToken: pageTokens.seal(APPOINTMENTS_PAGE, { start: new Date("2026-01-05T09:00:00Z"), id: "a-1" }, ["dr-ada", undefined, undefined, undefined, [], undefined, undefined]) },
    },
  ],
  bad: [
    { name: "start with microseconds", patch: { startTime: tsn("2026-01-05T00:00:00Z", 1000) }, fields: ["startTime"] },
    { name: "end with nanoseconds", patch: { endTime: tsn("2026-01-06T00:00:00Z", 1) }, fields: ["endTime"] },
    { name: "neither provider nor patient", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "bad provider", patch: { providerId: "dr ada" }, fields: ["providerId"] },
    { name: "bad patient", patch: { patientId: "pat 42" }, fields: ["patientId"] },
    { name: "bad location", patch: { locationId: "loc a" }, fields: ["locationId"] },
    { name: "bad room", patch: { providerId: "", resourceId: "room/1" }, fields: ["resourceId"] },
    {
      name: "end before start",
      patch: { startTime: ts("2026-01-06T00:00:00Z"), endTime: ts("2026-01-05T00:00:00Z") },
      fields: ["endTime"],
    },
    { name: "status unspecified", patch: { statuses: [AppointmentStatus.UNSPECIFIED] }, fields: ["statuses[0]"] },
    { name: "unknown status", patch: { statuses: [AppointmentStatus.BOOKED, 99 as AppointmentStatus] }, fields: ["statuses[1]"] },
    { name: "page size 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
    { name: "negative page size", patch: { pageSize: -5 }, fields: ["pageSize"] },
    { name: "malformed page token", patch: { pageToken: "{}" }, fields: ["pageToken"] },
    {
      name: "page token of another provider's list",
      patch: { pageToken: pageTokens.seal(APPOINTMENTS_PAGE, { start: new Date("2026-01-05T09:00:00Z"), id: "a-1" }, ["dr-bob", undefined, undefined, undefined, []]) },
      fields: ["pageToken"],
    },
    { name: "hand-written page token with a date past 9999", patch: { pageToken: "eyJzIjoiKzI3NTc2MC0wOS0xM1QwMDowMDowMC4wMDBaIiwiaSI6ImEifQ" }, fields: ["pageToken"] },
    {
      name: "several bad fields",
      patch: { providerId: "", statuses: [0 as AppointmentStatus], pageSize: 9999 },
      fields: ["providerId", "statuses[0]", "pageSize"],
    },
  ],
});

rpc({
  method: method.checkInAppointment,
  schema: CheckInAppointmentRequestSchema,
  call: (req, c) => impl.checkInAppointment(req, c),
  valid: { appointmentId: "apt-1", requestId: "req-3" },
  alsoValid: [{ name: "named queue", patch: { queueId: "radiology" } }],
  bad: [
    { name: "bad queue", patch: { queueId: "radiology queue" }, fields: ["queueId"] },
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "all bad", patch: { appointmentId: "", requestId: "", queueId: "q/1" }, fields: ["appointmentId", "requestId", "queueId"] },
  ],
});

rpc({
  method: method.completeAppointment,
  schema: CompleteAppointmentRequestSchema,
  call: (req, c) => impl.completeAppointment(req, c),
  valid: { appointmentId: "apt-1", requestId: "req-complete-1" },
  bad: [
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "empty request", patch: { appointmentId: "", requestId: "" }, fields: ["appointmentId", "requestId"] },
  ],
});

rpc({
  method: method.markNoShow,
  schema: MarkNoShowRequestSchema,
  call: (req, c) => impl.markNoShow(req, c),
  valid: { appointmentId: "apt-1", requestId: "req-4" },
  bad: [
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "empty request", patch: { appointmentId: "", requestId: "" }, fields: ["appointmentId", "requestId"] },
  ],
});

rpc({
  method: method.joinWaitlist,
  schema: JoinWaitlistRequestSchema,
  call: (req, c) => impl.joinWaitlist(req, c),
  valid: {
    requestId: "req-5",
    providerId: "dr-ada",
    patientId: "pat-42",
    windowStartTime: ts("2026-01-05T00:00:00Z"),
    windowEndTime: ts("2026-02-05T00:00:00Z"),
    duration: dur(30 * MIN),
  },
  alsoValid: [
    { name: "exactly 90 days", patch: { windowEndTime: ts("2026-04-05T00:00:00Z") } },
    { name: "window to the millisecond", patch: { windowStartTime: tsn("2026-01-05T00:00:00Z", 250_000_000) } },
    { name: "no duration", patch: { duration: undefined } },
  ],
  bad: [
    {
      name: "empty request",
      patch: { requestId: "", providerId: "", patientId: "", windowStartTime: undefined, windowEndTime: undefined, duration: undefined },
      fields: ["requestId", "providerId", "patientId", "windowStartTime", "windowEndTime"],
    },
    { name: "window end before start", patch: { windowEndTime: ts("2026-01-04T00:00:00Z") }, fields: ["windowEndTime"] },
    { name: "empty window", patch: { windowEndTime: ts("2026-01-05T00:00:00Z") }, fields: ["windowEndTime"] },
    { name: "window over 90 days", patch: { windowEndTime: ts("2026-04-05T00:01:00Z") }, fields: ["windowEndTime"] },
    { name: "no window start", patch: { windowStartTime: undefined }, fields: ["windowStartTime"] },
    { name: "window start with microseconds", patch: { windowStartTime: tsn("2026-01-05T00:00:00Z", 1000) }, fields: ["windowStartTime"] },
    { name: "window end with nanoseconds", patch: { windowEndTime: tsn("2026-02-05T00:00:00Z", 1) }, fields: ["windowEndTime"] },
    { name: "zero duration", patch: { duration: dur(0) }, fields: ["duration"] },
    { name: "9-hour duration", patch: { duration: dur(9 * HOUR) }, fields: ["duration"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
  ],
});

rpc({
  method: method.acceptOffer,
  schema: AcceptOfferRequestSchema,
  call: (req, c) => impl.acceptOffer(req, c),
  valid: { appointmentId: "apt-7", requestId: "req-6" },
  bad: [
    { name: "no appointment", patch: { appointmentId: "" }, fields: ["appointmentId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "empty request", patch: { appointmentId: "", requestId: "" }, fields: ["appointmentId", "requestId"] },
  ],
});

rpc({
  method: method.watchAppointments,
  schema: WatchAppointmentsRequestSchema,
  call: (req, c) => drain(impl.watchAppointments(req, c)),
  valid: { providerId: "dr-ada" },
  alsoValid: [
    { name: "a given day", patch: { date: "2026-01-05" } },
    { name: "resuming", patch: { date: "2026-01-05", afterSequence: 42n } },
    { name: "a location", patch: { providerId: "", locationId: "loc-a" } },
    { name: "a room or device", patch: { providerId: "", resourceId: "room-1", afterSequence: 7n } },
  ],
  bad: [
    { name: "no provider", patch: { providerId: "" }, fields: ["providerId"] },
    { name: "provider and location", patch: { locationId: "loc-a" }, fields: ["providerId"] },
    { name: "location and room", patch: { providerId: "", locationId: "loc-a", resourceId: "room-1" }, fields: ["locationId"] },
    { name: "bad location", patch: { providerId: "", locationId: "loc a" }, fields: ["locationId"] },
    { name: "bad room", patch: { providerId: "", resourceId: "room/1" }, fields: ["resourceId"] },
    { name: "month 13", patch: { date: "2026-13-01" }, fields: ["date"] },
    { name: "date in another format", patch: { date: "05/01/2026" }, fields: ["date"] },
    { name: "both", patch: { providerId: "", date: "tomorrow" }, fields: ["providerId", "date"] },
  ],
});

// ---- locations ----------------------------------------------------------------------------------

const closure = ex("2027-04-23", "2027-04-23", "Ulusal Egemenlik ve Çocuk Bayramı");
const loc = (init: MessageInitShape<typeof LocationSchema>): Location => create(LocationSchema, init);
const mask = (...paths: string[]): FieldMask => create(FieldMaskSchema, { paths });

rpc({
  method: method.createLocation,
  schema: CreateLocationRequestSchema,
  call: (req, c) => impl.createLocation(req, c),
  valid: { requestId: "req-loc-1", displayName: "Kadıköy Clinic", timeZone: "Europe/Istanbul", address: "Caferağa Mah. 1\nİstanbul", closures: [closure] },
  alsoValid: [
    { name: "client-chosen id", patch: { locationId: "loc-kadikoy" } },
    { name: "no address, no closures", patch: { address: "", closures: [] } },
    { name: "200 closures", patch: { closures: Array.from({ length: 200 }, () => closure) } },
    { name: "zone in another letter case", patch: { timeZone: "europe/istanbul" } },
  ],
  bad: [
    { name: "empty request", patch: { requestId: "", displayName: "", timeZone: "", address: "", closures: [] }, fields: ["requestId", "displayName", "timeZone"] },
    { name: "unknown zone", patch: { timeZone: "Mars/Olympus_Mons" }, fields: ["timeZone"] },
    { name: "id with a slash", patch: { locationId: "loc/1" }, fields: ["locationId"] },
    { name: "name with a control character", patch: { displayName: "Kadıköy\u0000" }, fields: ["displayName"] },
    { name: "501-character address", patch: { address: "a".repeat(501) }, fields: ["address"] },
    { name: "201 closures", patch: { closures: Array.from({ length: 201 }, () => closure) }, fields: ["closures"] },
    { name: "closure ending before it starts", patch: { closures: [ex("2027-04-23", "2027-04-22")] }, fields: ["closures[0].endDate"] },
    { name: "closure on no real date", patch: { closures: [ex("2027-02-29", "")] }, fields: ["closures[0].endDate", "closures[0].startDate"] },
  ],
});

// GetLocation and ListLocations: an id, a page.
const badLocationIds = [
  { name: "no id", patch: { locationId: "" }, fields: ["locationId"] },
  { name: "id with a space", patch: { locationId: "loc 1" }, fields: ["locationId"] },
];
rpc({ method: method.getLocation, schema: GetLocationRequestSchema, call: (req, c) => impl.getLocation(req, c), valid: { locationId: "loc-kadikoy" }, bad: badLocationIds });

const locationsPage = pageTokens.seal(LOCATIONS_PAGE, { name: "a", id: "b" });
rpc({ method: method.listLocations, schema: ListLocationsRequestSchema, call: (req, c) => impl.listLocations(req, c), valid: {}, alsoValid: [{ name: "page token", patch: { pageSize: 500, pageToken: locationsPage } }], bad: [
  { name: "page size 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
  { name: "page token of another RPC", patch: { pageToken: pageTokens.seal(PROVIDERS_PAGE, { name: "a", id: "b" }) }, fields: ["pageToken"] },
] });

rpc({
  method: method.updateLocation,
  schema: UpdateLocationRequestSchema,
  call: (req, c) => impl.updateLocation(req, c),
  valid: { requestId: "req-loc-2", location: loc({ locationId: "loc-kadikoy", address: "Moda Cd. 2" }), updateMask: mask("address") },
  alsoValid: [
    { name: "every field", patch: { location: loc({ locationId: "loc-kadikoy", displayName: "Moda", timeZone: "Europe/Istanbul", address: "", closures: [closure] }), updateMask: mask("display_name", "time_zone", "address", "closures") } },
    { name: "clearing the closures", patch: { location: loc({ locationId: "loc-kadikoy" }), updateMask: mask("closures") } },
  ],
  bad: [
    { name: "no mask", patch: { updateMask: undefined }, fields: ["updateMask"] },
    { name: "unknown path", patch: { updateMask: mask("address", "create_time") }, fields: ["updateMask.paths[1]"] },
    { name: "a path twice", patch: { updateMask: mask("address", "address") }, fields: ["updateMask.paths[1]"] },
    { name: "no location", patch: { location: undefined }, fields: ["location", "location.locationId"] },
    { name: "masked name blank", patch: { location: loc({ locationId: "loc-kadikoy", displayName: " " }), updateMask: mask("display_name") }, fields: ["location.displayName"] },
    { name: "masked zone empty", patch: { location: loc({ locationId: "loc-kadikoy" }), updateMask: mask("time_zone") }, fields: ["location.timeZone"] },
    { name: "unmasked zone malformed", patch: { location: loc({ locationId: "loc-kadikoy", address: "x", timeZone: "Nowhere" }) }, fields: ["location.timeZone"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
  ],
});

rpc({
  method: method.reassignPatient,
  schema: ReassignPatientRequestSchema,
  call: (req, c) => impl.reassignPatient(req, c),
  valid: { requestId: "req-reassign-1", fromPatientId: "pat-merged", toPatientId: "pat-survivor" },
  bad: [
    { name: "empty request", patch: { requestId: "", fromPatientId: "", toPatientId: "" }, fields: ["requestId", "fromPatientId", "toPatientId"] },
    { name: "malformed ids", patch: { fromPatientId: "pat merged", toPatientId: "pat/survivor" }, fields: ["fromPatientId", "toPatientId"] },
    { name: "the same record", patch: { toPatientId: "pat-merged" }, fields: ["toPatientId"] },
  ],
});

// The visit types' rows are in visit-types.validation.test.ts.
coversEveryRpc(["CreateVisitType", "GetVisitType", "ListVisitTypes", "UpdateVisitType"]);
rpc({
  method: method.searchSlots,
  schema: SearchSlotsRequestSchema,
  call: (req, c) => impl.searchSlots(req, c),
  valid: { locationId: "default", visitTypeId: "vt-echo", startTime: ts("2026-01-05T00:00:00Z"), endTime: ts("2026-01-12T00:00:00Z"), providerIds: ["dr-ada", "dr-bob"], patientId: "pat-1", pageSize: 500 },
  alsoValid: [
    { name: "exactly 31 days", patch: { endTime: ts("2026-02-05T00:00:00Z") } },
    { name: "no location (the visit type's), providers, patient or page size", patch: { locationId: "", providerIds: [], patientId: "", pageSize: 0 } },
    { name: "a page of 2000", patch: { pageSize: 2000 } },
  ],
  bad: [
    { name: "no visit type", patch: { visitTypeId: "" }, fields: ["visitTypeId"] },
    { name: "no range", patch: { startTime: undefined, endTime: undefined }, fields: ["startTime", "endTime"] },
    { name: "31 days and a second", patch: { endTime: ts("2026-02-05T00:00:01Z") }, fields: ["endTime"] },
    { name: "end before start", patch: { endTime: ts("2026-01-04T00:00:00Z") }, fields: ["endTime"] },
    { name: "a bad location id", patch: { locationId: "main clinic" }, fields: ["locationId"] },
    { name: "a provider twice, one empty", patch: { providerIds: ["dr-ada", "dr-ada", ""] }, fields: ["providerIds[1]", "providerIds[2]"] },
    { name: "101 providers", patch: { providerIds: Array.from({ length: 101 }, (_, i) => `p-${i}`) }, fields: ["providerIds"] },
    { name: "a bad patient id", patch: { patientId: "pat/1" }, fields: ["patientId"] },
    { name: "a page of 2001", patch: { pageSize: 2001 }, fields: ["pageSize"] },
    { name: "a negative page size", patch: { pageSize: -1 }, fields: ["pageSize"] },
    { name: "a page token that is not one", patch: { pageToken: "not a token!" }, fields: ["pageToken"] },
  ],
});


// ---- what the validators hand to the implementation ---------------------------------------------

t.test("validateSetAvailability returns minutes and milliseconds", async (t) => {
  const parsed = validateSetAvailability(
    create(SetAvailabilityRequestSchema, {
      providerId: "dr-ada",
      weeklyHours: [wi(TUE, "09:00", "24:00"), wi(MON, "13:00", "17:00"), wi(MON, "09:00", "12:00")],
      breaks: [wi(MON, "10:30", "10:45")],
      exceptions: [ex("2026-12-24", "2026-12-26", " holidays ")],
      slotDuration: dur(20 * MIN),
    }),
  );
  t.strictSame(parsed, {
    providerId: "dr-ada",
    weeklyHours: [
      { dayOfWeek: MON, startMinute: 9 * 60, endMinute: 12 * 60 },
      { dayOfWeek: MON, startMinute: 13 * 60, endMinute: 17 * 60 },
      { dayOfWeek: TUE, startMinute: 9 * 60, endMinute: 24 * 60 },
    ],
    breaks: [{ dayOfWeek: MON, startMinute: 10 * 60 + 30, endMinute: 10 * 60 + 45 }],
    exceptions: [{ startDate: "2026-12-24", endDate: "2026-12-26", reason: "holidays" }],
    slotMs: 20 * MIN,
    bufferMs: 0,
    namedLocations: [],
  });
});

t.test("validateListAvailableSlots returns the range as dates", async (t) => {
  const parsed = validateListAvailableSlots(
    create(ListAvailableSlotsRequestSchema, {
      providerId: "dr-ada",
      startTime: ts("2026-01-05T00:00:00Z"),
      endTime: ts("2026-01-06T00:00:00Z"),
      resourceIds: ["room-3"],
    }),
  );
  t.strictSame(parsed, {
    providerId: "dr-ada",
    start: new Date("2026-01-05T00:00:00Z"),
    end: new Date("2026-01-06T00:00:00Z"),
    durationMs: undefined,
    resourceIds: ["room-3"],
  });
});

t.test("validateBookAppointment returns the start and the duration", async (t) => {
  const parsed = validateBookAppointment(
    create(BookAppointmentRequestSchema, {
      requestId: "req-1",
      providerId: "dr-ada",
      patientId: "pat-42",
      startTime: ts("2026-01-05T09:00:00Z"),
      duration: dur(45 * MIN),
    }),
  );
  t.equal(parsed.start.toISOString(), "2026-01-05T09:00:00.000Z");
  t.equal(parsed.durationMs, 45 * MIN);
  t.strictSame(parsed.resourceIds, []);
});

t.test("list validators apply defaults", async (t) => {
  t.strictSame(validateListProviders(create(ListProvidersRequestSchema, {})), { pageSize: 50, pageToken: "", locationId: undefined });
  t.equal(validateListResources(create(ListResourcesRequestSchema, {})).kind, undefined);
  const appointments = validateListAppointments(
    create(ListAppointmentsRequestSchema, { patientId: "pat-42", statuses: [AppointmentStatus.BOOKED, AppointmentStatus.BOOKED] }),
  );
  t.equal(appointments.providerId, undefined);
  t.strictSame(appointments.statuses, [AppointmentStatus.BOOKED]);
  t.equal(appointments.pageSize, 50);
});

t.test("ListAppointments without provider or patient says that one of them is needed", async (t) => {
  const err = await thrownBy(() =>
    impl.listAppointments(create(ListAppointmentsRequestSchema, {}), ctx(method.listAppointments)),
  );
  if (!(err instanceof InvalidArgumentError)) return void t.fail(`expected InvalidArgumentError, got ${shown(err)}`);
  t.equal(err.violations.length, 1);
  t.match(err.violations[0]?.description, /providerId, patientId, locationId or resourceId/);
});

t.test("an overlap names the interval it overlaps", async (t) => {
  const err = await thrownBy(async () =>
    validateSetAvailability(
      create(SetAvailabilityRequestSchema, {
        providerId: "dr-ada",
        weeklyHours: [wi(MON, "09:00", "12:00"), wi(MON, "11:00", "13:00")],
        slotDuration: dur(15 * MIN),
      }),
    ),
  );
  if (!(err instanceof InvalidArgumentError)) return void t.fail(`expected InvalidArgumentError, got ${shown(err)}`);
  t.match(err.violations[0]?.description, /weeklyHours\[0\]/);
});

t.test("a time zone is stored under its canonical name, whatever its letter case", async (t) => {
  const zone = (timeZone: string) => validateCreateProvider(create(CreateProviderRequestSchema, { displayName: "Dr. Ada", timeZone })).timeZone;
  t.equal(zone("europe/ISTANBUL"), "Europe/Istanbul");
  t.equal(zone("Europe/Istanbul"), "Europe/Istanbul");
  t.equal(zone("utc"), "UTC");
  t.equal(zone("Etc/UTC"), "UTC");
  t.equal(zone("us/eastern"), "America/New_York");
  t.equal(zone("EST5EDT"), "America/New_York");
});

t.test("SetAvailability says what to change when hours would offer no slot", async (t) => {
  const err = await thrownBy(async () =>
    validateSetAvailability(
      create(SetAvailabilityRequestSchema, {
        providerId: "dr-ada",
        weeklyHours: [wi(MON, "09:00", "09:20"), wi(TUE, "09:00", "10:00")],
        breaks: [wi(TUE, "09:15", "09:45")],
        slotDuration: dur(30 * MIN),
      }),
    ),
  );
  if (!(err instanceof InvalidArgumentError)) return void t.fail(`expected InvalidArgumentError, got ${shown(err)}`);
  t.same(err.violations.map((v) => [v.field, v.reason]), [["weeklyHours[0]", "SHORTER_THAN_SLOT"], ["weeklyHours[1]", "NO_SLOT_LEFT"]]);
  t.equal(err.violations[0].description, "Monday 09:00-09:20 is 20 minutes long, shorter than one slot (30 minutes), so it would offer no appointment: make it at least 30 minutes long, or shorten slotDuration");
  t.match(err.violations[1].description, /Tuesday 09:00-10:00 .*breaks\[0\] \(09:15-09:45\)/);
});

t.test("an appointment start below the minute is refused, not rounded", async (t) => {
  for (const [startTime, got] of [
    [tsn("2026-12-06T11:00:00Z", 1000), '"2026-12-06T11:00:00.000001Z"'],
    [tsn("2026-12-06T10:00:00Z", 1), '"2026-12-06T10:00:00.000000001Z"'],
    [tsn("2026-12-06T11:00:00Z", 500_000_000), '"2026-12-06T11:00:00.5Z"'],
  ] as const) {
    const err = await thrownBy(async () => validateBookAppointment(create(BookAppointmentRequestSchema, { requestId: "r", providerId: "p", patientId: "q", startTime })));
    if (!(err instanceof InvalidArgumentError)) return void t.fail(`expected InvalidArgumentError, got ${shown(err)}`);
    t.same(err.violations.map((v) => [v.field, v.reason]), [["startTime", "NOT_WHOLE_MINUTE"]]);
    t.equal(err.violations[0].description, `must be on a whole minute, without seconds (got ${got}), e.g. "2026-01-05T09:15:00Z"`);
  }
});
