import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** ERROR_DOMAIN is google.rpc.ErrorInfo's domain on every domain error this system answers. */
export const ERROR_DOMAIN = "medschedule.io";

/** ErrorMetadata are the values a client needs to say an error in its own words and language (ErrorInfo.metadata): lowerCamel keys, string values, e.g. { localTime: "09:30", timeZone: "Europe/Istanbul" }. */
export type ErrorMetadata = Record<string, string>;
import { classifyDatabaseFailure } from "./db/pg-errors.js";

/** ENUM_TOKEN is the shape of an enum value's name: upper-case letters, digits and underscores, at most 64 characters. */
const ENUM_TOKEN = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * quotable is how an error message may show a value the client sent, or undefined when it must not
 * show it. Messages end up in logs and on screens, and what a client sends may be patient data (a
 * visit reason, a name, a national id typed into the wrong field), so the rule is: a message names
 * the field and what is expected, and quotes only what cannot be patient data: a token shaped like an
 * enum name ("TICKET_PRIORITY_VIP"), a number or a boolean (pass these only from a numeric field's
 * range check, never a number sent where text was expected), and lengths and counts. Free text, ids
 * and values of the wrong JSON type are never quoted; an id an engineer needs goes into the error's
 * ErrorInfo metadata, which the log does not carry.
 */
export function quotable(value: unknown): string | undefined {
  if (typeof value === "string") return ENUM_TOKEN.test(value) ? JSON.stringify(value) : undefined;
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === "bigint" || typeof value === "boolean") return String(value);
  return undefined;
}

/** FieldViolation is one problem with one request field, as google.rpc.BadRequest reports it. */
export interface FieldViolation {
  /** Path to the field in proto3 JSON (lowerCamel) names, e.g. "weeklyHours[2].startTime". */
  field: string;
  /** What is wrong and how to fix it, for a person. */
  description: string;
  /** reason is the violation's stable UPPER_SNAKE code (google.rpc.BadRequest.FieldViolation.reason), e.g. "REQUIRED". */
  reason?: string;
}

/** DomainErrorOptions are a domain error's optional parts. */
export interface DomainErrorOptions {
  /** cause is the underlying error, kept for the log. */
  cause?: unknown;
  /** metadata are the values a translated message needs (ErrorInfo.metadata). */
  metadata?: ErrorMetadata;
}

/**
 * DomainError is the base of the errors that domain code throws. Each has a stable `reason` (e.g.
 * "SLOT_TAKEN"), one gRPC code, a message a person can act on, and the `metadata` a client needs to
 * say it in its own language; toConnectError sends reason and metadata as google.rpc.ErrorInfo.
 */
export class DomainError extends Error {
  /** code is the canonical status this error maps to. */
  readonly code: Code;
  /** reason is a stable machine-readable name of the error, UPPER_SNAKE_CASE. */
  readonly reason: string;
  /** metadata are the values a translated message needs (ErrorInfo.metadata). */
  readonly metadata: ErrorMetadata;

  constructor(code: Code, reason: string, message: string, options?: DomainErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.reason = reason;
    this.metadata = options?.metadata ?? {};
  }
}

/** MALFORMED_REQUEST is the ErrorInfo reason of a request that cannot be read at all (not JSON, not the message's binary form, a bad Connect GET query): no field to name. */
export const MALFORMED_REQUEST = "MALFORMED_REQUEST";

/** MalformedRequestError is a request body or query that does not decode as the call's request message, with no field to name (INVALID_ARGUMENT, reason MALFORMED_REQUEST). */
export class MalformedRequestError extends DomainError {
  constructor(message: string) {
    super(Code.InvalidArgument, MALFORMED_REQUEST, message);
  }
}

/** InvalidArgumentError is malformed input, with one violation per bad field. */
export class InvalidArgumentError extends DomainError {
  /** violations lists every bad field found. */
  readonly violations: FieldViolation[];

  constructor(violations: FieldViolation[], message?: string) {
    super(
      Code.InvalidArgument,
      violations.length > 0 ? "INVALID_ARGUMENT" : MALFORMED_REQUEST,
      message ?? violations.map((v) => `${v.field}: ${v.description}`).join("; "),
    );
    this.violations = violations;
  }
}

/**
 * NotFoundError is a named thing that does not exist, or that the caller may not see (the same answer,
 * so nobody can probe which ids exist). The message says it in words, without the id; the id is in
 * the metadata as `<what>Id` (e.g. appointmentId) for engineers and clients.
 */
export class NotFoundError extends DomainError {
  constructor(what: string, id: string, reason = "NOT_FOUND", options?: DomainErrorOptions) {
    const key = `${what.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}Id`;
    super(Code.NotFound, reason, `this ${what} does not exist or is not yours to see; refresh the list`, {
      ...options,
      metadata: { [key]: id, ...options?.metadata },
    });
  }
}

