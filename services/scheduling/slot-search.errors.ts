// The errors of SearchSlots that no other part of scheduling gives; README's "Error reasons" lists them.
import { OWN_RECORDS_ONLY } from "../runtime/auth/auth-interceptor.js";
import { PermissionDeniedError } from "../runtime/errors.js";

/** otherPatientSearchError is PERMISSION_DENIED OWN_RECORDS_ONLY: a patient searching with another patient's id (the auth interceptor's reason for the same mistake). */
export function otherPatientSearchError(): PermissionDeniedError {
  return new PermissionDeniedError("a patient may search free times only for themselves: leave patientId empty or send your own id", OWN_RECORDS_ONLY, {
    metadata: { role: "patient", field: "patientId" },
  });
}
