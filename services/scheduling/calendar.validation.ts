// What the calendar RPCs accept (ListAppointments, WatchAppointments): whose appointments (a
// provider's, a patient's, a location's or a room's or device's), over which time, from which page
// or sequence. Each validate* returns the values as the domain uses them, or throws INVALID_ARGUMENT
// with every field violation at once.
import type { ListAppointmentsRequest, WatchAppointmentsRequest } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { AppointmentStatusSchema, type AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { validate } from "../runtime/request/validation.js";
import { enumList, page, range, type ValidPage } from "./scheduling.validation.js";

/** ValidListAppointments is a validated ListAppointmentsRequest. */
export interface ValidListAppointments extends ValidPage {
  /** providerId filters by provider, undefined for any. */
  providerId: string | undefined;
  /** patientId filters by patient, undefined for any. */
  patientId: string | undefined;
  /** locationId filters by location, undefined for any. */
  locationId: string | undefined;
  /** resourceId filters by a room or device the appointment takes, undefined for any. */
  resourceId: string | undefined;
  /** start: only appointments ending after it, when set. */
  start: Date | undefined;
  /** end: only appointments starting before it, when set. */
  end: Date | undefined;
  /** statuses wanted, distinct; empty means all. */
  statuses: AppointmentStatus[];
}

/** ValidWatchAppointments is a validated WatchAppointmentsRequest: exactly one of providerId, locationId, resourceId. */
export type ValidWatchAppointments = {
  /** date is the local day "YYYY-MM-DD", undefined for today (in the zone of the provider or location). */
  date: string | undefined;
  /** afterSequence is the resume point; 0 starts with a snapshot. */
  afterSequence: bigint;
} & ({ providerId: string } | { locationId: string } | { resourceId: string });

/** optional is a filter's value, undefined when empty. */
function optional(value: string): string | undefined {
  return value === "" ? undefined : value;
}

/** validateListAppointments checks a ListAppointmentsRequest: a provider, a patient, a location or a room or device is required. */
export function validateListAppointments(req: ListAppointmentsRequest): ValidListAppointments {
  return validate((v) => {
    if (req.providerId === "" && req.patientId === "" && req.locationId === "" && req.resourceId === "") {
      v.add("providerId", "providerId, patientId, locationId or resourceId is required", "REQUIRED");
    }
    v.id("providerId", req.providerId, { optional: true });
    v.id("patientId", req.patientId, { optional: true });
    v.id("locationId", req.locationId, { optional: true });
    v.id("resourceId", req.resourceId, { optional: true });
    const { start, end } = range(v, "startTime", req.startTime, "endTime", req.endTime, { required: false });
    const statuses = enumList(v, "statuses", req.statuses, AppointmentStatusSchema);
    return {
      providerId: optional(req.providerId),
      patientId: optional(req.patientId),
      locationId: optional(req.locationId),
      resourceId: optional(req.resourceId),
      start,
      end,
      statuses,
      ...page(v, req.pageSize, req.pageToken),
    };
  });
}

/** validateWatchAppointments checks a WatchAppointmentsRequest: exactly one of providerId, locationId, resourceId; date undefined means today. */
export function validateWatchAppointments(req: WatchAppointmentsRequest): ValidWatchAppointments {
  return validate((v) => {
    const named = [req.providerId, req.locationId, req.resourceId].filter((id) => id !== "").length;
    if (named === 0) v.add("providerId", "providerId, locationId or resourceId is required", "REQUIRED");
    if (named > 1) v.add(req.providerId === "" ? "locationId" : "providerId", "set only one of providerId, locationId and resourceId: they are alternatives", "ONEOF_CONFLICT");
    v.id("providerId", req.providerId, { optional: true });
    v.id("locationId", req.locationId, { optional: true });
    v.id("resourceId", req.resourceId, { optional: true });
    v.localDate("date", req.date, { optional: true });
    const common = { date: optional(req.date), afterSequence: req.afterSequence };
    if (req.locationId !== "" && req.providerId === "") return { ...common, locationId: req.locationId };
    if (req.resourceId !== "" && req.providerId === "") return { ...common, resourceId: req.resourceId };
    return { ...common, providerId: req.providerId };
  });
}
