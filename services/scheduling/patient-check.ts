// The patient check of scheduling's new bookings (BookAppointment without a hold, HoldSlot,
// BookSeries, JoinWaitlist): the patientId must be a patient record (runtime/clients/patient-directory.ts),
// asked before anything is written, with the location the patient is booked at (the visit type's, else
// the provider's own) so that the reception of that location may then read the record. Reschedules,
// confirmations of a hold and accepted offers keep the patient they were made for: not checked again.
import type { HandlerContext } from "@connectrpc/connect";
import type { PatientDirectory } from "../runtime/clients/patient-directory.js";
import { DEFAULT_LOCATION_ID } from "../runtime/auth/location-scope.js";
import type { Db } from "./db/database.js";
import { findProvider } from "./repositories/provider.repository.js";
import { findVisitType } from "./repositories/visit-type.repository.js";

/** PatientBooking is what a new booking says about its patient and where it is. */
export interface PatientBooking {
  patientId: string;
  providerId: string;
  visitTypeId?: string | undefined;
}

/** PatientCheck checks a new booking's patient with the patient directory, when one is configured. */
export class PatientCheck {
  constructor(
    private readonly db: Db,
    private readonly directory: PatientDirectory | undefined,
  ) {}

  /** checked answers `v` once its patient is an active record (or at once when no directory is configured). */
  async checked<T extends PatientBooking>(ctx: HandlerContext, v: T): Promise<T> {
    if (!this.directory) return v;
    await this.directory.requireActive(ctx, v.patientId, await this.locationOf(v));
    return v;
  }

  /** locationOf is where the booking is: its visit type's location, else the provider's own (the default location when neither is known yet). */
  private async locationOf(v: PatientBooking): Promise<string> {
    const visitType = v.visitTypeId ? await findVisitType(this.db, v.visitTypeId) : undefined;
    if (visitType) return visitType.location_id;
    return (await findProvider(this.db, v.providerId))?.location_id ?? DEFAULT_LOCATION_ID;
  }
}
