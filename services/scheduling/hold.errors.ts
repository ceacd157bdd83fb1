// The errors of holds (HoldSlot, and BookAppointment confirming one): one stable reason each, a
// message in the clinic's local time with the provider's name (never an id), and the values a
// translated message needs as ErrorInfo.metadata. The README's "Error reasons" section lists them.
import { FailedPreconditionError, NotFoundError } from "../runtime/errors.js";
import { base, dateText, localMoment, slotHeldForOfferError, type ProviderNaming } from "./scheduling.errors.js";

/** holdNotFoundError is NOT_FOUND HOLD_NOT_FOUND: no such hold, or (the same answer) another patient's. */
export function holdNotFoundError(holdId: string): NotFoundError {
  return new NotFoundError("hold", holdId, "HOLD_NOT_FOUND");
}

/** holdLimitError is HOLD_LIMIT: the patient already has `limit` unexpired holds. */
export function holdLimitError(limit: number): FailedPreconditionError {
  const count = limit === 1 ? "a held time" : `${limit} held times`;
  return new FailedPreconditionError("HOLD_LIMIT", `the patient already has ${count} waiting to be confirmed, the most allowed at once; confirm or release one, or wait until one expires`, {
    metadata: { limit: String(limit) },
  });
}

/**
 * slotHeldError is SLOT_HELD: the time is not booked but held for a patient finishing their booking
 * until `holdEnd` (a PROPOSED hold); it is free again then unless they confirm it. localTime,
 * localDate: the hold's end; appointmentLocalTime, appointmentLocalDate: the time asked for.
 */
export function slotHeldError(p: ProviderNaming, start: number, holdEnd: number): FailedPreconditionError {
  // The same metadata as a waitlist offer's hold: when it ends, and the time asked for.
  const metadata = slotHeldForOfferError(p, start, holdEnd).metadata ?? {};
  const until = metadata.localDate === metadata.appointmentLocalDate ? metadata.localTime : `${metadata.localTime} on ${dateText(metadata.localDate)}`;
  return new FailedPreconditionError(
    "SLOT_HELD",
    `${p.display_name} at ${localMoment(start, p.time_zone).text} is held for another patient finishing their booking until ${until}; choose another time, or look again after ${metadata.localTime}`,
    { metadata },
  );
}

/**
 * holdExpiredError is HOLD_EXPIRED: the hold lapsed at `expiredAt` before it was confirmed; nothing
 * was booked. `stillFree` says whether the provider is still free then (metadata timeStillFree).
 */
export function holdExpiredError(p: ProviderNaming, start: number, expiredAt: number, stillFree: boolean): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const lapsed = localMoment(expiredAt, p.time_zone);
  const next = stillFree ? "the time is still free: hold or book it again" : "the time has been taken since: choose another time";
  return new FailedPreconditionError("HOLD_EXPIRED", `the hold of ${p.display_name} at ${at.text} expired at ${lapsed.localTime} and nothing was booked; ${next}`, {
    metadata: base(p, lapsed, { appointmentLocalTime: at.localTime, appointmentLocalDate: at.localDate, timeStillFree: String(stillFree) }),
  });
}

/** holdUsedError is HOLD_ALREADY_USED: the hold was confirmed or released already (status: what it is now). */
export function holdUsedError(p: ProviderNaming, start: number, status: string): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  const what = status === "CANCELLED" ? "was released" : "was already confirmed";
  return new FailedPreconditionError("HOLD_ALREADY_USED", `the hold of ${p.display_name} at ${at.text} ${what}; it cannot be confirmed again`, {
    metadata: base(p, at, { status }),
  });
}

/** holdMismatchError is HOLD_MISMATCH: a confirmation naming another provider, patient, time, visit type or rooms than the hold (`field`). */
export function holdMismatchError(p: ProviderNaming, start: number, field: string): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  return new FailedPreconditionError(
    "HOLD_MISMATCH",
    `the hold is for ${p.display_name} at ${at.text}, but the booking names another ${field}; leave it empty or send the held one, or hold the other time first`,
    { metadata: base(p, at, { field }) },
  );
}

/** notAnOfferError is NOT_A_WAITLIST_OFFER: AcceptOffer of a hold, which is confirmed with BookAppointment instead. */
export function notAnOfferError(p: ProviderNaming, start: number): FailedPreconditionError {
  const at = localMoment(start, p.time_zone);
  return new FailedPreconditionError("NOT_A_WAITLIST_OFFER", `${p.display_name} at ${at.text} is held for checkout, not offered from the waitlist; confirm it by booking with its hold`, {
    metadata: base(p, at),
  });
}
