// Row-to-message mapping for providers, resources, availability and appointments.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AppointmentStatus,
  ResourceKind,
  type AppointmentSchema,
  type AvailabilitySchema,
  type DayOfWeek,
  type ProviderSchema,
  type ResourceSchema,
  type WaitlistEntrySchema,
} from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type { AppointmentRow, AppointmentStatusName } from "../db/appointment.table.js";
import type { AvailabilityRow } from "../db/availability.table.js";
import type { ProviderRow } from "../db/provider.table.js";
import type { ResourceRow } from "../db/resource.table.js";
import type { ReasonVault } from "../reason-vault.js";
import type { WaitlistRow } from "../db/waitlist.table.js";
import type { Schedule } from "../slots.js";
import type { DateRange, MinuteInterval } from "../availability.validation.js";

const STATUS_NAMES: AppointmentStatusName[] = ["PROPOSED", "BOOKED", "CHECKED_IN", "FULFILLED", "CANCELLED", "NOSHOW"];

/** statusName maps the proto enum to the stored name. */
export function statusName(s: AppointmentStatus): AppointmentStatusName {
  return STATUS_NAMES[s - 1];
}

/** statusValue maps the stored name to the proto enum. */
export function statusValue(s: AppointmentStatusName): AppointmentStatus {
  return (STATUS_NAMES.indexOf(s) + 1) as AppointmentStatus;
}

/** kindName maps the proto ResourceKind to the stored name. */
export function kindName(k: ResourceKind): ResourceRow["kind"] {
  return k === ResourceKind.DEVICE ? "DEVICE" : "ROOM";
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** toProvider maps a provider row. */
export function toProvider(r: ProviderRow): MessageInitShape<typeof ProviderSchema> {
  return { providerId: r.provider_id, displayName: r.display_name, timeZone: r.time_zone, specialty: r.specialty, createTime: timestampFromDate(r.created_at), locationId: r.location_id };
}

/** toResource maps a resource row. */
export function toResource(r: ResourceRow): MessageInitShape<typeof ResourceSchema> {
  return {
    resourceId: r.resource_id,
    displayName: r.display_name,
    kind: r.kind === "DEVICE" ? ResourceKind.DEVICE : ResourceKind.ROOM,
    createTime: timestampFromDate(r.created_at),
    locationId: r.location_id,
    capabilities: r.capabilities,
  };
}

/** toSchedule turns a provider, its availability row and the locations of its weekly hours (their zones and closures) into the slot engine's schedule. */
export function toSchedule(provider: ProviderRow, a: AvailabilityRow, locations: Schedule["locations"] = {}): Schedule {
  return {
    timeZone: provider.time_zone,
    locationId: provider.location_id,
    locations,
    weeklyHours: a.weekly_hours as MinuteInterval[],
    breaks: a.breaks as MinuteInterval[],
    exceptions: a.exceptions as DateRange[],
    slotMs: a.slot_minutes * 60_000,
    bufferMs: a.buffer_minutes * 60_000,
  };
}

/** toAvailability maps an availability row (or none: an empty pattern) of a provider. */
export function toAvailability(provider: ProviderRow, a: AvailabilityRow | undefined): MessageInitShape<typeof AvailabilitySchema> {
  if (!a) return { providerId: provider.provider_id, timeZone: provider.time_zone };
  const interval = (w: MinuteInterval) => ({ dayOfWeek: w.dayOfWeek as DayOfWeek, startTime: hhmm(w.startMinute), endTime: hhmm(w.endMinute), locationId: w.locationId ?? "" });
  return {
    providerId: provider.provider_id,
    weeklyHours: (a.weekly_hours as MinuteInterval[]).map(interval),
    breaks: (a.breaks as MinuteInterval[]).map(interval),
    exceptions: (a.exceptions as DateRange[]).map((e) => ({ startDate: e.startDate, endDate: e.endDate, reason: e.reason })),
    slotDuration: durationFromMs(a.slot_minutes * 60_000),
    buffer: durationFromMs(a.buffer_minutes * 60_000),
    timeZone: provider.time_zone,
    updateTime: timestampFromDate(a.updated_at),
  };
}

/** toAppointment maps an appointment row, its sealed reasons opened by `reasons` (REASON_UNREADABLE when they cannot be). */
export function toAppointment(r: AppointmentRow, reasons: ReasonVault): MessageInitShape<typeof AppointmentSchema> {
  return {
    appointmentId: r.appointment_id,
    providerId: r.provider_id,
    patientId: r.patient_id,
    startTime: timestampFromDate(r.start_at),
    endTime: timestampFromDate(r.end_at),
    status: statusValue(r.status),
    resourceIds: r.resource_ids,
    fencingToken: BigInt(r.fencing_token),
    reason: reasons.reasonOf(r),
    cancelReason: reasons.cancelReasonOf(r),
    offerExpireTime: r.status === "PROPOSED" && r.offer_expires_at ? timestampFromDate(r.offer_expires_at) : undefined,
    ticketId: r.ticket_id ?? "",
    createTime: timestampFromDate(r.created_at),
    updateTime: timestampFromDate(r.updated_at),
    rescheduledFromId: r.rescheduled_from_id ?? "",
    visitTypeId: r.visit_type_id ?? "",
    seriesId: r.series_id ?? "",
    locationId: r.location_id,
    seriesIndex: r.series_index ?? 0,
    holdId: r.hold_id ?? "",
  };
}

/** toWaitlistEntry maps a waitlist row. */
export function toWaitlistEntry(r: WaitlistRow): MessageInitShape<typeof WaitlistEntrySchema> {
  return {
    waitlistEntryId: r.entry_id,
    providerId: r.provider_id,
    patientId: r.patient_id,
    windowStartTime: timestampFromDate(r.window_start),
    windowEndTime: timestampFromDate(r.window_end),
    duration: r.duration_minutes ? durationFromMs(r.duration_minutes * 60_000) : undefined,
    createTime: timestampFromDate(r.created_at),
    offeredAppointmentId: r.offered_appointment_id ?? "",
  };
}
