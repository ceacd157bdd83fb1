// The errors of the patient check (patient-directory.ts), in a file of their own: the patient service
// answers PATIENT_MERGED too, and importing them calls no service (the call-graph test reads imports).
import { FailedPreconditionError, UnavailableError } from "../errors.js";

/** patientNotFoundError is PATIENT_NOT_FOUND: no patient record has this id (the message names no id). */
export function patientNotFoundError(patientId: string): FailedPreconditionError {
  return new FailedPreconditionError("PATIENT_NOT_FOUND", "there is no patient record with this id; register the patient first", { metadata: { patientId } });
}

/** patientMergedError is PATIENT_MERGED: the record was merged into another; the request must name the survivor. */
export function patientMergedError(patientId: string, survivorPatientId: string): FailedPreconditionError {
  return new FailedPreconditionError(
    "PATIENT_MERGED",
    "this patient record was merged into another record; use the surviving record (search the patient again)",
    { metadata: { patientId, survivorPatientId } },
  );
}

/** patientServiceUnavailableError is PATIENT_SERVICE_UNAVAILABLE: the patient could not be checked, so nothing was written. */
export function patientServiceUnavailableError(cause: unknown): UnavailableError {
  return new UnavailableError("PATIENT_SERVICE_UNAVAILABLE", "the patient directory cannot be reached, so the patient cannot be checked right now; nothing changed, retry shortly", { cause });
}
