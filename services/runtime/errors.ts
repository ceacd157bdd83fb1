import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { isInvalidatedStatement } from "./db/prepared-statements.js";

/** FieldViolation is one problem with one request field, as google.rpc.BadRequest reports it. */
export interface FieldViolation {
  /** Path to the field in proto3 JSON (lowerCamel) names, e.g. "weeklyHours[2].startTime". */
  field: string;
  /** What is wrong and how to fix it, for a person. */
  description: string;
}

/**
 * DomainError is the base of the errors that domain code throws. Each subclass has a stable `reason`
 * (e.g. "SLOT_UNAVAILABLE") and one gRPC code; the error interceptor turns it into a ConnectError.
 */
export class DomainError extends Error {
  /** code is the canonical status this error maps to. */
  readonly code: Code;
  /** reason is a stable machine-readable name of the error. */
  readonly reason: string;

  constructor(code: Code, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.reason = reason;
  }
}

/** InvalidArgumentError is malformed input, with one violation per bad field. */
export class InvalidArgumentError extends DomainError {
  /** violations lists every bad field found. */
  readonly violations: FieldViolation[];

  constructor(violations: FieldViolation[], message?: string) {
    super(
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
      message ?? violations.map((v) => `${v.field}: ${v.description}`).join("; "),
    );
    this.violations = violations;
  }
}

/** NotFoundError is a named thing that does not exist. */
export class NotFoundError extends DomainError {
  constructor(what: string, id: string, reason = "NOT_FOUND") {
    super(Code.NotFound, reason, `${what} ${JSON.stringify(id)} not found`);
  }
}

/** FailedPreconditionError is well-formed input that is not possible now. */
export class FailedPreconditionError extends DomainError {
  constructor(reason: string, message: string) {
    super(Code.FailedPrecondition, reason, message);
  }
}

/** AbortedError is contention or a fencing rejection; the caller may retry. */
export class AbortedError extends DomainError {
  constructor(reason: string, message: string) {
    super(Code.Aborted, reason, message);
  }
}

/** AlreadyExistsError is a reused idempotency key or id with different parameters. */
export class AlreadyExistsError extends DomainError {
  constructor(reason: string, message: string) {
    super(Code.AlreadyExists, reason, message);
  }
}

/** PermissionDeniedError is an authenticated caller without the right to do this. */
export class PermissionDeniedError extends DomainError {
  constructor(message: string) {
    super(Code.PermissionDenied, "PERMISSION_DENIED", message);
  }
}

/** UnauthenticatedError is a missing, expired or invalid token. */
export class UnauthenticatedError extends DomainError {
  constructor(message: string) {
    super(Code.Unauthenticated, "UNAUTHENTICATED", message);
  }
}

/** UnavailableError is a dependency that is down with no fallback. */
export class UnavailableError extends DomainError {
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(Code.Unavailable, reason, message, options);
  }
}

/** UnimplementedError marks behaviour that a later release fills in. */
export class UnimplementedError extends DomainError {
  constructor(procedure: string) {
    super(Code.Unimplemented, "UNIMPLEMENTED", `${procedure} is not implemented yet`);
  }
}

/** SQLSTATEs of a lost or refused database connection: class 08 (connection exception), 57P01-57P03 (the server terminated the session or is shutting down or starting), 53300 (too many connections). */
const CONNECTION_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/** Messages of node-postgres when the connection is gone. */
const CONNECTION_MESSAGE = /^(Connection terminated|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;
/** pg-pool's message when no pooled connection came free in time, or a new one could not be opened. */
const POOL_TIMEOUT_MESSAGE = /^timeout exceeded when trying to connect/;
const SOCKET_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * isConnectionLost tells whether a database error means the connection was lost or refused (the
 * server terminated the session, restarted, or is unreachable): a dependency failure, UNAVAILABLE,
 * which the caller may retry with the same requestId; never INTERNAL.
 */
export function isConnectionLost(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (CONNECTION_SQLSTATE.test(code) || SOCKET_ERRNO.has(code))) return true;
  return CONNECTION_MESSAGE.test(err.message) || POOL_TIMEOUT_MESSAGE.test(err.message);
}

/** isAbortError tells whether an error came from an aborted AbortSignal. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}

/**
 * toConnectError maps anything thrown by a handler to a ConnectError: domain errors keep their code
 * and get details (google.rpc.BadRequest for field violations), ConnectErrors pass through, and
 * anything else is INTERNAL with a generic message (the original stays as the cause, for the log).
 */
export function toConnectError(err: unknown, signal?: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof Error && err.name === "TimeoutError") {
    return new ConnectError("the deadline passed", Code.DeadlineExceeded, undefined, undefined, err);
  }
  if (err instanceof InvalidArgumentError) {
    return new ConnectError(
      err.message,
      err.code,
      undefined,
      [{ desc: BadRequestSchema, value: { fieldViolations: err.violations } }],
      err,
    );
  }
  if (err instanceof DomainError) {
    return new ConnectError(err.message, err.code, undefined, undefined, err);
  }
  if (isAbortError(err) || signal?.aborted) {
    const reason = signal?.reason;
    if (reason instanceof ConnectError) return reason;
    return new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, err);
  }
  if (err instanceof Error && (err as { code?: unknown }).code === "DATABASE_UNAVAILABLE") {
    return new ConnectError(err.message, Code.Unavailable, undefined, undefined, err);
  }
  if (isConnectionLost(err)) {
    // A pool timeout is a busy or unreachable database rather than a lost connection.
    const message = POOL_TIMEOUT_MESSAGE.test((err as Error).message)
      ? "no database connection came free in time (the database is overloaded or unreachable); retry"
      : "the database connection was lost; retry";
    return new ConnectError(message, Code.Unavailable, undefined, undefined, err);
  }
  if (isInvalidatedStatement(err)) {
    return new ConnectError("a database statement of this request became invalid (the schema changed while it ran); retry", Code.Unavailable, undefined, undefined, err);
  }
  return new ConnectError("internal error; see the server log for this request id", Code.Internal, undefined, undefined, err);
}
