/**
 * The patient check of IssueTicket (runtime/clients/patient-directory.ts): a new ticket naming a
 * patientId needs a patient record, asked before the ticket is written; once it is, the queue's
 * location is recorded as a place the patient is served.
 * Anonymous walk-ins (no patientId) need nothing; an appointment's ticket (check-in) was checked when
 * the appointment was booked, and an appointment booked before the patient directory keeps its id.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { PatientDirectory } from "../runtime/clients/patient-directory.js";
import type { Db } from "./db/database.js";
import { findQueue } from "./repositories/queue.repository.js";

/** TicketPatientCheck checks a new ticket's patient with the patient directory, when one is configured. */
export class TicketPatientCheck {
  constructor(
    private readonly db: Db,
    private readonly directory: PatientDirectory | undefined,
  ) {}

  /**
   * check refuses a ticket whose patientId is no active patient record (PATIENT_NOT_FOUND,
   * PATIENT_MERGED, PATIENT_SERVICE_UNAVAILABLE); answers the queue's location to pass to served()
   * once the ticket is issued, or undefined when nothing was checked.
   */
  async check(ctx: HandlerContext, v: { queueId: string; patientId: string | undefined; appointmentId: string | undefined }): Promise<string | undefined> {
    if (!this.directory || v.patientId === undefined || v.appointmentId !== undefined) return undefined;
    const queue = await findQueue(this.db, v.queueId);
    // No such queue: IssueTicket answers QUEUE_NOT_FOUND itself.
    if (!queue) return undefined;
    await this.directory.requireActive(ctx, v.patientId);
    return queue.location_id;
  }

  /** served records, once the ticket is issued, that its patient is served at the queue's location (so its staff may read the record). */
  async served(ctx: HandlerContext, patientId: string | undefined, locationId: string | undefined): Promise<void> {
    if (this.directory && patientId !== undefined && locationId !== undefined) await this.directory.servedAt(ctx, patientId, locationId);
  }
}
