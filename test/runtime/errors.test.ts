// toConnectError on a lost database connection: UNAVAILABLE (retryable), never INTERNAL. The fault
// run (test/system) terminates real connections; this pins the classification of each error shape.
import t from "tap";
import { Code } from "@connectrpc/connect";
import { isConnectionLost, toConnectError } from "../../services/runtime/errors.js";

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
