// The scheduling service's domain errors: one stable reason each (google.rpc.ErrorInfo.reason), a
// message a receptionist can act on, in the provider's local time and with the provider's name
// (never an internal id, an RPC name or a UTC instant), and the values a client needs to say it in
// its own language as ErrorInfo.metadata. The README's "Error reasons" section lists them all.
import { ConnectError } from "@connectrpc/connect";
import { AbortedError, FailedPreconditionError, NotFoundError, PermissionDeniedError, UnavailableError, type ErrorMetadata } from "../runtime/errors.js";
import type { AppointmentRow, AppointmentStatusName } from "./db/appointment.table.js";
import type { SlotVerdict } from "./slots.js";
import { isoDayOfWeek, wallOf, wallOfDate, WALL } from "./zone-time.js";

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** ProviderNaming is what an error needs of a provider: the name staff know and the clinic's zone. */
export interface ProviderNaming {
  /** display_name, e.g. "Dr. Ada Lovelace". */
  display_name: string;
  /** time_zone is the provider's IANA zone, the clinic's local time. */
  time_zone: string;
}

/** LocalMoment is an instant as the clinic reads it. */
export interface LocalMoment {
  /** localTime is "HH:MM" ("HH:MM:SS" when the seconds are not zero). */
  localTime: string;
  /** localDate is "YYYY-MM-DD". */
  localDate: string;
  /** dateText is e.g. "Monday 7 December 2026". */
  dateText: string;
  /** text is e.g. "19:00 on Monday 7 December 2026 (Europe/Istanbul)". */
  text: string;
}

/** dateText is a local date "YYYY-MM-DD" in words, e.g. "Monday 7 December 2026". */
export function dateText(date: string): string {
  const [y, m, d] = date.split("-").map(Number);
  return `${WEEKDAYS[isoDayOfWeek(date) - 1]} ${d} ${MONTHS[m - 1]} ${y}`;
}

