// The patient check of new bookings and tickets (issue 21): a patientId named by a new booking, hold,
// series, waitlist entry or ticket must be a record of the patient service. Scheduling and queue ask
// PatientService.ResolvePatient (service token, through the peers) before they write anything; once a
// booking or ticket is written, they tell it where the patient is served, which the patient service
// records so that staff of that location may read the record (never before: a refused booking opens
// no record to anyone). Existing rows with older ids stay readable: only new ones are
// checked. Built by each module from PATIENT_CHECK; a service class constructed without it (unit
// tests) checks nothing.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { callerOf } from "../caller.js";
import { outgoingCallOptions } from "./grpc-transport.js";
import type { Logger } from "../observability/logger.js";
import type { Peers } from "./peers.js";
import { patientMergedError, patientNotFoundError, patientServiceUnavailableError } from "./patient-check.errors.js";

/** PATIENT_CHECK_TIMEOUT_MS bounds one ResolvePatient call: a booking waits no longer for the patient service. */
export const PATIENT_CHECK_TIMEOUT_MS = 5_000;

/** PatientDirectory is the port scheduling and queue check a new booking's or ticket's patientId through. */
export interface PatientDirectory {
  /**
   * requireActive resolves `patientId`: FAILED_PRECONDITION PATIENT_NOT_FOUND when no record has the
   * id, PATIENT_MERGED (metadata survivorPatientId) when it was merged into another record,
   * UNAVAILABLE PATIENT_SERVICE_UNAVAILABLE when the patient service cannot answer.
   */
  requireActive(ctx: HandlerContext, patientId: string): Promise<void>;
  /**
   * servedAt records, once a booking or ticket is written, that the patient is served at
   * `locationId`, so that staff of that location may read the record. Only after the write: a
   * refused booking must not open a record to anyone. Best effort: when it fails, staff there need an
   * accessReason until the patient's next booking there (logged, never thrown).
   */
  servedAt(ctx: HandlerContext, patientId: string, locationId: string): Promise<void>;
}

/** PeerPatientDirectory asks PatientService.ResolvePatient through the peers (in-process or over gRPC). */
export class PeerPatientDirectory implements PatientDirectory {
  constructor(
    private readonly peers: Peers,
    private readonly logger?: Logger,
  ) {}

  async requireActive(ctx: HandlerContext, patientId: string): Promise<void> {
    let answer: { exists: boolean; survivorPatientId: string };
    try {
      answer = await this.resolve(ctx, patientId, "");
    } catch (err) {
      // The caller gave up (its deadline or cancellation): that is its own ending, not the directory's.
      if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason ?? err, Code.Canceled);
      throw patientServiceUnavailableError(err);
    }
    if (!answer.exists) throw patientNotFoundError(patientId);
    if (answer.survivorPatientId !== patientId) throw patientMergedError(patientId, answer.survivorPatientId);
  }

  async servedAt(ctx: HandlerContext, patientId: string, locationId: string): Promise<void> {
    try {
      await this.resolve(ctx, patientId, locationId);
    } catch (err) {
      this.logger?.warn({ code: Code[ConnectError.from(err).code] }, "could not record where a patient was served: staff there need an access reason to read the record until the patient's next booking there");
    }
  }

  private resolve(ctx: HandlerContext, patientId: string, locationId: string) {
    const opts = outgoingCallOptions(ctx, { onBehalfOf: callerOf(ctx).subject, maxTimeoutMs: PATIENT_CHECK_TIMEOUT_MS });
    return this.peers.client(PatientService).resolvePatient({ patientId, locationId }, opts);
  }
}

/** patientDirectoryFrom is the check a module builds from PATIENT_CHECK: undefined (no check) when off. */
export function patientDirectoryFrom(config: { patientCheck: boolean } | undefined, peers: Peers | undefined, logger?: Logger): PatientDirectory | undefined {
  return config?.patientCheck && peers ? new PeerPatientDirectory(peers, logger) : undefined;
}
