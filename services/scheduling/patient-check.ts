// The patient check of scheduling's new bookings (BookAppointment without a hold, HoldSlot,
// BookSeries, JoinWaitlist): the patientId must be a patient record (runtime/clients/patient-directory.ts),
// asked before anything is written. Once an appointment is booked (BookAppointment, a confirmed hold,
// BookSeries), the locations of its appointments are recorded as places the patient is served, so
// that the reception of that location may then read the record; a hold or a waitlist entry records
// nothing. Reschedules, confirmations of a hold and accepted offers keep the patient they were made
// for: not checked again.
import type { HandlerContext } from "@connectrpc/connect";
import type { PatientDirectory } from "../runtime/clients/patient-directory.js";

/** PatientBooking is what a new booking says about its patient and where it is. */
export interface PatientBooking {
  patientId: string;
  providerId: string;
  visitTypeId?: string | undefined;
}

/** PatientCheck checks a new booking's patient with the patient directory, when one is configured. */
export class PatientCheck {
  constructor(private readonly directory: PatientDirectory | undefined) {}

  /** checked answers `v` once its patient is an active record (or at once when no directory is configured). */
  async checked<T extends PatientBooking>(ctx: HandlerContext, v: T): Promise<T> {
    await this.directory?.requireActive(ctx, v.patientId);
    return v;
  }

  /** served records the locations of booked appointments as places their patients are served, and answers `res`. */
  async served<R>(ctx: HandlerContext, res: R, appointments: readonly ({ patientId?: string; locationId?: string } | undefined)[]): Promise<R> {
    if (!this.directory) return res;
    const seen = new Set<string>();
    for (const a of appointments) {
      if (!a?.patientId || !a.locationId) continue;
      const key = `${a.patientId}\0${a.locationId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      await this.directory.servedAt(ctx, a.patientId, a.locationId);
    }
    return res;
  }
}
