// The error of a sealed free-text value this process cannot open (reason-vault.ts).
import { UnavailableError } from "../runtime/errors.js";

/**
 * reasonUnreadableError is UNAVAILABLE REASON_UNREADABLE: an appointment's reason (or another sealed
 * free text) was sealed with a key that SCHEDULING_ENCRYPTION_KEYS does not hold, or was altered in
 * the database. It is an operator's matter (the keys), never the caller's: the message names the
 * setting and nothing of the value.
 */
export function reasonUnreadableError(): UnavailableError {
  return new UnavailableError(
    "REASON_UNREADABLE",
    "appointment details cannot be decrypted: SCHEDULING_ENCRYPTION_KEYS on this server does not hold the key they were sealed with (restore the keys that came with the data); retry once an operator has fixed it",
  );
}
