/**
 * What a database failure means to the client, decided in one place for every service.
 *
 * node-postgres and PGlite report failures as errors with a SQLSTATE `code`; pg-pool reports "no
 * connection came free in time" only in its message. A service never matches these itself:
 * toConnectError (services/runtime/errors.ts) asks classifyDatabaseFailure, so the same failure
 * answers the same status in scheduling, queue, lock and backup:
 *
 * | failure                                                   | status      | reason                 |
 * |-----------------------------------------------------------|-------------|------------------------|
 * | no pooled connection came free in time (pool timeout)     | UNAVAILABLE | DATABASE_BUSY          |
 * | connection lost or refused (08xxx, 57P01-3, 53300, socket) | UNAVAILABLE | DATABASE_UNAVAILABLE   |
 * | cached statement invalidated (0A000 plan, 26000, 42P05)   | UNAVAILABLE | STATEMENT_INVALIDATED  |
 * | deadlock, serialization failure, lock timeout             | ABORTED     | WRITE_CONFLICT         |
 *
 * UNAVAILABLE means nothing was done and the same call may be sent again (the gateway retries reads
 * and calls with a requestId itself); ABORTED means the database rolled the transaction back because
 * of a concurrent writer, and the client retries. Constraint violations are not here: a repository
 * turns its own constraint names into named domain errors (isUniqueViolation,
 * isExclusionViolation).
 */
import { Code } from "@connectrpc/connect";
import { isInvalidatedStatement } from "./prepared-statements.js";

/** DatabaseFailure is how a database error is answered: its status, ErrorInfo reason and message. */
export interface DatabaseFailure {
  code: Code;
  reason: string;
  message: string;
}

/** SQLSTATEs of a lost or refused database connection: class 08 (connection exception), 57P01-57P03 (the server terminated the session or is shutting down or starting), 53300 (too many connections). */
const CONNECTION_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/** Messages of node-postgres when the connection is gone. */
const CONNECTION_MESSAGE = /^(Connection terminated|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;
/** pg-pool's message when no pooled connection came free in time, or a new one could not be opened. */
const POOL_TIMEOUT_MESSAGE = /^timeout exceeded when trying to connect/;
const SOCKET_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/** SQLSTATEs of a transaction the database rolled back because of a concurrent one: deadlock_detected, serialization_failure, lock_not_available (lock_timeout or NOWAIT). */
const CONFLICT_SQLSTATE = new Set(["40P01", "40001", "55P03"]);

function sqlstateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** isPoolTimeout tells whether an error is pg-pool's "no connection came free within connectionTimeoutMillis". */
export function isPoolTimeout(err: unknown): boolean {
  return err instanceof Error && POOL_TIMEOUT_MESSAGE.test(err.message);
}

/**
 * isConnectionLost tells whether a database error means the connection was lost or refused (the
 * server terminated the session, restarted, or is unreachable), or none came free in time: a
 * dependency failure, which the caller may retry with the same requestId; never INTERNAL.
 */
export function isConnectionLost(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = sqlstateOf(err);
  if (code !== undefined && (CONNECTION_SQLSTATE.test(code) || SOCKET_ERRNO.has(code))) return true;
  return CONNECTION_MESSAGE.test(err.message) || isPoolTimeout(err);
}

/** isWriteConflict tells whether the database rolled a transaction back because of a concurrent one (deadlock, serialization failure, lock timeout). */
export function isWriteConflict(err: unknown): boolean {
  const code = sqlstateOf(err);
  return code !== undefined && CONFLICT_SQLSTATE.has(code);
}

/** violates tells whether err names the constraint (node-postgres sets `constraint`; a driver that does not still quotes it in the message). */
function violates(err: unknown, constraint: string): boolean {
  const e = err as { constraint?: unknown; message?: unknown };
  return e.constraint === constraint || (typeof e.message === "string" && e.message.includes(`"${constraint}"`));
}

/** isUniqueViolation tells whether a database error is a unique violation (23505), of the named constraint or unique index when one is given. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return sqlstateOf(err) === "23505" && (constraint === undefined || violates(err, constraint));
}

/** isExclusionViolation tells whether a database error is an exclusion constraint violation (23P01), of the named constraint when one is given. */
export function isExclusionViolation(err: unknown, constraint?: string): err is { constraint?: string } {
  return sqlstateOf(err) === "23P01" && (constraint === undefined || violates(err, constraint));
}

/** classifyDatabaseFailure says how a database error is answered (see the table above), or undefined when it is not one of these. */
export function classifyDatabaseFailure(err: unknown): DatabaseFailure | undefined {
  if (err instanceof Error && sqlstateOf(err) === "DATABASE_UNAVAILABLE") {
    return { code: Code.Unavailable, reason: "DATABASE_UNAVAILABLE", message: err.message };
  }
  if (isPoolTimeout(err)) {
    return {
      code: Code.Unavailable,
      reason: "DATABASE_BUSY",
      message: "no database connection came free in time (the database is overloaded or unreachable); retry",
    };
  }
  if (isConnectionLost(err)) {
    return { code: Code.Unavailable, reason: "DATABASE_UNAVAILABLE", message: "the database connection was lost; retry" };
  }
  if (isInvalidatedStatement(err)) {
    return {
      code: Code.Unavailable,
      reason: "STATEMENT_INVALIDATED",
      message: "a database statement of this request became invalid (the schema changed while it ran); retry",
    };
  }
  if (isWriteConflict(err)) {
    return { code: Code.Aborted, reason: "WRITE_CONFLICT", message: "a concurrent change conflicted with this one; retry" };
  }
  return undefined;
}
