// What the scheduling RPCs accept, checked before anything is read: ids, times and ranges, durations,
// page sizes and tokens, free text (SetAvailability's weekly pattern is availability.validation.ts).
// Each validate* returns the request's values as the domain uses them, or throws INVALID_ARGUMENT
// with every field violation at once.
import type { DescEnum } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type {
  AcceptOfferRequest,
  BookAppointmentRequest,
  CancelAppointmentRequest,
  CheckInAppointmentRequest,
  CreateProviderRequest,
  CreateResourceRequest,
  GetAppointmentRequest,
  GetProviderRequest,
  JoinWaitlistRequest,
  ListAvailableSlotsRequest,
  ListProvidersRequest,
  ListResourcesRequest,
  MarkNoShowRequest,
  CompleteAppointmentRequest,
  RescheduleAppointmentRequest,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import {
  ResourceKindSchema,
  type ResourceKind,
} from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { validate, type DurationRule, type RequestValidator } from "../runtime/request/validation.js";
import { overrideReason, visitTypeBooking, type ValidVisitTypeBooking } from "./visit-types.validation.js";
import { validateCapabilities } from "./capabilities.validation.js";
import { DEFAULT_LOCATION_ID } from "./repositories/location.repository.js";

/** MINUTE_MS is a minute in ms. */
export const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** MAX_APPOINTMENT_MS is the longest appointment (and slot) there is. */
export const MAX_APPOINTMENT_MS = 8 * HOUR_MS;
/** MAX_SLOT_RANGE_MS is how far ListAvailableSlots and SearchSlots look at most. */
export const MAX_SLOT_RANGE_MS = 31 * DAY_MS;
/** A waitlist window spans at most this long. */
const MAX_WAITLIST_WINDOW_MS = 90 * DAY_MS;
/** Rooms and devices booked together with the provider, at most. */
const MAX_RESOURCE_IDS = 10;
/** Capabilities of one room or device, at most. */
const MAX_RESOURCE_CAPABILITIES = 20;
/** MAX_REASON is the most characters of a free-text reason. */
export const MAX_REASON = 500;
/** Page size when the request leaves it 0. */
const DEFAULT_PAGE_SIZE = 50;

/** APPOINTMENT_DURATION is an appointment length: more than 0, whole minutes, at most 8 hours; one slot when unset. */
export const APPOINTMENT_DURATION: DurationRule = { minMs: 0, minExclusive: true, maxMs: MAX_APPOINTMENT_MS, multipleOfMs: MINUTE_MS };
/** ValidCreateProvider is a validated CreateProviderRequest. */
export interface ValidCreateProvider {
  /** displayName, trimmed, 1-200 characters. */
  displayName: string;
  /** timeZone is a known IANA zone, in its canonical spelling. */
  timeZone: string;
  /** specialty, trimmed, possibly empty. */
  specialty: string;
  /** providerId is the client-chosen id, undefined when the server is to generate one. */
  providerId: string | undefined;
  /** locationId is the provider's location, `default` when the request left it empty. */
  locationId: string;
}

/** ValidPage is a validated page request. */
export interface ValidPage {
  /** pageSize is the number of items wanted, the default applied when the request said 0. */
  pageSize: number;
  /** pageToken from a previous response, "" for the first page. */
  pageToken: string;
}

/** ValidListAvailableSlots is a validated ListAvailableSlotsRequest. */
export interface ValidListAvailableSlots {
  /** providerId is the provider. */
  providerId: string;
  /** start of the range. */
  start: Date;
  /** end of the range, after start, at most 31 days later. */
  end: Date;
  /** durationMs is the wanted length; undefined means one slot. Not yet checked against the slot length. */
  durationMs: number | undefined;
  /** resourceIds must all be free too; distinct, at most 10. */
  resourceIds: string[];
}

/** ValidBookAppointment is a validated BookAppointmentRequest (with its visit type fields). */
export interface ValidBookAppointment extends ValidVisitTypeBooking {
  /** requestId is the idempotency key. */
  requestId: string;
  /** providerId is the provider. */
  providerId: string;
  /** patientId is the patient. */
  patientId: string;
  /** start of the appointment. */
  start: Date;
  /** durationMs is the wanted length; undefined means one slot. Not yet checked against the slot length. */
  durationMs: number | undefined;
  /** resourceIds to book with the provider; distinct, at most 10. */
  resourceIds: string[];
  /** reason, possibly empty. */
  reason: string;
}

/** ValidJoinWaitlist is a validated JoinWaitlistRequest. */
export interface ValidJoinWaitlist {
  /** requestId is the idempotency key. */
  requestId: string;
  /** providerId is the provider wanted. */
  providerId: string;
  /** patientId is the waiting patient. */
  patientId: string;
  /** windowStart is the earliest acceptable start. */
  windowStart: Date;
  /** windowEnd is the latest acceptable end, after windowStart, at most 90 days later. */
  windowEnd: Date;
  /** durationMs is the wanted length; undefined means one slot. */
  durationMs: number | undefined;
}

/** ValidAppointmentCommand is a validated appointmentId + requestId pair (Cancel, MarkNoShow, AcceptOffer, ...). */
export interface ValidAppointmentCommand {
  /** appointmentId is the appointment acted on. */
  appointmentId: string;
  /** requestId is the idempotency key. */
  requestId: string;
}

/** validateCreateProvider checks a CreateProviderRequest. */
export function validateCreateProvider(req: CreateProviderRequest): ValidCreateProvider {
  return validate((v) => {
    v.string("displayName", req.displayName);
    const timeZone = v.timeZone("timeZone", req.timeZone);
    v.string("specialty", req.specialty, { optional: true });
    v.id("providerId", req.providerId, { optional: true });
    v.id("locationId", req.locationId, { optional: true });
    return {
      displayName: req.displayName.trim(),
      timeZone: timeZone ?? req.timeZone,
      specialty: req.specialty.trim(),
      providerId: req.providerId === "" ? undefined : req.providerId,
      locationId: req.locationId === "" ? DEFAULT_LOCATION_ID : req.locationId,
    };
  });
}

/** validateGetProvider checks a GetProviderRequest. */
export function validateGetProvider(req: GetProviderRequest): { providerId: string } {
  return validate((v) => {
    v.id("providerId", req.providerId);
    return { providerId: req.providerId };
  });
}

/** validateListProviders checks a ListProvidersRequest; locationId undefined means every location. */
export function validateListProviders(req: ListProvidersRequest): ValidPage & { locationId: string | undefined } {
  return validate((v) => ({ ...page(v, req.pageSize, req.pageToken), locationId: locationFilter(v, req.locationId) }));
}

/** validateCreateResource checks a CreateResourceRequest. */
export function validateCreateResource(req: CreateResourceRequest): {
  displayName: string;
  kind: ResourceKind;
  resourceId: string | undefined;
  locationId: string;
  capabilities: string[];
} {
  return validate((v) => {
    v.string("displayName", req.displayName);
    v.enumValue("kind", req.kind, ResourceKindSchema);
    v.id("resourceId", req.resourceId, { optional: true });
    v.id("locationId", req.locationId, { optional: true });
    return {
      displayName: req.displayName.trim(),
      kind: req.kind,
      resourceId: req.resourceId === "" ? undefined : req.resourceId,
      locationId: req.locationId === "" ? DEFAULT_LOCATION_ID : req.locationId,
      capabilities: validateCapabilities(v, "capabilities", req.capabilities, { max: MAX_RESOURCE_CAPABILITIES }),
    };
  });
}

/** validateListResources checks a ListResourcesRequest; kind UNSPECIFIED means every kind, locationId undefined every location. */
export function validateListResources(req: ListResourcesRequest): ValidPage & { kind: ResourceKind | undefined; locationId: string | undefined } {
  return validate((v) => {
    v.enumValue("kind", req.kind, ResourceKindSchema, { optional: true });
    return { ...page(v, req.pageSize, req.pageToken), kind: req.kind === 0 ? undefined : req.kind, locationId: locationFilter(v, req.locationId) };
  });
}

/** locationFilter checks a list's optional location filter: undefined when empty. */
function locationFilter(v: RequestValidator, locationId: string): string | undefined {
  v.id("locationId", locationId, { optional: true });
  return locationId === "" ? undefined : locationId;
}

/** validateListAvailableSlots checks a ListAvailableSlotsRequest (the slot multiple is checked later, against the provider). */
export function validateListAvailableSlots(req: ListAvailableSlotsRequest): ValidListAvailableSlots {
  return validate((v) => {
    v.id("providerId", req.providerId);
    const { start, end } = range(v, "startTime", req.startTime, "endTime", req.endTime, {
      required: true,
      maxMs: MAX_SLOT_RANGE_MS,
      maxText: "31 days",
    });
    const durationMs = v.duration("duration", req.duration, APPOINTMENT_DURATION);
    resourceIds(v, req.resourceIds);
    return {
      providerId: req.providerId,
      start: start ?? new Date(0),
      end: end ?? new Date(0),
      durationMs,
      resourceIds: [...req.resourceIds],
    };
  });
}

/** validateBookAppointment checks a BookAppointmentRequest (slot fit is checked later, against the provider). */
export function validateBookAppointment(req: BookAppointmentRequest): ValidBookAppointment {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("providerId", req.providerId);
    v.id("patientId", req.patientId);
    const start = v.timestamp("startTime", req.startTime, { wholeMinute: true });
    const durationMs = v.duration("duration", req.duration, APPOINTMENT_DURATION);
    resourceIds(v, req.resourceIds);
    freeText(v, "reason", req.reason, MAX_REASON);
    return {
      requestId: req.requestId,
      providerId: req.providerId,
      patientId: req.patientId,
      start: start ?? new Date(0),
      durationMs,
      resourceIds: [...req.resourceIds],
      reason: req.reason.trim(),
      ...visitTypeBooking(v, req),
    };
  });
}

