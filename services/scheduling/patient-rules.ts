// What a patient may do to their own appointments themselves, beyond what staff may: the one place
// that decides until when a patient may still cancel, reschedule or accept an appointment (issue 20's
// per-visit-type patient cancellation cutoff belongs here). Staff are not bound by it: reception
// cancels an appointment that has started, or reschedules a missed one.
import type { AppointmentRow } from "./db/database.js";

/** patientChangeClosesAt is the instant (ms) from which a patient may no longer change their appointment themselves: its start. */
export function patientChangeClosesAt(row: Pick<AppointmentRow, "start_at">): number {
  return row.start_at.getTime();
}

/** patientMayChange tells whether a patient may still cancel, reschedule or accept their appointment themselves at `now`. */
export function patientMayChange(row: Pick<AppointmentRow, "start_at">, now: Date): boolean {
  return now.getTime() < patientChangeClosesAt(row);
}
