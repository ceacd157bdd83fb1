// The domain errors of patient records: one stable reason each, a message staff can act on, and never
// a value of any patient's record in it (not the caller's, not another patient's whose national id or
// record number is already taken); ids only in ErrorInfo metadata, and only the record asked about.
import { AbortedError, AlreadyExistsError, FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../runtime/errors.js";

/** patientNotFoundError is PATIENT_NOT_FOUND: no record with this id. */
export function patientNotFoundError(patientId: string): NotFoundError {
  return new NotFoundError("patient", patientId, "PATIENT_NOT_FOUND");
}

/** patientIdInUseError is PATIENT_ID_IN_USE: a create with a client-chosen id that another record holds. */
export function patientIdInUseError(patientId: string): AlreadyExistsError {
  return new AlreadyExistsError("PATIENT_ID_IN_USE", "a patient record with this id already exists; choose another id, or leave it empty for a new one", {
    metadata: { patientId },
  });
}

/** nationalIdInUseError is NATIONAL_ID_IN_USE: another record holds this T.C. Kimlik No (which one is not said: the caller may not be allowed to read it). */
export function nationalIdInUseError(field: string): AlreadyExistsError {
  return new AlreadyExistsError(
    "NATIONAL_ID_IN_USE",
    "another patient record already has this national id; search the directory for it instead of registering the patient again",
    { metadata: { field } },
  );
}

/** medicalRecordNumberInUseError is MEDICAL_RECORD_NUMBER_IN_USE: another record of the location has this medical record number. */
export function medicalRecordNumberInUseError(field: string, locationId: string): AlreadyExistsError {
  return new AlreadyExistsError(
    "MEDICAL_RECORD_NUMBER_IN_USE",
    "another patient at this location already has this medical record number; check the number, or search the directory for that patient",
    { metadata: { field, locationId } },
  );
}

/** versionMismatchError is VERSION_MISMATCH: the record changed since the client read it (ABORTED: read it again and redo the change). */
export function versionMismatchError(currentVersion: string): AbortedError {
  return new AbortedError("VERSION_MISMATCH", "this patient record was changed by someone else since you opened it; open it again and redo your change", {
    metadata: { currentVersion },
  });
}

/** patientMergedError is PATIENT_MERGED: the record was merged into another, which is the one to change. */
export function patientMergedError(mergedIntoPatientId: string): FailedPreconditionError {
  return new FailedPreconditionError("PATIENT_MERGED", "this patient record was merged into another record; open that one and make the change there", {
    metadata: { mergedIntoPatientId },
  });
}

/** accessReasonRequiredError is ACCESS_REASON_REQUIRED: the patient is not of the caller's locations; reading them needs an accessReason, which is audited. */
export function accessReasonRequiredError(): PermissionDeniedError {
  return new PermissionDeniedError(
    "this patient is not registered or booked at a location you work at; to open the record anyway, give the reason you need it (it is recorded in the audit log)",
    "ACCESS_REASON_REQUIRED",
  );
}

/** notChangeableByPatientError is NOT_CHANGEABLE_BY_PATIENT: a patient changing more of their record than contacts, language and consents. */
export function notChangeableByPatientError(path: string): PermissionDeniedError {
  return new PermissionDeniedError(
    "patients may change only their phone numbers, email, preferred language and consents; ask the clinic's reception to change the rest of your record",
    "NOT_CHANGEABLE_BY_PATIENT",
    { metadata: { field: path } },
  );
}
