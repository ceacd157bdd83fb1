import { randomUUID } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { getPrincipal, type Principal } from "../auth/principal.js";
import { PUBLIC_SERVICES, type Role } from "../auth/role-table.js";
import { errorReasonOf } from "../errors.js";
import type { RpcInterceptor } from "../server/interceptors.js";
import type { Logger } from "./logger.js";
import { codeName } from "./metrics.js";

/** REQUEST_ID_HEADER carries the request id, taken from the caller or generated, and echoed back. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * REQUEST_ID is what a caller's x-request-id must look like to be kept: machine-made, a UUID (what
 * Envoy and Istio generate), 16-64 hex digits (a trace or span id) or a ULID. Anything else is
 * replaced by a fresh UUID, because the request id is logged with every line and a free-form one
 * could carry a patient's name or phone number into the logs.
 */
const REQUEST_ID = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,64}|[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26})$/;

/** requestIdOf returns the request id of a call (set by the logging interceptor). */
export function requestIdOf(headers: Headers): string {
  return headers.get(REQUEST_ID_HEADER) ?? "";
}

/** saneRequestId is the caller's request id when it is sane, else a new one. */
export function saneRequestId(given: string | null | undefined): string {
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * SERVER_SIDE_CODES are the codes whose messages are the server's own account of what happened (a
 * dependency down, a deadline, contention): those messages are logged. The other codes answer the
 * caller's request (what it sent, what it may do, what exists), so their messages may name what it
 * sent: the log keeps their code and reason only.
 */
const SERVER_SIDE_CODES: ReadonlySet<Code> = new Set([
  Code.Canceled,
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * loggableField is a violated field's path as the log may show it: a field name the client made up
 * (UNKNOWN_FIELD, a map key) is client text and is replaced by "?".
 */
function loggableField(field: string, reason: string): string {
  const path = field.replace(/\["(?:[^"\\]|\\.)*"\]/g, '["?"]');
  if (reason !== "UNKNOWN_FIELD") return path;
  const dot = path.lastIndexOf(".");
  return dot < 0 ? "?" : `${path.slice(0, dot)}.?`;
}

/** LoggedError is what a log line says about an error. */
export interface LoggedError {
  /** reason is the ErrorInfo reason (domain medschedule.io), if any. */
  reason?: string;
  /** fields are the BadRequest violations, "field REASON" each (fields the client made up shown as "?"). */
  fields?: string[];
  /** error is the message, only for server-side codes (see SERVER_SIDE_CODES). */
  error?: string;
}

/**
 * loggedError is what the log line of a call that ended with `err` says about it: the ErrorInfo
 * reason, the violated fields with their reasons, and the message only when it is the server's own
 * account (SERVER_SIDE_CODES). A message answering the caller's request may quote what it sent, which
 * may be patient data, so it is left out; the reason and the request id find it again.
 */
export function loggedError(err: ConnectError): LoggedError {
  const out: LoggedError = {};
  const reason = errorReasonOf(err);
  if (reason) out.reason = reason;
  const violations = err.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);
  if (violations.length > 0) out.fields = violations.map((v) => `${loggableField(v.field, v.reason)} ${v.reason}`);
  if (SERVER_SIDE_CODES.has(err.code)) out.error = err.rawMessage;
  return out;
}

/** LoggedCaller is what a log line says about who called. */
export interface LoggedCaller {
  /** role is the role the call was allowed under. */
  role?: Role;
  /** sub is the caller's subject, only when it is not a patient's id (staff, services, display boards). */
  sub?: string;
  /** onBehalf is true when a service called for an end user; that user (perhaps a patient) is not named. */
  onBehalf?: true;
}

/**
 * loggedCaller is what the log line of a call says about its caller. A patient's subject is their
 * patient id, and the end user a service acts for (x-on-behalf-of) is often a patient: neither is
 * logged. The audit trail in the database keeps who did what; the request id ties a line to it.
 */
export function loggedCaller(principal: Principal | undefined): LoggedCaller {
  if (!principal) return {};
  const out: LoggedCaller = { role: principal.grantedRole };
  if (!principal.roles.includes("patient")) out.sub = principal.subject;
  if (principal.onBehalfOf !== undefined) out.onBehalf = true;
  return out;
}

/**
 * createLoggingInterceptor gives every call a request id (the caller's x-request-id when it is sane,
 * else a new one, echoed in the response) and logs one JSON line per call: procedure, protocol, code,
 * duration, request id, the role the call was allowed under, who called (loggedCaller) and, for errors,
 * what loggedError keeps. No request or response bodies and no patient ids: they are PHI. INTERNAL
 * errors are logged with their cause and stack; health and reflection calls log at debug level.
 */
export function createLoggingInterceptor(logger: Logger): RpcInterceptor {
  return {
    before(call) {
      const id = saneRequestId(call.ctx.requestHeader.get(REQUEST_ID_HEADER));
      call.ctx.requestHeader.set(REQUEST_ID_HEADER, id);
      call.ctx.responseHeader.set(REQUEST_ID_HEADER, id);
    },
    after(call, error) {
      const ms = Number(process.hrtime.bigint() - call.startedAt) / 1e6;
      const principal = getPrincipal(call.ctx);
      const line = {
        procedure: call.procedure,
        protocol: call.ctx.protocolName,
        code: codeName(error?.code),
        ms: Math.round(ms * 1000) / 1000,
        // An early call never had `before`: its caller's id is checked here.
        requestId: call.early ? saneRequestId(call.ctx.requestHeader.get(REQUEST_ID_HEADER)) : call.ctx.requestHeader.get(REQUEST_ID_HEADER),
        ...loggedCaller(principal),
        ...(error ? loggedError(error) : {}),
      };
      if (error && (error.code === Code.Internal || error.code === Code.Unknown || error.code === Code.DataLoss)) {
        logger.error({ ...line, err: error.cause ?? error }, error.rawMessage);
      } else if (PUBLIC_SERVICES.has(call.service.typeName)) {
        logger.debug(line, "rpc");
      } else {
        logger.info(line, "rpc");
      }
    },
  };
}