/** validateCancelAppointment checks a CancelAppointmentRequest. */
export function validateCancelAppointment(req: CancelAppointmentRequest): ValidAppointmentCommand & { reason: string } {
  return validate((v) => {
    const command = appointmentCommand(v, req);
    freeText(v, "reason", req.reason, MAX_REASON);
    return { ...command, reason: req.reason.trim() };
  });
}

/** validateRescheduleAppointment checks a RescheduleAppointmentRequest. */
export function validateRescheduleAppointment(req: RescheduleAppointmentRequest): ValidAppointmentCommand & { newStart: Date; overrideReason: string } {
  return validate((v) => {
    const command = appointmentCommand(v, req);
    const newStart = v.timestamp("newStartTime", req.newStartTime, { wholeMinute: true });
    return { ...command, newStart: newStart ?? new Date(0), overrideReason: overrideReason(v, req.overrideReason) };
  });
}

/** validateGetAppointment checks a GetAppointmentRequest. */
export function validateGetAppointment(req: GetAppointmentRequest): { appointmentId: string } {
  return validate((v) => {
    v.id("appointmentId", req.appointmentId);
    return { appointmentId: req.appointmentId };
  });
}

/** validateCheckInAppointment checks a CheckInAppointmentRequest; queueId undefined means the provider's default queue. */
export function validateCheckInAppointment(req: CheckInAppointmentRequest): ValidAppointmentCommand & { queueId: string | undefined } {
  return validate((v) => {
    const command = appointmentCommand(v, req);
    v.id("queueId", req.queueId, { optional: true });
    return { ...command, queueId: req.queueId === "" ? undefined : req.queueId };
  });
}

