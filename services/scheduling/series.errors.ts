// The errors of recurring series (BookSeries, CancelSeries): a series is booked all or nothing, so a
// refusal names the occurrence that was refused (its place in the series and local date) and keeps
// the reason that occurrence alone would have got (SLOT_TAKEN, MIN_NOTICE, ...), with its metadata;
// a local time that does not exist on an occurrence's date is NONEXISTENT_LOCAL_TIME. The README's
// "Error reasons" section lists them.
import { DomainError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../runtime/errors.js";
import { dateText, localMoment, type ProviderNaming } from "./scheduling.errors.js";

/** Occurrence names one occurrence of a series: its place (1-based, skipped ones counted) and local date. */
export interface Occurrence {
  /** index is the occurrence's place in the series, 1-based (series_index). */
  index: number;
  /** localDate is its local date "YYYY-MM-DD" in the provider's zone. */
  localDate: string;
}

/**
 * occurrenceRefusedError is the refusal of a whole series because one occurrence was refused: the
 * same code and reason as `err` (e.g. FAILED_PRECONDITION SLOT_TAKEN), its metadata plus `occurrence`
 * (the index, "3") and `occurrenceLocalDate`, and a message saying that nothing was booked. Errors
 * that are not a DomainError pass through.
 */
export function occurrenceRefusedError(o: Occurrence, total: number, err: unknown): unknown {
  if (!(err instanceof DomainError) || err instanceof InvalidArgumentError) return err;
  const message = `occurrence ${o.index} of ${total} (${dateText(o.localDate)}) cannot be booked: ${err.message}; nothing of the series was booked`;
  return new DomainError(err.code, err.reason, message, { metadata: { ...err.metadata, occurrence: String(o.index), occurrenceLocalDate: o.localDate }, cause: err });
}

/** nonexistentLocalTimeError is NONEXISTENT_LOCAL_TIME: the series' local time does not exist on an occurrence's date (the clocks go forward over it). */
export function nonexistentLocalTimeError(p: ProviderNaming, o: Occurrence, localTime: string): FailedPreconditionError {
  return new FailedPreconditionError(
    "NONEXISTENT_LOCAL_TIME",
    `${localTime} does not exist on ${dateText(o.localDate)} in ${p.time_zone} (the clocks go forward over it), so occurrence ${o.index} cannot be booked and nothing of the series was booked; choose another time or skip such days`,
    { metadata: { providerName: p.display_name, timeZone: p.time_zone, localTime, localDate: o.localDate, occurrence: String(o.index), occurrenceLocalDate: o.localDate } },
  );
}

/** seriesBookingLimitError is PATIENT_BOOKING_LIMIT for a series: a patient booking themselves would hold more than `limit` upcoming appointments. */
export function seriesBookingLimitError(limit: number, upcoming: number, occurrences: number): FailedPreconditionError {
  return new FailedPreconditionError(
    "PATIENT_BOOKING_LIMIT",
    `this series has ${occurrences} appointments and you already have ${upcoming} upcoming; at most ${limit} can be booked online at one time, so ask the clinic to book this series for you`,
    { metadata: { limit: String(limit), occurrences: String(occurrences), upcoming: String(upcoming) } },
  );
}

/** seriesTooLongError is INVALID_ARGUMENT on recurrence.until: the until date makes more than `max` occurrences. */
export function seriesTooLongError(p: ProviderNaming, max: number, lastDate: string): InvalidArgumentError {
  return new InvalidArgumentError([
    { field: "recurrence.until", description: `makes more than ${max} occurrences; the ${max}th falls on ${dateText(lastDate)} (${p.time_zone}): choose that date or earlier`, reason: "TOO_MANY_OCCURRENCES" },
  ]);
}

/** untilBeforeStartError is INVALID_ARGUMENT on recurrence.until: it is before the first occurrence's local date. */
export function untilBeforeStartError(p: ProviderNaming, first: number): InvalidArgumentError {
  const at = localMoment(first, p.time_zone);
  return new InvalidArgumentError([{ field: "recurrence.until", description: `is before the first occurrence, ${at.text}`, reason: "BEFORE_FIRST_OCCURRENCE" }]);
}

/** seriesNotFoundError is NOT_FOUND SERIES_NOT_FOUND: no such series, or, the same answer, someone else's. */
export function seriesNotFoundError(seriesId: string): NotFoundError {
  return new NotFoundError("series", seriesId, "SERIES_NOT_FOUND");
}

/** notInSeriesError is INVALID_ARGUMENT on fromAppointmentId: the appointment is not an occurrence of the series named. */
export function notInSeriesError(): InvalidArgumentError {
  return new InvalidArgumentError([{ field: "fromAppointmentId", description: "is not an occurrence of this series; pick an appointment of the series", reason: "NOT_IN_SERIES" }]);
}

