// The class alone, for the visit type RPCs and the visit type fields of BookAppointment and
// RescheduleAppointment: malformed requests answer INVALID_ARGUMENT naming exactly the bad fields,
// each with a reason of its own; well-formed ones pass validation and reach the database, which here
// is a stand-in that throws NoDatabaseError on first use.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, FieldMaskSchema, timestampFromDate, type Duration, type FieldMask } from "@bufbuild/protobuf/wkt";
import {
  BookAppointmentRequestSchema,
  CreateVisitTypeRequestSchema,
  GetVisitTypeRequestSchema,
  ListVisitTypesRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
  UpdateVisitTypeRequestSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { PageTokens } from "../../services/runtime/page-token.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { validationTable } from "../helpers/validation-table.js";

const MIN = 60_000;
const HOUR = 60 * MIN;

/** NoDatabaseError marks a request that passed validation and went on to the database. */
class NoDatabaseError extends Error {}
const noDatabase = new Proxy({}, { get: () => { throw new NoDatabaseError("validation passed; no database in this test"); } });
const impl = new SchedulingServiceImpl({ db: noDatabase as never, clock: createFakeClock(), pageTokens: new PageTokens("visit-types-validation-test-secret") }, { offerSweepIntervalMs: 0 });
t.teardown(() => impl.close());
const method = SchedulingService.method;
const dur = (ms: number): Duration => durationFromMs(ms);
const mask = (paths: string[]): FieldMask => create(FieldMaskSchema, { paths });
const { rpc } = validationTable(t, SchedulingService, (err) => err instanceof NoDatabaseError, { ownReasons: true });

const visitType = {
  visitTypeId: "vt-echo",
  locationId: "loc-1",
  displayName: "Echo",
  duration: dur(45 * MIN),
  bufferBefore: dur(10 * MIN),
  bufferAfter: dur(0),
  providerIds: ["dr-ada", "dr-grace"],
  requiredCapabilities: ["ultrasound"],
  patientBookable: true,
  rules: { minNotice: dur(HOUR), horizon: dur(30 * 24 * HOUR), patientCancelCutoff: dur(24 * HOUR), maxPerPatientPerDay: 1 },
  color: "#3366cc",
};
const vt = (patch: Record<string, unknown>) => ({ ...visitType, ...patch }) as never;

rpc({
  method: method.createVisitType,
  schema: CreateVisitTypeRequestSchema,
  call: (req, c) => impl.createVisitType(req, c),
  valid: { requestId: "req-1", visitType: vt({}) },
  alsoValid: [
    { name: "server-chosen id, default location, no rules or colour", patch: { visitType: vt({ visitTypeId: "", locationId: "", rules: undefined, color: "" }) } },
    { name: "5 minutes, 8 hours", patch: { visitType: vt({ duration: dur(5 * MIN) }) } },
    { name: "8 hours, 2-hour buffers", patch: { visitType: vt({ duration: dur(8 * HOUR), bufferBefore: dur(2 * HOUR), bufferAfter: dur(2 * HOUR) }) } },
    { name: "a capability twice", patch: { visitType: vt({ requiredCapabilities: ["ultrasound", "ultrasound"] }) } },
    { name: "horizon of 365 days", patch: { visitType: vt({ rules: { horizon: dur(365 * 24 * HOUR) } }) } },
  ],
  bad: [
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "no visit type", patch: { visitType: undefined }, fields: ["visitType"] },
    { name: "blank name", patch: { visitType: vt({ displayName: " " }) }, fields: ["visitType.displayName"] },
    { name: "4 minutes", patch: { visitType: vt({ duration: dur(4 * MIN) }) }, fields: ["visitType.duration"] },
    { name: "no duration", patch: { visitType: vt({ duration: undefined }) }, fields: ["visitType.duration"] },
    { name: "90 seconds before", patch: { visitType: vt({ bufferBefore: dur(90_000) }) }, fields: ["visitType.bufferBefore"] },
    { name: "3 hours after", patch: { visitType: vt({ bufferAfter: dur(3 * HOUR) }) }, fields: ["visitType.bufferAfter"] },
    { name: "no provider", patch: { visitType: vt({ providerIds: [] }) }, fields: ["visitType.providerIds"] },
    { name: "a provider twice", patch: { visitType: vt({ providerIds: ["dr-ada", "dr-ada"] }) }, fields: ["visitType.providerIds[1]"] },
    { name: "upper-case capability", patch: { visitType: vt({ requiredCapabilities: ["Ultrasound"] }) }, fields: ["visitType.requiredCapabilities[0]"] },
    { name: "horizon past SCHEDULING_BOOKING_HORIZON", patch: { visitType: vt({ rules: { horizon: dur(366 * 24 * HOUR) } }) }, fields: ["visitType.rules.horizon"] },
    { name: "horizon within the notice", patch: { visitType: vt({ rules: { minNotice: dur(2 * HOUR), horizon: dur(HOUR) } }) }, fields: ["visitType.rules.horizon"] },
    { name: "negative notice", patch: { visitType: vt({ rules: { minNotice: dur(-MIN) } }) }, fields: ["visitType.rules.minNotice"] },
    { name: "101 a day", patch: { visitType: vt({ rules: { maxPerPatientPerDay: 101 } }) }, fields: ["visitType.rules.maxPerPatientPerDay"] },
    { name: "colour by name", patch: { visitType: vt({ color: "blue" }) }, fields: ["visitType.color"] },
    { name: "location with a slash", patch: { visitType: vt({ locationId: "a/b" }) }, fields: ["visitType.locationId"] },
    { name: "NUL in the colour", patch: { visitType: vt({ color: "#3366cc\u0000" }) }, fields: ["visitType.color"] },
  ],
});