/** validateMarkNoShow checks a MarkNoShowRequest. */
export function validateMarkNoShow(req: MarkNoShowRequest): ValidAppointmentCommand {
  return validate((v) => appointmentCommand(v, req));
}

/** validateCompleteAppointment checks a CompleteAppointmentRequest. */
export function validateCompleteAppointment(req: CompleteAppointmentRequest): ValidAppointmentCommand {
  return validate((v) => appointmentCommand(v, req));
}

/** validateJoinWaitlist checks a JoinWaitlistRequest. */
export function validateJoinWaitlist(req: JoinWaitlistRequest): ValidJoinWaitlist {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("providerId", req.providerId);
    v.id("patientId", req.patientId);
    const { start, end } = range(v, "windowStartTime", req.windowStartTime, "windowEndTime", req.windowEndTime, {
      required: true,
      maxMs: MAX_WAITLIST_WINDOW_MS,
      maxText: "90 days",
    });
    const durationMs = v.duration("duration", req.duration, APPOINTMENT_DURATION);
    return {
      requestId: req.requestId,
      providerId: req.providerId,
      patientId: req.patientId,
      windowStart: start ?? new Date(0),
      windowEnd: end ?? new Date(0),
      durationMs,
    };
  });
}

/** validateAcceptOffer checks an AcceptOfferRequest. */
export function validateAcceptOffer(req: AcceptOfferRequest): ValidAppointmentCommand {
  return validate((v) => appointmentCommand(v, req));
}

