// The lock service's domain errors; the runtime's error mapper turns them into status codes.
import { AbortedError, FailedPreconditionError, UnavailableError } from "../runtime/errors.js";

/** LockHeldError is Acquire finding the resource still held when waitTimeout ran out: ABORTED, retryable. */
export class LockHeldError extends AbortedError {
  constructor(resource: string, waitedMs: number) {
    super("LOCK_HELD", `resource ${JSON.stringify(resource)} is held by another lease (waited ${waitedMs} ms); retry later`);
  }
}

/** LeaseLostError is Extend of a lease that expired, was released or was taken over: FAILED_PRECONDITION. */
export class LeaseLostError extends FailedPreconditionError {
  constructor(resource: string, why = "it expired, was released or force-released") {
    super("LEASE_LOST", `the lease on ${JSON.stringify(resource)} is no longer held: ${why}; acquire a new one`);
  }
}

/** LockBackendUnavailableError is a lock backend the call needs not answering (Postgres, or the Redis a lease lives on), or no fencing epoch agreed: UNAVAILABLE, retryable. */
export class LockBackendUnavailableError extends UnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LOCK_BACKEND_UNAVAILABLE", message, options);
  }
}
