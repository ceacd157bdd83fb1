// The patient check of new bookings and tickets (issue 21): a patientId named by a new booking, hold,
// series, waitlist entry or ticket must be a record of the patient service. Scheduling and queue ask
// PatientService.ResolvePatient (service token, through the peers) before they write anything, with
// the location where the patient is being served, which the patient service records so that staff of
// that location may read the record. Existing rows with older ids stay readable: only new ones are
// checked. Built by each module from PATIENT_CHECK; a service class constructed without it (unit
// tests) checks nothing.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { callerOf } from "../caller.js";
import { outgoingCallOptions } from "./grpc-transport.js";
import type { Peers } from "./peers.js";
import { patientMergedError, patientNotFoundError, patientServiceUnavailableError } from "./patient-check.errors.js";

/** PATIENT_CHECK_TIMEOUT_MS bounds one ResolvePatient call: a booking waits no longer for the patient service. */
export const PATIENT_CHECK_TIMEOUT_MS = 5_000;

/** PatientDirectory is the port scheduling and queue check a new booking's or ticket's patientId through. */
export interface PatientDirectory {
  /**
   * requireActive resolves `patientId` and records `locationId` as a place the patient is served:
   * FAILED_PRECONDITION PATIENT_NOT_FOUND when no record has the id, PATIENT_MERGED (metadata
   * survivorPatientId) when it was merged into another record, UNAVAILABLE
   * PATIENT_SERVICE_UNAVAILABLE when the patient service cannot answer.
   */
  requireActive(ctx: HandlerContext, patientId: string, locationId: string): Promise<void>;
}

/** PeerPatientDirectory asks PatientService.ResolvePatient through the peers (in-process or over gRPC). */
export class PeerPatientDirectory implements PatientDirectory {
  constructor(private readonly peers: Peers) {}

  async requireActive(ctx: HandlerContext, patientId: string, locationId: string): Promise<void> {
    const opts = outgoingCallOptions(ctx, { onBehalfOf: callerOf(ctx).subject, maxTimeoutMs: PATIENT_CHECK_TIMEOUT_MS });
    let answer: { exists: boolean; survivorPatientId: string };
    try {
      answer = await this.peers.client(PatientService).resolvePatient({ patientId, locationId }, opts);
    } catch (err) {
      // The caller gave up (its deadline or cancellation): that is its own ending, not the directory's.
      if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason ?? err, Code.Canceled);
      throw patientServiceUnavailableError(err);
    }
    if (!answer.exists) throw patientNotFoundError(patientId);
    if (answer.survivorPatientId !== patientId) throw patientMergedError(patientId, answer.survivorPatientId);
  }
}

/** patientDirectoryFrom is the check a module builds from PATIENT_CHECK: undefined (no check) when off. */
export function patientDirectoryFrom(config: { patientCheck: boolean } | undefined, peers: Peers | undefined): PatientDirectory | undefined {
  return config?.patientCheck && peers ? new PeerPatientDirectory(peers) : undefined;
}