/** range checks a pair of timestamps: end after start and, with `maxMs`, at most that much later. */
export function range(
  v: RequestValidator,
  startField: string,
  startValue: Timestamp | undefined,
  endField: string,
  endValue: Timestamp | undefined,
  opts: { required: boolean; maxMs?: number; maxText?: string },
): { start: Date | undefined; end: Date | undefined } {
  const start = v.timestamp(startField, startValue, { optional: !opts.required });
  const end = v.timestamp(endField, endValue, { optional: !opts.required });
  if (start && end) {
    if (end.getTime() <= start.getTime()) {
      v.add(endField, `must be after ${startField}`, "END_BEFORE_START");
    } else if (opts.maxMs !== undefined && end.getTime() - start.getTime() > opts.maxMs) {
      v.add(endField, `must be at most ${opts.maxText ?? `${opts.maxMs} ms`} after ${startField}`, "RANGE_TOO_LONG");
    }
  }
  return { start, end };
}

/** resourceIds checks the rooms and devices of a request: each an id, no duplicates, at most 10. */
export function resourceIds(v: RequestValidator, ids: string[]): void {
  if (ids.length > MAX_RESOURCE_IDS) {
    v.add("resourceIds", `must name at most ${MAX_RESOURCE_IDS} resources (got ${ids.length})`, "TOO_MANY");
  }
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    const field = `resourceIds[${i}]`;
    if (id === "") {
      v.add(field, "must not be empty", "REQUIRED");
      return;
    }
    v.id(field, id);
    const first = seen.get(id);
    if (first !== undefined) v.add(field, `duplicates resourceIds[${first}]`, "DUPLICATE");
    else seen.set(id, i);
  });
}

/** enumList checks a repeated enum filter: each a known value, none UNSPECIFIED. Returns the distinct values. */
export function enumList<T extends number>(
  v: RequestValidator,
  field: string,
  values: T[],
  desc: DescEnum,
): T[] {
  values.forEach((value, i) => v.enumValue(`${field}[${i}]`, value, desc));
  return [...new Set(values)];
}

/** appointmentCommand checks the appointmentId and requestId that every appointment change carries. */
function appointmentCommand(v: RequestValidator, req: { appointmentId: string; requestId: string }): ValidAppointmentCommand {
  v.id("appointmentId", req.appointmentId);
  v.requestId("requestId", req.requestId);
  return { appointmentId: req.appointmentId, requestId: req.requestId };
}

/** page checks page size and token and applies the default size. */
export function page(v: RequestValidator, pageSize: number, pageToken: string): ValidPage {
  v.pageSize("pageSize", pageSize);
  v.pageToken("pageToken", pageToken);
  return { pageSize: pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize, pageToken };
}

/**
 * freeText checks optional free text such as a reason: at most `max` characters, no control
 * characters other than line breaks and tabs (a textarea may send them; RequestValidator.string
 * rejects every control character, which is right for names).
 */
export function freeText(v: RequestValidator, field: string, value: string, max: number): void {
  if (value.length > max) v.add(field, `must be at most ${max} characters (got ${value.length})`, "TOO_LONG");
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
}
