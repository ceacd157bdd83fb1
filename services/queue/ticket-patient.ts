/**
 * The patient check of IssueTicket (runtime/clients/patient-directory.ts): a new ticket naming a
 * patientId needs a patient record, asked with the queue's location before the ticket is written.
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

  /** check refuses a ticket whose patientId is no active patient record (PATIENT_NOT_FOUND, PATIENT_MERGED, PATIENT_SERVICE_UNAVAILABLE). */
  async check(ctx: HandlerContext, v: { queueId: string; patientId: string | undefined; appointmentId: string | undefined }): Promise<void> {
    if (!this.directory || v.patientId === undefined || v.appointmentId !== undefined) return;
    const queue = await findQueue(this.db, v.queueId);
    // No such queue: IssueTicket answers QUEUE_NOT_FOUND itself.
    if (queue) await this.directory.requireActive(ctx, v.patientId, queue.location_id);
  }
}
