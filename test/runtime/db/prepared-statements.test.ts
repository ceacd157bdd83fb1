// Named prepared statements (services/runtime/db/prepared-statements.ts) against a real Postgres:
// parameterized statements are prepared once per connection under a name derived from their text;
// a plan made stale by a schema change, and a statement the server dropped, are prepared again
// (retried outside a transaction, UNAVAILABLE inside one); a server that keeps dropping them turns
// naming off with one warning; at most maxStatements texts are named.
import t from "tap";
import type { Test } from "tap";
import { Code } from "@connectrpc/connect";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { createDatabase } from "../../../services/runtime/db/database.js";
import { preparedStatementPool } from "../../../services/runtime/db/prepared-statements.js";
import { toConnectError } from "../../../services/runtime/errors.js";
import { createTestDatabase } from "../../helpers/postgres.js";

interface Prepared {
  name: string;
  statement: string;
}

/** prepared lists this session's prepared statements (the query itself has no parameters, so it is not one). */
async function prepared(db: Kysely<any>): Promise<Prepared[]> {
  const { rows } = await sql<Prepared>`select name, statement from pg_prepared_statements order by prepare_time`.execute(db);
  return rows;
}

/** oneConnection opens the test database through createDatabase with a single pooled connection. */
async function oneConnection(t: Test, url: string, opts: { preparedStatements?: boolean; onWarning?: (m: string) => void } = {}) {
  const database = await createDatabase({ databaseUrl: url, dataDir: "/nonexistent/unused", maxConnections: 1, ...opts });
  t.teardown(() => database.close());
  return database.db;
}

t.test("a parameterized statement is prepared once per connection, under a name derived from its text", async (t) => {
  const url = await createTestDatabase(t);
  const db = await oneConnection(t, url);
  const plusOne = (n: number) => sql<{ n: number }>`select ${n}::int + 1 as n`.execute(db);
  t.equal((await plusOne(1)).rows[0].n, 2);
  t.equal((await plusOne(41)).rows[0].n, 42, "the second call binds its own value");
  const first = await prepared(db);
  t.equal(first.length, 1, "one prepared statement for two calls");
  t.match(first[0], { name: /^ms_[0-9a-f]{32}_0$/, statement: "select $1::int + 1 as n" });

  // Another process (here: another pool) names the same text the same way, so a name never means two statements.
  const other = await oneConnection(t, url);
  await sql`select ${1}::int + 1 as n`.execute(other);
  t.equal((await prepared(other))[0].name, first[0].name, "same text, same name in another pool");

  const unnamed = await oneConnection(t, url, { preparedStatements: false });
  t.equal((await sql<{ n: number }>`select ${1}::int + 1 as n`.execute(unnamed)).rows[0].n, 2);
  t.same(await prepared(unnamed), [], "with preparedStatements: false nothing is prepared");
});

t.test("a column added under a cached `select *` plan: prepared again and answered outside a transaction; UNAVAILABLE inside one", async (t) => {
  const url = await createTestDatabase(t);
  const db = await oneConnection(t, url);
  await sql`create table visits (id int primary key)`.execute(db);
  await sql`insert into visits values (1), (2)`.execute(db);
  const byId = (q: Kysely<any>, id: number) => q.selectFrom("visits").selectAll().where("id", "=", id).execute();
  for (let i = 0; i < 6; i++) t.same(await byId(db, 1), [{ id: 1 }]);

  // A rolling upgrade migrates the table while this process keeps its plan.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query("alter table visits add column room text not null default 'A'");
  t.same(await byId(db, 1), [{ id: 1, room: "A" }], "the caller sees the new column, not an error");

  await admin.query("alter table visits add column floor int not null default 3");
  const failure = await db
    .transaction()
    .execute((trx) => byId(trx, 2))
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  t.ok(failure, "inside a transaction the error stands (Postgres has aborted the transaction)");
  const answer = toConnectError(failure);
  t.equal(answer.code, Code.Unavailable, `answered UNAVAILABLE (${(failure as Error)?.message})`);
  t.match(answer.rawMessage, /schema changed.*retry/);
  t.same(await db.transaction().execute((trx) => byId(trx, 2)), [{ id: 2, room: "A", floor: 3 }], "the retried request is answered");
});

t.test("statements the server dropped are prepared again; a server that keeps dropping them turns naming off, with one warning", async (t) => {
  const url = await createTestDatabase(t);
  const warnings: string[] = [];
  const db = await oneConnection(t, url, { onWarning: (m) => warnings.push(m) });
  const echo = (v: string) => sql<{ v: string }>`select ${v}::text as v`.execute(db);
  t.equal((await echo("a")).rows[0].v, "a");
  for (let drop = 1; drop <= 3; drop++) {
    // As a pooler handing this client another server connection would: the server has no such statement.
    await sql`deallocate all`.execute(db);
    t.equal((await echo(`b${drop}`)).rows[0].v, `b${drop}`, `answered after the server dropped the statement (${drop})`);
  }
  t.equal(warnings.length, 1, "one warning");
  t.match(warnings[0], /DATABASE_PREPARED_STATEMENTS=off/);
  await sql`deallocate all`.execute(db);
  t.equal((await echo("c")).rows[0].v, "c");
  t.same(await prepared(db), [], "statements now run unnamed");
});

t.test("at most maxStatements texts are named; the rest run unnamed", async (t) => {
  const url = await createTestDatabase(t);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const named = preparedStatementPool(pool, { maxStatements: 2 });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: named }) });
  t.teardown(() => db.destroy());
  t.equal((await sql<{ n: number }>`select ${1}::int as n`.execute(db)).rows[0].n, 1);
  t.equal((await sql<{ n: number }>`select ${2}::int + 0 as n`.execute(db)).rows[0].n, 2);
  t.equal((await sql<{ n: number }>`select ${3}::int + 0 + 0 as n`.execute(db)).rows[0].n, 3);
  t.equal((await sql<{ n: number }>`select ${4}::int as n`.execute(db)).rows[0].n, 4, "a named text keeps its name");
  t.same(named.stats(), { named: 2, reprepared: 0, disabled: false });
  t.equal((await prepared(db)).length, 2);
});
