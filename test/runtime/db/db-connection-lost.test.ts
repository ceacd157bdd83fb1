// A pooled connection checked out for a transaction and terminated by the server between two of its
// queries (pg_terminate_backend, a failover) must not crash the process: pg-pool listens for errors
// on idle clients only, so the database layer listens on every client. The transaction then fails
// with an error toConnectError maps to UNAVAILABLE, and the pool goes on with a new connection.
import t from "tap";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import pg from "pg";
import { createDatabase } from "../../../services/runtime/db/database.js";
import { toConnectError } from "../../../services/runtime/errors.js";
import { createTestDatabase } from "../../helpers/postgres.js";

t.test("a connection terminated inside a transaction: UNAVAILABLE, no crash, the pool recovers", async (t) => {
  const url = await createTestDatabase(t);
  const database = await createDatabase({ databaseUrl: url, dataDir: "/nonexistent/unused" });
  t.teardown(() => database.close());
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());

  const failure = await database.db
    .transaction()
    .execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      // The client sits checked out with no query running, as while a service awaits the lock service.
      await admin.query("select pg_terminate_backend($1)", [rows[0].pid]);
      await new Promise((r) => setTimeout(r, 500));
      await sql`select 1`.execute(trx);
    })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  t.ok(failure, "the transaction failed");
  t.equal(toConnectError(failure).code, Code.Unavailable, `answered UNAVAILABLE (${(failure as Error)?.message})`);
  const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
  t.equal(rows[0].one, 1, "the pool serves again with a new connection");
});

t.test("no pooled connection free in time: UNAVAILABLE saying the database is busy, not that a connection was lost", async (t) => {
  const url = await createTestDatabase(t);
  const database = await createDatabase({ databaseUrl: url, dataDir: "/nonexistent/unused", maxConnections: 1, connectTimeoutMs: 300 });
  t.teardown(() => database.close());
  const failure = await database.db.transaction().execute(async (trx) => {
    await sql`select 1`.execute(trx);
    // The only connection is busy in this transaction: a second query waits for it, then gives up.
    return sql`select 1`.execute(database.db).then(
      () => undefined,
      (err: unknown) => err,
    );
  });
  const answer = toConnectError(failure);
  t.equal(answer.code, Code.Unavailable, `answered UNAVAILABLE (${(failure as Error)?.message})`);
  t.match(answer.rawMessage, /no database connection came free in time/);
  const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
  t.equal(rows[0].one, 1, "the pool serves once the connection is back");
});
