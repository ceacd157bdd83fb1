// How database failures are classified (services/runtime/db/pg-errors.ts and toConnectError), one
// error shape at a time: a lost or refused connection is UNAVAILABLE (retryable), never INTERNAL; a
// pool timeout is UNAVAILABLE DATABASE_BUSY; a deadlock, serialization failure or lock timeout is
// ABORTED WRITE_CONFLICT in every service; other database errors stay INTERNAL; constraint violations
// are matched by name. The fault run (test/system) and write-conflicts.test.ts cause real ones.
import t from "tap";
import { Code } from "@connectrpc/connect";
import { errorReasonOf, toConnectError } from "../../services/runtime/errors.js";
import { isConnectionLost, isExclusionViolation, isUniqueViolation } from "../../services/runtime/db/pg-errors.js";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

t.test("a lost or refused database connection is UNAVAILABLE", async (t) => {
  const lost = [
    withCode("terminating connection due to administrator command", "57P01"),
    withCode("terminating connection because of crash of another server process", "57P02"),
    withCode("the database system is starting up", "57P03"),
    withCode("connection failure", "08006"),
    withCode("sorry, too many clients already", "53300"),
    new Error("Connection terminated unexpectedly"),
    new Error("Connection terminated"),
    new Error("Client has encountered a connection error and is not queryable"),
    new Error("timeout exceeded when trying to connect"),
    withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
    withCode("read ECONNRESET", "ECONNRESET"),
  ];
  for (const err of lost) {
    t.ok(isConnectionLost(err), `${err.message}: connection lost`);
    t.equal(toConnectError(err).code, Code.Unavailable, `${err.message}: UNAVAILABLE`);
  }
});

t.test("other database errors stay INTERNAL (a bug, not a dependency failure)", async (t) => {
  for (const err of [withCode('relation "x" does not exist', "42P01"), withCode("division by zero", "22012"), new Error("boom")]) {
    t.notOk(isConnectionLost(err), err.message);
    t.equal(toConnectError(err).code, Code.Internal, `${err.message}: INTERNAL`);
  }
  t.notOk(isConnectionLost("Connection terminated"), "only errors");
});

t.test("a deadlock, serialization failure or lock timeout is ABORTED WRITE_CONFLICT in every service", async (t) => {
  for (const code of ["40P01", "40001", "55P03"]) {
    const err = toConnectError(withCode("could not proceed", code));
    t.equal(err.code, Code.Aborted, `${code}: ABORTED`);
    t.equal(errorReasonOf(err), "WRITE_CONFLICT", `${code}: reason`);
    t.notMatch(err.message, /could not proceed/, `${code}: the database's words stay in the log`);
  }
});

t.test("a pool timeout is UNAVAILABLE DATABASE_BUSY, a lost connection DATABASE_UNAVAILABLE", async (t) => {
  const busy = toConnectError(new Error("timeout exceeded when trying to connect"));
  t.equal(busy.code, Code.Unavailable);
  t.equal(errorReasonOf(busy), "DATABASE_BUSY");
  const lost = toConnectError(withCode("terminating connection due to administrator command", "57P01"));
  t.equal(errorReasonOf(lost), "DATABASE_UNAVAILABLE");
});

t.test("constraint violations are matched by name", async (t) => {
  const unique = Object.assign(withCode("duplicate key", "23505"), { constraint: "tickets_one_active_per_appointment" });
  t.ok(isUniqueViolation(unique));
  t.ok(isUniqueViolation(unique, "tickets_one_active_per_appointment"));
  t.notOk(isUniqueViolation(unique, "request_keys_pkey"), "another constraint");
  const quoted = withCode('duplicate key value violates unique constraint "request_keys_pkey"', "23505");
  t.ok(isUniqueViolation(quoted, "request_keys_pkey"), "a driver that names it only in the message");
  t.notOk(isUniqueViolation(quoted, "request_keys"), "a prefix of another name is not it");
  const exclusion = Object.assign(withCode("conflicting key", "23P01"), { constraint: "appointments_no_overlap" });
  t.ok(isExclusionViolation(exclusion));
  t.notOk(isUniqueViolation(exclusion), "an exclusion violation is not a unique one");
  t.equal(toConnectError(unique).code, Code.Internal, "a violation no repository named is a bug");
});
