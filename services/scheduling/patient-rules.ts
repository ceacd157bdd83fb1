// What a patient may do to their own appointments themselves, beyond what staff may: the one place
// that decides until when a patient may still cancel, reschedule or accept an appointment (issue 20's
// per-visit-type patient cancellation cutoff belongs here). Staff are not bound by it: reception
// cancels an appointment that has started, or reschedules a missed one. The per-patient limits
// (upcoming appointments, waitlist entries) and who may be offered freed time are decided here too;
// the service counts under one per-patient lock (lockPatientBookings) and asks these functions.
import type { AppointmentRow } from "./db/appointment.table.js";
import type { Interval } from "./slots.js";

/** patientChangeClosesAt is the instant (ms) from which a patient may no longer change their appointment themselves: its start. */
export function patientChangeClosesAt(row: Pick<AppointmentRow, "start_at">): number {
  return row.start_at.getTime();
}

/** patientMayChange tells whether a patient may still cancel, reschedule or accept their appointment themselves at `now`. */
export function patientMayChange(row: Pick<AppointmentRow, "start_at">, now: Date): boolean {
  return now.getTime() < patientChangeClosesAt(row);
}

/**
 * patientSelfLimit is the limit a caller acting on their own behalf is held to: `configured` for a
 * patient, undefined (not limited) for staff or when `configured` is 0. Used for the upcoming
 * appointments (SCHEDULING_MAX_UPCOMING_PER_PATIENT) and the waitlist entries
 * (SCHEDULING_MAX_WAITLIST_PER_PATIENT) alike.
 */
export function patientSelfLimit(role: string, configured: number): number | undefined {
  return role === "patient" && configured > 0 ? configured : undefined;
}

/**
 * patientCouldTake tells whether a patient whose time is promised away as `commitments` (their
 * appointments that have not ended and the offers held for them) could accept `slot` themselves:
 * below `limit` (0: no limit) counting those, and with none of them overlapping it. A waitlist offer
 * goes only to such a patient; the others are passed over.
 */
export function patientCouldTake(commitments: readonly Interval[], slot: Interval, limit: number): boolean {
  if (limit > 0 && commitments.length >= limit) return false;
  return !commitments.some((c) => c.start < slot.end && slot.start < c.end);
}
