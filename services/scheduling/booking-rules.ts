// What makes a time bookable, for every way an appointment gets one (book, reschedule, a waitlist
// offer): not in the past, not beyond the horizon, a slot of the provider's availability at an open location, a multiple
// of the slot length; and what a write answers when it finds the time taken (SLOT_TAKEN,
// RESOURCE_TAKEN, or SLOT_HELD / SLOT_HELD_FOR_OFFER when only a hold or a waitlist offer holds it).
import { FailedPreconditionError, InvalidArgumentError } from "../runtime/errors.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import type { ProviderRow } from "./db/provider.table.js";
import { countUpcoming, insertAppointment, lockPatientBookings, slotHolders } from "./repositories/appointment.repository.js";
import { TimeTakenError, type NewAppointment } from "./repositories/appointment.sql.js";
import { slotHeldError } from "./hold.errors.js";
import { beyondHorizonError, bookingInPastError, patientBookingLimitError, slotHeldForOfferError, slotRefusedError, slotTakenError } from "./scheduling.errors.js";
import { locationClosedError } from "./location.errors.js";
import { closureAt, explainSlotStart, isSlotStart, type Schedule } from "./slots.js";

/** SlotContext names the provider and time of a write, for the error when its time turns out taken. */
export interface SlotContext {
  /** provider is the provider whose time it is. */
  provider: ProviderRow;
  /** start is the appointment's start. */
  start: Date;
  /** blockedEnd is the end of the time the write blocks: the visit's end plus the provider's buffer. */
  blockedEnd: Date;
  /** moving is the appointment a reschedule moves (it holds its old time again once rolled back). */
  moving?: string;
}

/** slotTaken is SLOT_TAKEN or RESOURCE_TAKEN for the time of `at`, naming its provider and time. */
export function slotTaken(taken: TimeTakenError["taken"], at: SlotContext): FailedPreconditionError {
  return slotTakenError(at.provider, at.start.getTime(), taken);
}

/**
 * checkBookable refuses a start before now (BOOKING_IN_PAST) or beyond the booking horizon
 * (BEYOND_HORIZON): the rules for every way an appointment gets a time.
 */
export function checkBookable(provider: ProviderRow, start: Date, now: Date, horizonMs: number): void {
  if (start.getTime() < now.getTime()) throw bookingInPastError(provider, start.getTime());
  if (start.getTime() > now.getTime() + horizonMs) {
    throw beyondHorizonError(provider, start.getTime(), now.getTime(), horizonMs);
  }
}

/** checkSlot refuses a start that is not a slot of the provider's availability, with the one reason why (LOCATION_CLOSED first, then explainSlotStart's). */
export function checkSlot(provider: ProviderRow, schedule: Schedule, start: Date, durationMs: number): void {
  if (isSlotStart(schedule, start.getTime(), durationMs)) return;
  const closed = closureAt(schedule, start.getTime(), durationMs);
  if (closed) throw locationClosedError(closed);
  const verdict = explainSlotStart(schedule, start.getTime(), durationMs);
  throw slotRefusedError(provider, verdict.kind === "SLOT" ? { kind: "NOT_A_SLOT", date: "" } : verdict, start.getTime(), durationMs, schedule.slotMs);
}

/** checkDuration applies "one slot when unset" and requires a multiple of the slot length (INVALID_ARGUMENT). */
export function checkDuration(schedule: Schedule, durationMs: number | undefined): number {
  if (durationMs === undefined) return schedule.slotMs;
  if (durationMs % schedule.slotMs !== 0) {
    throw new InvalidArgumentError([{ field: "duration", description: `must be a multiple of the provider's slot duration (${schedule.slotMs / 60_000} min)`, reason: "NOT_A_MULTIPLE" }]);
  }
  return durationMs;
}

/**
 * checkUpcomingLimit, for a patient booking themselves (`limited`: their limit; undefined: staff, not
 * limited), takes the patient's lock for the rest of the transaction and refuses a booking beyond the
 * limit (PATIENT_BOOKING_LIMIT): concurrent bookings of the patient count each other's.
 */
export async function checkUpcomingLimit(trx: Db, patientId: string, now: Date, limited: number | undefined): Promise<void> {
  if (limited === undefined) return;
  await lockPatientBookings(trx, patientId);
  if ((await countUpcoming(trx, patientId, now)) >= limited) throw patientBookingLimitError(limited);
}

/** insertOrTaken inserts an appointment, turning its time found taken into FAILED_PRECONDITION SLOT_TAKEN or RESOURCE_TAKEN at `at`. */
export async function insertOrTaken(trx: Db, at: SlotContext, a: NewAppointment): Promise<AppointmentRow> {
  try {
    return await insertAppointment(trx, a);
  } catch (err) {
    if (err instanceof TimeTakenError) throw slotTaken(err.taken, at);
    throw err;
  }
}

/**
 * explainTaken tells time booked from time only held: SLOT_TAKEN becomes SLOT_HELD (a patient's hold
 * among them) or SLOT_HELD_FOR_OFFER (waitlist offers only), until the latest hold's end, when every
 * appointment holding the provider's time at `at` is PROPOSED. Other errors pass through. Reads through `db`, the database: call
 * it outside any transaction (after the failed one has rolled back; PGlite is one session).
 */
export async function explainTaken(db: Db, err: unknown, at: SlotContext): Promise<unknown> {
  if (!(err instanceof FailedPreconditionError) || err.reason !== "SLOT_TAKEN") return err;
  const holders = await slotHolders(db, at.provider.provider_id, { start: at.start.getTime(), end: at.blockedEnd.getTime() }, at.moving).catch(() => []);
  if (holders.length === 0 || holders.some((h) => h.status !== "PROPOSED" || h.offer_expires_at === null)) return err;
  const until = Math.max(...holders.map((h) => h.offer_expires_at!.getTime()));
  if (holders.some((h) => h.hold_id !== null)) return slotHeldError(at.provider, at.start.getTime(), until);
  return slotHeldForOfferError(at.provider, at.start.getTime(), until);
}
