// The errors of visit types and their booking rules (issue 20): one stable reason each, a message in
// the clinic's local time with the visit type's and provider's names (never an id), and the values a
// translated message needs as ErrorInfo.metadata. The README's "Error reasons" section lists them.
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../runtime/errors.js";
import { base, localMoment, minutesText, type ProviderNaming } from "./scheduling.errors.js";
import { WALL } from "./zone-time.js";

/** VisitTypeNaming is what an error needs of a visit type: the name people know. */
export interface VisitTypeNaming {
  /** display_name, e.g. "Ultrasound check". */
  display_name: string;
}

/** visitTypeNotFoundError is NOT_FOUND VISIT_TYPE_NOT_FOUND. */
export function visitTypeNotFoundError(visitTypeId: string): NotFoundError {
  return new NotFoundError("visit type", visitTypeId, "VISIT_TYPE_NOT_FOUND");
}

/** notOfferedError is NOT_OFFERED_BY_PROVIDER: the provider does not offer this visit type. */
export function notOfferedError(vt: VisitTypeNaming, p: ProviderNaming): FailedPreconditionError {
  return new FailedPreconditionError("NOT_OFFERED_BY_PROVIDER", `${p.display_name} does not offer ${vt.display_name}; choose another provider or visit type`, {
    metadata: { providerName: p.display_name, visitTypeName: vt.display_name },
  });
}

/** staffOnlyVisitTypeError is PERMISSION_DENIED VISIT_TYPE_STAFF_ONLY: a patient booking a visit type only the clinic books. */
export function staffOnlyVisitTypeError(vt: VisitTypeNaming): PermissionDeniedError {
  return new PermissionDeniedError(`${vt.display_name} can only be booked by the clinic; please contact reception`, "VISIT_TYPE_STAFF_ONLY", {
    metadata: { visitTypeName: vt.display_name },
  });
}

/** minNoticeError is MIN_NOTICE: a start sooner than the visit type's minimum notice allows. */
export function minNoticeError(vt: VisitTypeNaming, p: ProviderNaming, start: number, now: number, noticeMs: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const first = localMoment(Math.ceil((now + noticeMs) / WALL.MINUTE_MS) * WALL.MINUTE_MS, p.time_zone);
  return new FailedPreconditionError(
    "MIN_NOTICE",
    `${vt.display_name} must be booked at least ${minutesText(noticeMs)} ahead; ${at.text} is too soon (the earliest is ${first.text})`,
    { metadata: base(p, at, { rule: "minNotice", visitTypeName: vt.display_name, noticeMinutes: String(Math.round(noticeMs / WALL.MINUTE_MS)), earliestLocalDate: first.localDate, earliestLocalTime: first.localTime }) },
  );
}

/** visitTypeHorizonError is VISIT_TYPE_HORIZON: a start later than the visit type's own horizon allows. */
export function visitTypeHorizonError(vt: VisitTypeNaming, p: ProviderNaming, start: number, now: number, horizonMs: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const last = localMoment(Math.floor((now + horizonMs) / WALL.MINUTE_MS) * WALL.MINUTE_MS, p.time_zone);
  return new FailedPreconditionError(
    "VISIT_TYPE_HORIZON",
    `${vt.display_name} can be booked at most ${minutesText(horizonMs)} ahead, until ${last.text}; ${at.text} is too far ahead`,
    { metadata: base(p, at, { rule: "horizon", visitTypeName: vt.display_name, lastLocalDate: last.localDate, lastLocalTime: last.localTime }) },
  );
}

/** maxPerDayError is MAX_PER_PATIENT_PER_DAY: the patient already has `limit` visits of this type that local day. */
export function maxPerDayError(vt: VisitTypeNaming, p: ProviderNaming, start: number, limit: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const count = limit === 1 ? "one visit" : `${limit} visits`;
  return new FailedPreconditionError("MAX_PER_PATIENT_PER_DAY", `the patient already has ${count} of ${vt.display_name} on ${at.dateText}, the most allowed in one day`, {
    metadata: base(p, at, { rule: "maxPerPatientPerDay", visitTypeName: vt.display_name, limit: String(limit) }),
  });
}

/** patientCancelCutoffError is PATIENT_CANCEL_CUTOFF: a patient changing their visit later than the visit type's cutoff allows. */
export function patientCancelCutoffError(vt: VisitTypeNaming, p: ProviderNaming, start: number, cutoffMs: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const closed = localMoment(start - cutoffMs, p.time_zone);
  return new FailedPreconditionError(
    "PATIENT_CANCEL_CUTOFF",
    `${vt.display_name} at ${at.text} could be changed online only until ${closed.text} (${minutesText(cutoffMs)} before); please contact the clinic`,
    { metadata: base(p, at, { rule: "patientCancelCutoff", visitTypeName: vt.display_name, closedLocalDate: closed.localDate, closedLocalTime: closed.localTime }) },
  );
}

/** noResourceError is NO_RESOURCE_AVAILABLE: no free room or device with a required capability at that time. */
export function noResourceError(vt: VisitTypeNaming, p: ProviderNaming, start: number, capabilities: string[]): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  return new FailedPreconditionError("NO_RESOURCE_AVAILABLE", `no free room or device with ${capabilities.join(", ")} for ${vt.display_name} at ${at.text}; choose another time`, {
    metadata: base(p, at, { visitTypeName: vt.display_name, capabilities: capabilities.join(",") }),
  });
}

/** missingCapabilityError is MISSING_CAPABILITY: the rooms and devices named do not cover what the visit type needs (one each). */
export function missingCapabilityError(vt: VisitTypeNaming, capabilities: string[]): FailedPreconditionError {
  return new FailedPreconditionError("MISSING_CAPABILITY", `${vt.display_name} needs a room or device for each of ${capabilities.join(", ")}; the ones chosen do not cover them: choose others, or leave them out to have them chosen`, {
    metadata: { visitTypeName: vt.display_name, capabilities: capabilities.join(",") },
  });
}

/** overrideNotAllowedError is PERMISSION_DENIED OVERRIDE_NOT_ALLOWED: a patient sending overrideReason (staff only). */
export function overrideNotAllowedError(): PermissionDeniedError {
  return new PermissionDeniedError("only clinic staff may override a booking rule", "OVERRIDE_NOT_ALLOWED");
}

/** notAtLocationError is NOT_AT_VISIT_TYPE_LOCATION: at that time the provider works at another location than the visit type's. */
export function notAtLocationError(vt: VisitTypeNaming, p: ProviderNaming, start: number, visitTypeLocation: string, workedAt: string | undefined): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const where = workedAt ? `works at ${workedAt}` : "is not at that location";
  return new FailedPreconditionError("NOT_AT_VISIT_TYPE_LOCATION", `${p.display_name} ${where} at ${at.text}; ${vt.display_name} is offered at ${visitTypeLocation}: choose a time when they are there`, {
    metadata: base(p, at, { visitTypeName: vt.display_name, visitTypeLocationName: visitTypeLocation, ...(workedAt ? { workedAtLocationName: workedAt } : {}) }),
  });
}