rpc({
  method: method.getVisitType,
  schema: GetVisitTypeRequestSchema,
  call: (req, c) => impl.getVisitType(req, c),
  valid: { visitTypeId: "vt-echo" },
  bad: [
    { name: "no id", patch: { visitTypeId: "" }, fields: ["visitTypeId"] },
    { name: "NUL", patch: { visitTypeId: "vt\u0000" }, fields: ["visitTypeId"] },
  ],
});

rpc({
  method: method.listVisitTypes,
  schema: ListVisitTypesRequestSchema,
  call: (req, c) => impl.listVisitTypes(req, c),
  valid: { locationId: "loc-1", providerId: "dr-ada", pageSize: 20 },
  alsoValid: [{ name: "no filter", patch: { locationId: "", providerId: "" } }],
  bad: [
    { name: "bad location", patch: { locationId: "a b" }, fields: ["locationId"] },
    { name: "bad provider", patch: { providerId: "a\u0000" }, fields: ["providerId"] },
    { name: "page of 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
    { name: "forged token", patch: { pageToken: "bm90LWEtdG9rZW4" }, fields: ["pageToken"] },
  ],
});

rpc({
  method: method.updateVisitType,
  schema: UpdateVisitTypeRequestSchema,
  call: (req, c) => impl.updateVisitType(req, c),
  valid: { requestId: "req-2", visitType: vt({}), updateMask: mask(["display_name", "rules"]) },
  alsoValid: [
    { name: "only the colour, other fields empty", patch: { visitType: vt({ displayName: "", duration: undefined, providerIds: [], color: "#000000" }), updateMask: mask(["color"]) } },
    { name: "one rule", patch: { updateMask: mask(["rules.max_per_patient_per_day"]) } },
  ],
  bad: [
    { name: "no mask", patch: { updateMask: undefined }, fields: ["updateMask"] },
    { name: "unknown path", patch: { updateMask: mask(["displayName"]) }, fields: ["updateMask.paths[0]"] },
    { name: "location is not changed here", patch: { updateMask: mask(["location_id"]) }, fields: ["updateMask.paths[0]"] },
    { name: "no id", patch: { visitType: vt({ visitTypeId: "" }) }, fields: ["visitType.visitTypeId"] },
    { name: "masked field bad", patch: { visitType: vt({ duration: dur(9 * HOUR) }), updateMask: mask(["duration"]) }, fields: ["visitType.duration"] },
    { name: "NUL outside the mask", patch: { visitType: vt({ displayName: "Echo\u0000" }), updateMask: mask(["color"]) }, fields: ["visitType.displayName"] },
    { name: "NUL in a provider outside the mask", patch: { visitType: vt({ providerIds: ["dr\u0000"] }), updateMask: mask(["color"]) }, fields: ["visitType.providerIds[0]"] },
  ],
});

rpc({
  method: method.bookAppointment,
  schema: BookAppointmentRequestSchema,
  call: (req, c) => impl.bookAppointment(req, c),
  valid: { requestId: "req-3", providerId: "dr-ada", patientId: "pat-42", startTime: timestampFromDate(new Date("2026-01-05T09:00:00Z")), visitTypeId: "vt-echo", overrideReason: "urgent\nsee notes" },
  alsoValid: [{ name: "a hold", patch: { holdId: "h-1", overrideReason: "" } }],
  bad: [
    { name: "a duration with a visit type", patch: { duration: dur(30 * MIN) }, fields: ["duration"] },
    { name: "bad visit type", patch: { visitTypeId: "vt echo" }, fields: ["visitTypeId"] },
    { name: "NUL in the hold", patch: { holdId: "h\u0000", overrideReason: "" }, fields: ["holdId"] },
    { name: "NUL in the override reason", patch: { overrideReason: "x\u0000" }, fields: ["overrideReason"] },
    { name: "501-character override reason", patch: { overrideReason: "r".repeat(501) }, fields: ["overrideReason"] },
  ],
});

rpc({
  method: method.rescheduleAppointment,
  schema: RescheduleAppointmentRequestSchema,
  call: (req, c) => impl.rescheduleAppointment(req, c),
  valid: { appointmentId: "apt-1", requestId: "req-4", newStartTime: timestampFromDate(new Date("2026-01-06T10:00:00Z")), overrideReason: "patient is here" },
  bad: [{ name: "NUL in the override reason", patch: { overrideReason: "\u0000" }, fields: ["overrideReason"] }],
});
