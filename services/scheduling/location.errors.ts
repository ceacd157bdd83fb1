// The domain errors of locations (scheduling.errors.ts holds the rest): one stable reason each, a
// message staff can act on with the location's name and its local dates (never an internal id), and
// the values a client needs to say it in its own language as ErrorInfo.metadata.
import { AbortedError, AlreadyExistsError, FailedPreconditionError, NotFoundError } from "../runtime/errors.js";
import { dateText } from "./scheduling.errors.js";
import type { LocationClosed } from "./slots.js";

/** locationNotFoundError is LOCATION_NOT_FOUND: no location with this id (`field`: the request field that named it, when there is one). */
export function locationNotFoundError(locationId: string, field?: string): NotFoundError {
  return new NotFoundError("location", locationId, "LOCATION_NOT_FOUND", field === undefined ? undefined : { metadata: { field } });
}

/** locationExistsError is LOCATION_EXISTS: a create with a client-chosen id that holds a location with other details. */
export function locationExistsError(locationId: string): AlreadyExistsError {
  return new AlreadyExistsError("LOCATION_EXISTS", "a location with this id already exists with different details; choose another id, or change it with an update", {
    metadata: { locationId },
  });
}

/** locationConflictError is LOCATION_CONFLICT: the location changed while it was being written (retryable). */
export function locationConflictError(): AbortedError {
  return new AbortedError("LOCATION_CONFLICT", "the location changed while being written; retry");
}

/**
 * locationClosedError is LOCATION_CLOSED: the time lies on a date the location is closed, e.g.
 * "Kadıköy Clinic is closed on Friday 23 April 2027 (2027-04-23, Europe/Istanbul): Ulusal Egemenlik ve
 * Çocuk Bayramı; choose another day".
 */
export function locationClosedError(at: LocationClosed): FailedPreconditionError {
  const why = at.closure.reason === "" ? "" : `: ${at.closure.reason}`;
  const span = at.closure.startDate === at.closure.endDate ? "" : ` (closed from ${dateText(at.closure.startDate)} to ${dateText(at.closure.endDate)})`;
  return new FailedPreconditionError("LOCATION_CLOSED", `${at.locationName} is closed on ${dateText(at.localDate)} (${at.localDate}, ${at.timeZone})${why}${span}; choose another day`, {
    metadata: {
      locationName: at.locationName,
      timeZone: at.timeZone,
      localDate: at.localDate,
      closureReason: at.closure.reason,
      closureStartDate: at.closure.startDate,
      closureEndDate: at.closure.endDate,
    },
  });
}