/** minuteText is minutes after local midnight as "HH:MM" (1440 is "24:00"). */
export function minuteText(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/**
 * localMoment is an instant in a zone as the clinic reads it. With `onDate`, an instant at the
 * midnight that ends that local date reads "24:00" on it (the end of working hours), not "00:00".
 */
export function localMoment(instantMs: number, timeZone: string, onDate?: string): LocalMoment {
  const wall = wallOf(instantMs, timeZone);
  let localDate = new Date(wall).toISOString().slice(0, 10);
  let ms = wall - wallOfDate(localDate);
  if (onDate !== undefined && ms === 0 && localDate > onDate) {
    localDate = onDate;
    ms = WALL.DAY_MS;
  }
  const seconds = Math.floor(ms / 1000) % 60;
  const localTime = minuteText(Math.floor(ms / WALL.MINUTE_MS)) + (seconds === 0 ? "" : `:${String(seconds).padStart(2, "0")}`);
  const words = dateText(localDate);
  return { localTime, localDate, dateText: words, text: `${localTime} on ${words} (${timeZone})` };
}

/** base is the metadata every error about a provider's time carries: its name, zone, local time and date. */
export function base(p: ProviderNaming, at: LocalMoment, extra: ErrorMetadata = {}): ErrorMetadata {
  return { providerName: p.display_name, timeZone: p.time_zone, localTime: at.localTime, localDate: at.localDate, ...extra };
}

/** minutesText is a length in words, e.g. "45 minutes", "2 hours". */
export function minutesText(ms: number): string {
  const min = Math.round(ms / WALL.MINUTE_MS);
  if (min % 60 === 0) return min === 60 ? "1 hour" : `${min / 60} hours`;
  return `${min} minutes`;
}

function listText(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/**
 * slotRefusedError is the one reason a time is not bookable for a provider (explainSlotStart's
 * verdict), e.g. OUTSIDE_WORKING_HOURS "Dr. Ada Lovelace does not work at 19:00 on Monday 7 December
 * 2026 (Europe/Istanbul); that day's working hours are 09:00-17:00".
 */
export function slotRefusedError(p: ProviderNaming, verdict: Exclude<SlotVerdict, { kind: "SLOT" }>, start: number, durationMs: number, slotMs: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const name = p.display_name;
  const length = minutesText(durationMs);
  switch (verdict.kind) {
    case "ON_EXCEPTION": {
      const e = verdict.exception;
      const why = e.reason === "" ? "" : `: ${e.reason}`;
      const span = e.startDate === e.endDate ? "" : ` (away from ${dateText(e.startDate)} to ${dateText(e.endDate)})`;
      return new FailedPreconditionError("ON_EXCEPTION", `${name} is not available on ${at.dateText} (${p.time_zone})${why}${span}; choose another day`, {
        metadata: base(p, at, { exceptionReason: e.reason, exceptionStartDate: e.startDate, exceptionEndDate: e.endDate }),
      });
    }
    case "OUTSIDE_WORKING_HOURS": {
      const hours = verdict.hours.map((h) => `${minuteText(h.startMinute)}-${minuteText(h.endMinute)}`);
      if (hours.length === 0) {
        const weekday = WEEKDAYS[isoDayOfWeek(verdict.date) - 1];
        return new FailedPreconditionError("OUTSIDE_WORKING_HOURS", `${name} does not work on ${weekday}s (${at.dateText}, ${p.time_zone}); choose another day`, {
          metadata: base(p, at, { workingHours: "" }),
        });
      }
      return new FailedPreconditionError("OUTSIDE_WORKING_HOURS", `${name} does not work at ${at.text}; that day's working hours are ${listText(hours)}`, {
        metadata: base(p, at, { workingHours: hours.join(",") }),
      });
    }
    case "IN_BREAK": {
      const b = `${minuteText(verdict.break.startMinute)}-${minuteText(verdict.break.endMinute)}`;
      return new FailedPreconditionError("IN_BREAK", `${at.text} is in ${name}'s break (${b}); choose a time outside it`, {
        metadata: base(p, at, { breakStart: minuteText(verdict.break.startMinute), breakEnd: minuteText(verdict.break.endMinute) }),
      });
    }
    case "NOT_ON_SLOT_BOUNDARY": {
      const before = verdict.before === undefined ? undefined : localMoment(verdict.before, p.time_zone).localTime;
      const after = verdict.after === undefined ? undefined : localMoment(verdict.after, p.time_zone).localTime;
      const near = [before, after].filter((x): x is string => x !== undefined);
      const hint = near.length === 0 ? `no appointment of ${length} fits that day` : `the nearest start ${near.length === 1 ? "time is" : "times are"} ${listText(near)}`;
      return new FailedPreconditionError("NOT_ON_SLOT_BOUNDARY", `${name}'s appointments start every ${minutesText(slotMs)}: ${at.text} is not a start time; ${hint}`, {
        metadata: base(p, at, { slotMinutes: String(slotMs / WALL.MINUTE_MS), nearestBefore: before ?? "", nearestAfter: after ?? "" }),
      });
    }
    case "REPEATED_LOCAL_TIME":
      return new FailedPreconditionError(
        "REPEATED_LOCAL_TIME",
        `${at.localTime} happens twice on ${at.dateText} in ${p.time_zone} (the clocks go back); ${name}'s appointment at ${at.localTime} is the first one, before the clocks go back`,
        { metadata: base(p, at) },
      );
    case "ENDS_AFTER_WORKING_HOURS": {
      const end = localMoment(verdict.end, p.time_zone, verdict.date);
      const close = localMoment(verdict.freeEnd, p.time_zone, verdict.date);
      return new FailedPreconditionError(
        "ENDS_AFTER_WORKING_HOURS",
        `an appointment of ${length} at ${at.text} would end at ${end.localTime}, after ${name}'s working hours end at ${close.localTime}; choose an earlier time or a shorter visit`,
        { metadata: base(p, at, { endLocalTime: end.localTime, workingHoursEnd: close.localTime }) },
      );
    }
    case "RUNS_INTO_BREAK": {
      const end = localMoment(verdict.end, p.time_zone, verdict.date);
      const b = verdict.break;
      return new FailedPreconditionError(
        "RUNS_INTO_BREAK",
        `an appointment of ${length} at ${at.text} would end at ${end.localTime}, into ${name}'s break (${minuteText(b.startMinute)}-${minuteText(b.endMinute)}); choose another time or a shorter visit`,
        { metadata: base(p, at, { endLocalTime: end.localTime, breakStart: minuteText(b.startMinute), breakEnd: minuteText(b.endMinute) }) },
      );
    }
    case "NOT_A_SLOT":
      return new FailedPreconditionError("NOT_A_SLOT", `${at.text} is not a bookable time for ${name}; pick one of the free slots`, { metadata: base(p, at) });
  }
}

/** bookingInPastError is BOOKING_IN_PAST: an appointment (or a new time for one) that starts before now. */
export function bookingInPastError(p: ProviderNaming, start: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  return new FailedPreconditionError("BOOKING_IN_PAST", `${at.text} has already passed; choose a time from now on`, { metadata: base(p, at) });
}

/** beyondHorizonError is BEYOND_HORIZON: a start later than the booking horizon (SCHEDULING_BOOKING_HORIZON) allows. */
export function beyondHorizonError(p: ProviderNaming, start: number, now: number, horizonMs: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const last = localMoment(Math.floor((now + horizonMs) / WALL.MINUTE_MS) * WALL.MINUTE_MS, p.time_zone);
  const days = Math.floor(horizonMs / WALL.DAY_MS);
  return new FailedPreconditionError(
    "BEYOND_HORIZON",
    `appointments can be booked at most ${days} days ahead, until ${last.dateText}; ${at.text} is too far ahead`,
    { metadata: base(p, at, { horizonDays: String(days), lastLocalDate: last.localDate, lastLocalTime: last.localTime }) },
  );
}

/** waitlistWindowPastError is WAITLIST_WINDOW_PAST: a waitlist window that has ended already. */
export function waitlistWindowPastError(p: ProviderNaming, windowEnd: number): FailedPreconditionError {
  const at = localMoment(windowEnd, p.time_zone);
  return new FailedPreconditionError("WAITLIST_WINDOW_PAST", `the waitlist window ended at ${at.text}; choose a window that ends in the future`, { metadata: base(p, at) });
}

/** slotTakenError is SLOT_TAKEN (the provider is booked then) or RESOURCE_TAKEN (a requested room or device is). */
export function slotTakenError(p: ProviderNaming, start: number, taken: "provider" | "resource"): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  if (taken === "resource") {
    return new FailedPreconditionError("RESOURCE_TAKEN", `a requested room or device is already booked at ${at.text}; choose another time or room`, { metadata: base(p, at) });
  }
  return new FailedPreconditionError("SLOT_TAKEN", `${p.display_name} is already booked at ${at.text}; choose another time`, { metadata: base(p, at) });
}

/**
 * slotHeldForOfferError is SLOT_HELD_FOR_OFFER: the time is not booked but held for a patient on the
 * waitlist who was offered it (a PROPOSED appointment) until `holdEnd`; after that it goes to the next
 * patient waiting, or becomes free. localTime, localDate: the hold's end; appointmentLocalTime,
 * appointmentLocalDate: the time asked for.
 */
export function slotHeldForOfferError(p: ProviderNaming, start: number, holdEnd: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const until = localMoment(holdEnd, p.time_zone);
  const untilText = until.localDate === at.localDate ? until.localTime : `${until.localTime} on ${until.dateText}`;
  return new FailedPreconditionError(
    "SLOT_HELD_FOR_OFFER",
    `${p.display_name} at ${at.text} is held for a patient on the waitlist until ${untilText}; choose another time, or look again after ${until.localTime}`,
    { metadata: base(p, until, { appointmentLocalTime: at.localTime, appointmentLocalDate: at.localDate }) },
  );
}

/** noAvailabilityError is NO_AVAILABILITY: a provider whose working hours were never set. */
export function noAvailabilityError(p: ProviderNaming): FailedPreconditionError {
  return new FailedPreconditionError("NO_AVAILABILITY", `${p.display_name} has no working hours set yet; set their availability first`, {
    metadata: { providerName: p.display_name, timeZone: p.time_zone },
  });
}

/** AppointmentAction is a change to an appointment, as the errors name it (metadata "action"). */
export type AppointmentAction = "CANCEL" | "RESCHEDULE" | "CHECK_IN" | "MARK_NO_SHOW" | "COMPLETE" | "ACCEPT_OFFER";

const ACTION_TEXT: Record<AppointmentAction, string> = {
  CANCEL: "cancelled",
  RESCHEDULE: "rescheduled",
  CHECK_IN: "checked in",
  MARK_NO_SHOW: "marked as a no-show",
  COMPLETE: "completed",
  ACCEPT_OFFER: "accepted",
};

const STATUS_TEXT: Record<AppointmentStatusName, string> = {
  PROPOSED: "is a waitlist offer not yet accepted",
  BOOKED: "is booked and the patient has not checked in",
  CHECKED_IN: "is already checked in",
  FULFILLED: "has already taken place",
  CANCELLED: "was cancelled",
  NOSHOW: "was marked as a no-show",
};

function appointmentText(p: ProviderNaming, row: AppointmentRow): LocalMoment & { sentence: string } {
  const at = localMoment(row.start_at.getTime(), p.time_zone);
  return { ...at, sentence: `the appointment with ${p.display_name} at ${at.text}` };
}

/**
 * illegalTransitionError is ILLEGAL_TRANSITION: an appointment whose state does not allow the change,
 * e.g. "the appointment with Dr. Ada Lovelace at 10:30 on ... was cancelled, so it cannot be checked in".
 */
export function illegalTransitionError(p: ProviderNaming, row: AppointmentRow, action: AppointmentAction, allowed: AppointmentStatusName[]): FailedPreconditionError {
  const a = appointmentText(p, row);
  const text =
    action === "ACCEPT_OFFER"
      ? `${a.sentence} ${row.status === "BOOKED" ? "is already booked" : STATUS_TEXT[row.status]}, so there is no offer to accept`
      : `${a.sentence} ${STATUS_TEXT[row.status]}, so it cannot be ${ACTION_TEXT[action]}`;
  return new FailedPreconditionError("ILLEGAL_TRANSITION", text, {
    metadata: base(p, a, { status: row.status, action, allowedStatuses: allowed.join(",") }),
  });
}

/** checkInNotOpenError is CHECK_IN_NOT_OPEN: check-in opens `earlyMs` before the start; localTime is when it opens. */
export function checkInNotOpenError(p: ProviderNaming, row: AppointmentRow, earlyMs: number): FailedPreconditionError {
  const a = appointmentText(p, row);
  const opens = localMoment(row.start_at.getTime() - earlyMs, p.time_zone);
  const when = opens.localDate === a.localDate ? opens.localTime : opens.text;
  return new FailedPreconditionError("CHECK_IN_NOT_OPEN", `check-in for ${a.sentence} opens at ${when}`, {
    metadata: base(p, opens, { appointmentLocalTime: a.localTime, appointmentLocalDate: a.localDate }),
  });
}

/** checkInClosedError is CHECK_IN_CLOSED: the appointment has ended; localTime is its end. */
export function checkInClosedError(p: ProviderNaming, row: AppointmentRow): FailedPreconditionError {
  const a = appointmentText(p, row);
  const end = localMoment(row.end_at.getTime(), p.time_zone);
  return new FailedPreconditionError(
    "CHECK_IN_CLOSED",
    `${a.sentence} ended at ${end.localTime}, so it can no longer be checked in: mark it as a no-show or reschedule it (a patient who came anyway can take a walk-in ticket)`,
    { metadata: base(p, end, { appointmentLocalTime: a.localTime, appointmentLocalDate: a.localDate }) },
  );
}

/** noShowBeforeStartError is NO_SHOW_BEFORE_START: MarkNoShow before the appointment has started. */
export function noShowBeforeStartError(p: ProviderNaming, row: AppointmentRow): FailedPreconditionError {
  const a = appointmentText(p, row);
  return new FailedPreconditionError("NO_SHOW_BEFORE_START", `${a.sentence} has not started yet; a patient can be marked as a no-show only after ${a.localTime}`, {
    metadata: base(p, a),
  });
}

/** offerExpiredError is OFFER_EXPIRED: the waitlist offer's hold lapsed; localTime is when. */
export function offerExpiredError(p: ProviderNaming, row: AppointmentRow, expiredAt: Date): FailedPreconditionError {
  const a = appointmentText(p, row);
  const lapsed = localMoment(expiredAt.getTime(), p.time_zone);
  return new FailedPreconditionError("OFFER_EXPIRED", `the offer of ${a.sentence} lapsed at ${lapsed.localTime} on ${lapsed.dateText}; the time was passed on`, {
    metadata: base(p, lapsed, { appointmentLocalTime: a.localTime, appointmentLocalDate: a.localDate }),
  });
}

/** offerTimePassedError is OFFER_TIME_PASSED: the offered appointment's start has passed. */
export function offerTimePassedError(p: ProviderNaming, row: AppointmentRow): FailedPreconditionError {
  const a = appointmentText(p, row);
  return new FailedPreconditionError("OFFER_TIME_PASSED", `the offered time, ${a.text}, has already passed`, { metadata: base(p, a) });
}

/** queueChoiceNotAllowedError is QUEUE_CHOICE_NOT_ALLOWED: a patient naming the queue at check-in (the appointment's provider queue is used). */
export function queueChoiceNotAllowedError(): PermissionDeniedError {
  return new PermissionDeniedError("a patient checks in to their provider's queue and may not choose another; leave queueId empty", "QUEUE_CHOICE_NOT_ALLOWED");
}

/**
 * peerUnreachableError is QUEUE_UNAVAILABLE or LOCK_UNAVAILABLE: a service this one needs is not
 * configured or reachable. With `action`, the queue was needed to settle the patient's ticket before
 * that change of the appointment, which was therefore not made.
 */
export function peerUnreachableError(peer: "queue" | "lock", action?: AppointmentAction): UnavailableError {
  if (peer === "lock") return new UnavailableError("LOCK_UNAVAILABLE", "the lock service cannot be reached, so bookings cannot be made right now; retry shortly");
  if (action === undefined || action === "CHECK_IN") {
    return new UnavailableError("QUEUE_UNAVAILABLE", "the queue service cannot be reached, so nobody can be checked in right now; retry shortly");
  }
  return new UnavailableError(
    "QUEUE_UNAVAILABLE",
    `the queue service cannot be reached to settle the patient's ticket, so the appointment was not ${ACTION_TEXT[action]}; nothing changed, retry shortly`,
    { metadata: { action } },
  );
}

/**
 * patientChangeClosedError is PATIENT_CHANGE_CLOSED: a patient changing their own appointment after
 * the last moment patients may (its start; localTime is that moment); staff can still do it.
 */
export function patientChangeClosedError(p: ProviderNaming, row: AppointmentRow, action: AppointmentAction, closedAt: number): FailedPreconditionError {
  const a = appointmentText(p, row);
  const closed = localMoment(closedAt, p.time_zone);
  const when = closedAt >= row.start_at.getTime() ? "has already started" : `could be ${ACTION_TEXT[action]} online only until ${closed.localDate === a.localDate ? closed.localTime : closed.text}`;
  return new FailedPreconditionError("PATIENT_CHANGE_CLOSED", `${a.sentence} ${when}, so it can no longer be ${ACTION_TEXT[action]} online; please contact the clinic`, {
    metadata: base(p, closed, { action, appointmentLocalTime: a.localTime, appointmentLocalDate: a.localDate }),
  });
}

/**
 * patientBookingLimitError is PATIENT_BOOKING_LIMIT: a patient booking themselves who already holds
 * `limit` appointments that have not ended. For a waitlist offer they could not accept, `offerPassedOn`
 * says that the offered time went to the next patient waiting.
 */
export function patientBookingLimitError(limit: number, offerPassedOn = false): FailedPreconditionError {
  const count = limit === 1 ? "an upcoming appointment" : `${limit} upcoming appointments`;
  const text = offerPassedOn
    ? `you already have ${count}, the most that can be booked online at one time, so this offer cannot be accepted and was passed on to the next patient waiting; you keep your place on the waitlist for later openings`
    : `you already have ${count}, the most that can be booked online at one time; cancel one first, or ask the clinic to book this one for you`;
  return new FailedPreconditionError("PATIENT_BOOKING_LIMIT", text, { metadata: { limit: String(limit) } });
}

/** patientWaitlistLimitError is PATIENT_WAITLIST_LIMIT: a patient joining a waitlist themselves who already waits in `limit` windows that have not ended. */
export function patientWaitlistLimitError(limit: number): FailedPreconditionError {
  const count = limit === 1 ? "an appointment" : `${limit} appointments`;
  return new FailedPreconditionError(
    "PATIENT_WAITLIST_LIMIT",
    `you are already on the waitlist for ${count}, the most that can be waited for online at one time; wait for an offer or until one of those times has passed, or ask the clinic to add you`,
    { metadata: { limit: String(limit) } },
  );
}

/** WaitlistWindow is an existing waitlist entry, as an error names it. */
export interface WaitlistWindow {
  /** window_start is the earliest acceptable start. */
  window_start: Date;
  /** window_end is the latest acceptable end. */
  window_end: Date;
}

/** alreadyOnWaitlistError is ALREADY_ON_WAITLIST: the patient already waits for the provider in a window overlapping the new one (localTime, localDate: its start). */
export function alreadyOnWaitlistError(p: ProviderNaming, existing: WaitlistWindow): FailedPreconditionError {
  const from = localMoment(existing.window_start.getTime(), p.time_zone);
  const to = localMoment(existing.window_end.getTime(), p.time_zone);
  const until = to.localDate === from.localDate ? to.localTime : `${to.localTime} on ${to.dateText}`;
  return new FailedPreconditionError(
    "ALREADY_ON_WAITLIST",
    `the patient is already on ${p.display_name}'s waitlist from ${from.text} until ${until}; a second entry for the same time is not needed`,
    { metadata: base(p, from, { endLocalTime: to.localTime, endLocalDate: to.localDate }) },
  );
}

/** TicketSummary is what an error says of the patient's queue ticket: the number the patient holds. */
export interface TicketSummary {
  /** number is the ticket number shown to the patient, e.g. "AL-003". */
  number: string;
}

/**
 * visitTookPlaceError is VISIT_TOOK_PLACE: cancelling, or marking as a no-show, an appointment whose
 * patient was already seen (the ticket was completed); complete the appointment instead.
 */
export function visitTookPlaceError(p: ProviderNaming, row: AppointmentRow, action: AppointmentAction, ticket: TicketSummary): FailedPreconditionError {
  const a = appointmentText(p, row);
  return new FailedPreconditionError(
    "VISIT_TOOK_PLACE",
    `the patient of ${a.sentence} has already been seen (ticket ${ticket.number} was completed), so it cannot be ${ACTION_TEXT[action]}; complete the appointment instead`,
    { metadata: base(p, a, { action, ticketNumber: ticket.number }) },
  );
}

/**
 * ticketEndedUnseenError is TICKET_NO_SHOW or TICKET_CANCELLED: completing an appointment whose
 * patient's ticket ended without a visit; what to do instead depends on which.
 */
export function ticketEndedUnseenError(p: ProviderNaming, row: AppointmentRow, ended: "NO_SHOW" | "CANCELLED", ticket: TicketSummary): FailedPreconditionError {
  const a = appointmentText(p, row);
  const text =
    ended === "NO_SHOW"
      ? `the patient of ${a.sentence} did not come when called (ticket ${ticket.number} was marked a no-show), so the visit cannot be recorded as done: mark the appointment as a no-show, or check the patient in again if they have arrived`
      : `the patient's ticket ${ticket.number} for ${a.sentence} was withdrawn from the queue, so the visit cannot be recorded as done: check the patient in again if they are here, or cancel the appointment`;
  return new FailedPreconditionError(ended === "NO_SHOW" ? "TICKET_NO_SHOW" : "TICKET_CANCELLED", text, { metadata: base(p, a, { ticketNumber: ticket.number }) });
}

/** appointmentChangedError is APPOINTMENT_CHANGED: the appointment (or its ticket) changed while this call worked on it; look again, then retry. */
export function appointmentChangedError(p: ProviderNaming, row: AppointmentRow, action: AppointmentAction): AbortedError {
  const a = appointmentText(p, row);
  return new AbortedError(
    "APPOINTMENT_CHANGED",
    `${a.sentence} changed while it was being ${ACTION_TEXT[action]} (the patient may just have been checked in or called); nothing was changed, look at it again and retry`,
    { metadata: base(p, a, { action }) },
  );
}

/**
 * peerError turns a failed call to another service into an error of this call: same code, message
 * and details, without the peer's response metadata (headers such as content-type must not leak
 * into this call's trailers).
 */
export function peerError(err: unknown): unknown {
  if (!(err instanceof ConnectError)) return err;
  return new ConnectError(err.rawMessage, err.code, undefined, err.details as never, err);
}

/** providerNotFoundError is PROVIDER_NOT_FOUND: no provider with this id. */
export function providerNotFoundError(providerId: string): NotFoundError {
  return new NotFoundError("provider", providerId, "PROVIDER_NOT_FOUND");
}

/** resourceNotFoundError is RESOURCE_NOT_FOUND: no room or device with this id. */
export function resourceNotFoundError(resourceId: string): NotFoundError {
  return new NotFoundError("resource", resourceId, "RESOURCE_NOT_FOUND");
}

/** appointmentNotFoundError is APPOINTMENT_NOT_FOUND: no appointment with this id, or, the same answer, someone else's. */
export function appointmentNotFoundError(appointmentId: string): NotFoundError {
  return new NotFoundError("appointment", appointmentId, "APPOINTMENT_NOT_FOUND");
}

/** lockTimeoutError is LOCK_TIMEOUT: the lock service did not answer in time while the call still had time (retryable). */
export function lockTimeoutError(): AbortedError {
  return new AbortedError("LOCK_TIMEOUT", "the booking system is busy and did not answer in time; retry in a moment");
}

/** waitlistConflictError is WRITE_CONFLICT: a join refused by the waitlist's constraint, whose entry was gone when read (retryable). */
export function waitlistConflictError(): AbortedError {
  return new AbortedError("WRITE_CONFLICT", "a concurrent change conflicted with this one; retry");
}