/** DomainErrorOfCode constructs the domain errors of one gRPC code from their reason, message and options. */
type DomainErrorOfCode = new (reason: string, message: string, options?: DomainErrorOptions) => DomainError;

/** domainErrorOf is the base of the domain error classes of one gRPC code that take (reason, message, options). */
function domainErrorOf(code: Code): DomainErrorOfCode {
  return class extends DomainError {
    constructor(reason: string, message: string, options?: DomainErrorOptions) {
      super(code, reason, message, options);
    }
  };
}

/** FailedPreconditionError is well-formed input that is not possible now. */
export class FailedPreconditionError extends domainErrorOf(Code.FailedPrecondition) {}

/** AbortedError is contention or a fencing rejection; the caller may retry. */
export class AbortedError extends domainErrorOf(Code.Aborted) {}

/** AlreadyExistsError is a reused idempotency key or id with different parameters. */
export class AlreadyExistsError extends domainErrorOf(Code.AlreadyExists) {}

/** PermissionDeniedError is an authenticated caller without the right to do this. */
export class PermissionDeniedError extends DomainError {
  constructor(message: string, reason = "PERMISSION_DENIED", options?: DomainErrorOptions) {
    super(Code.PermissionDenied, reason, message, options);
  }
}

/** UnauthenticatedError is a missing, expired or invalid token. */
export class UnauthenticatedError extends DomainError {
  constructor(message: string) {
    super(Code.Unauthenticated, "UNAUTHENTICATED", message);
  }
}

/** ResourceExhaustedError is a caller, or the server as a whole, at a bound; the call is refused at once, never queued. */
export class ResourceExhaustedError extends domainErrorOf(Code.ResourceExhausted) {}

/** UnavailableError is a dependency that is down with no fallback. */
export class UnavailableError extends domainErrorOf(Code.Unavailable) {}

/** UnimplementedError marks behaviour that a later release fills in. */
export class UnimplementedError extends DomainError {
  constructor(procedure: string) {
    super(Code.Unimplemented, "UNIMPLEMENTED", `${procedure} is not implemented yet`);
  }
}

/**
 * databaseDomainError is a database failure as the domain error every service answers with
 * (UNAVAILABLE for a busy or lost database, ABORTED for a write conflict; see db/pg-errors.ts), or
 * undefined when err is not one.
 */
export function databaseDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return undefined;
  const failure = classifyDatabaseFailure(err);
  return failure && new DomainError(failure.code, failure.reason, failure.message, { cause: err });
}

/** isAbortError tells whether an error came from an aborted AbortSignal. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}

/** errorReasonOf is the ErrorInfo reason a ConnectError carries from a service of this system (domain medschedule.io), if any. */
export function errorReasonOf(err: unknown): string | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  return err.findDetails(ErrorInfoSchema).find((d) => d.domain === ERROR_DOMAIN)?.reason;
}

/**
 * domainConnectError is a domain error as its ConnectError: its code and message, google.rpc.ErrorInfo
 * {domain medschedule.io, reason, metadata} and, for bad input that names fields, google.rpc.BadRequest
 * with one violation per field (each with its reason).
 */
export function domainConnectError(err: DomainError): ConnectError {
  const details: ConstructorParameters<typeof ConnectError>[3] = [
    { desc: ErrorInfoSchema, value: { domain: ERROR_DOMAIN, reason: err.reason, metadata: err.metadata } },
  ];
  // A BadRequest without violations says nothing: only with at least one field named.
  if (err instanceof InvalidArgumentError && err.violations.length > 0) {
    details.push({
      desc: BadRequestSchema,
      value: { fieldViolations: err.violations.map((v) => ({ field: v.field, description: v.description, reason: v.reason ?? "INVALID_VALUE" })) },
    });
  }
  return new ConnectError(err.message, err.code, undefined, details, err);
}

/**
 * toConnectError maps anything thrown by a handler to a ConnectError: domain errors keep their code
 * and get details (google.rpc.BadRequest for field violations), ConnectErrors pass through, database
 * failures are answered as db/pg-errors.ts classifies them (UNAVAILABLE or ABORTED), and anything else is INTERNAL with a generic message (the original stays as the cause, for the log).
 */
export function toConnectError(err: unknown, signal?: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof Error && err.name === "TimeoutError") {
    return new ConnectError("the deadline passed", Code.DeadlineExceeded, undefined, undefined, err);
  }
  if (err instanceof DomainError) return domainConnectError(err);
  if (isAbortError(err) || signal?.aborted) {
    const reason = signal?.reason;
    if (reason instanceof ConnectError) return reason;
    return new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, err);
  }
  const database = databaseDomainError(err);
  if (database) return domainConnectError(database);
  return new ConnectError("internal error; see the server log for this request id", Code.Internal, undefined, undefined, err);
}
