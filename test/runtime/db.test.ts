// services/runtime/db against both engines: real Postgres (a fresh database per run) and PGlite
// (a temp DATA_DIR). Same fixture migrations, same assertions, same JS types.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import { Kysely, sql } from "kysely";
import t from "tap";
import type { Test } from "tap";

import {
  createDatabase,
  createPgliteDialect,
  DatabaseUnavailableError,
  migrateToLatest,
  MigrationFailedError,
  redactDatabaseUrl,
  withPgliteSession,
} from "../../services/runtime/db/index.js";
import type { DatabaseConnection } from "../../services/runtime/db/index.js";
import { createTestDatabase } from "../helpers/postgres.js";

const migrationsFolder = fileURLToPath(new URL("../fixtures/migrations", import.meta.url));
const SCHEMA = "fixture";
const FIXTURE_MIGRATIONS = ["2026-11-23T1600-create-bookings", "2026-11-23T1700-create-counters"];

type Kind = DatabaseConnection["kind"];
interface Opened {
  database: DatabaseConnection;
  /** Real URL with password (postgres only), to open a second pool. */
  url?: string;
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "medschedule-db-test-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open(t: Test, kind: Kind): Promise<Opened> {
  if (kind === "pglite") {
    const dataDir = await tempDir(t);
    const database = await createDatabase({ dataDir });
    t.teardown(() => database.close());
    return { database };
  }
  const url = await createTestDatabase(t);
  const database = await createDatabase({ databaseUrl: url, dataDir: "/nonexistent/unused" });
  t.teardown(() => database.close());
  return { database, url };
}

function booking(providerId: string, from: string, to: string) {
  return { provider_id: providerId, during: sql`tstzrange(${from}::timestamptz, ${to}::timestamptz, '[)')` };
}

async function countBookings(db: Kysely<any>, providerId: string): Promise<number> {
  const row = await db
    .withSchema(SCHEMA)
    .selectFrom("bookings")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("provider_id", "=", providerId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const typeRows: Partial<Record<Kind, unknown>> = {};

for (const kind of ["pglite", "postgres"] as const) {
  t.test(kind, async (t) => {
    const { database, url } = await open(t, kind);
    const { db } = database;
    t.equal(database.kind, kind);
    t.notMatch(database.url, /medschedule:medschedule@/, "url carries no password");

    await t.test("migrations apply once, into the service's own schema", async (t) => {
      await migrateToLatest(db, { schema: SCHEMA, migrationsFolder });
      await migrateToLatest(db, { schema: SCHEMA, migrationsFolder });
      const applied = await db.withSchema(SCHEMA).selectFrom("kysely_migration").select("name").orderBy("name").execute();
      t.same(
        applied.map((r) => r.name),
        FIXTURE_MIGRATIONS,
        "each fixture once; .js.map files beside them are ignored",
      );
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = ${SCHEMA} order by 1`.execute(db);
      t.same(
        tables.rows.map((r) => r.table_name),
        ["bookings", "counters", "kysely_migration", "kysely_migration_lock"],
      );
      const leaked = await sql<{ n: string }>`
        select count(*) as n from information_schema.tables
        where table_schema = 'public' and table_name in ('bookings', 'counters', 'kysely_migration')`.execute(db);
      t.equal(leaked.rows[0]?.n, "0", "nothing lands in public");
      const seeded = await db.withSchema(SCHEMA).selectFrom("counters").selectAll().execute();
      t.same(seeded, [{ name: "visits", value: "0" }], "the seed ran once");

      await migrateToLatest(db, { schema: "fixture_other", migrationsFolder });
      const other = await db.withSchema("fixture_other").selectFrom("kysely_migration").select("name").execute();
      t.equal(other.length, 2, "a second schema keeps its own migration table");
    });

    await t.test("the exclusion constraint rejects an overlap with 23P01", async (t) => {
      const insert = (b: ReturnType<typeof booking>) => db.withSchema(SCHEMA).insertInto("bookings").values(b).execute();
      await insert(booking("p1", "2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"));
      await insert(booking("p2", "2026-11-23T10:30:00Z", "2026-11-23T11:30:00Z"));
      await insert(booking("p1", "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z"));
      await t.rejects(insert(booking("p1", "2026-11-23T10:30:00Z", "2026-11-23T11:30:00Z")), {
        code: "23P01",
        constraint: "bookings_no_overlap",
      });
      t.equal(await countBookings(db, "p1"), 2);
    });

    await t.test("50 concurrent read-then-write transactions count to 50", async (t) => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          db.transaction().execute(async (trx) => {
            const read = trx.withSchema(SCHEMA).selectFrom("counters").select("value").where("name", "=", "visits");
            // PGlite needs no row lock: transactions take turns on its one session. Postgres does.
            const row = await (kind === "postgres" ? read.forUpdate() : read).executeTakeFirstOrThrow();
            await sleep(1); // give other transactions every chance to interleave
            const updated = await trx
              .withSchema(SCHEMA)
              .updateTable("counters")
              .set({ value: String(BigInt(row.value) + 1n) })
              .where("name", "=", "visits")
              .executeTakeFirstOrThrow();
            return updated.numUpdatedRows;
          }),
        ),
      );
      t.ok(
        results.every((n) => n === 1n),
        "each update reports one affected row",
      );
      const row = await db.withSchema(SCHEMA).selectFrom("counters").select("value").executeTakeFirstOrThrow();
      t.equal(row.value, "50");
    });

    await t.test("concurrent transactions, some failing, keep exactly the committed work", async (t) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          db
            .transaction()
            .setIsolationLevel(i % 2 === 0 ? "repeatable read" : "read committed")
            .execute(async (trx) => {
              const start = new Date(Date.UTC(2026, 11, 1, 0, i * 10)).toISOString();
              const end = new Date(Date.UTC(2026, 11, 1, 0, i * 10 + 10)).toISOString();
              await trx.withSchema(SCHEMA).insertInto("bookings").values(booking("p8", start, end)).execute();
              await sleep(1);
              if (i % 3 === 0) await sql`select 1 / 0`.execute(trx); // fails after writing
            }),
        ),
      );
      const failed = outcomes.filter((o) => o.status === "rejected");
      t.equal(failed.length, 10);
      t.ok(
        failed.every((o) => (o as PromiseRejectedResult).reason?.code === "22012"),
        "each failure is its own division by zero",
      );
      t.equal(await countBookings(db, "p8"), 20);
      await db.withSchema(SCHEMA).deleteFrom("bookings").where("provider_id", "=", "p8").execute();
    });

    await t.test("a failed statement inside a transaction rolls the transaction back", async (t) => {
      await t.rejects(
        db.transaction().execute(async (trx) => {
          await trx.withSchema(SCHEMA).insertInto("bookings").values(booking("p5", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z")).execute();
          await sql`select 1 / 0`.execute(trx);
        }),
        { code: "22012" },
      );
      t.equal(await countBookings(db, "p5"), 0);
      await db.transaction().execute(async (trx) => {
        await trx.withSchema(SCHEMA).insertInto("bookings").values(booking("p5", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z")).execute();
      });
      t.equal(await countBookings(db, "p5"), 1, "the next transaction works and commits");
    });

    await t.test("a rolled back transaction leaves nothing", async (t) => {
      await t.rejects(
        db.transaction().execute(async (trx) => {
          await trx.withSchema(SCHEMA).insertInto("bookings").values(booking("p6", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z")).execute();
          await trx.withSchema(SCHEMA).updateTable("counters").set({ value: "999" }).execute();
          throw new Error("changed my mind");
        }),
        /changed my mind/,
      );
      t.equal(await countBookings(db, "p6"), 0);
      const row = await db.withSchema(SCHEMA).selectFrom("counters").select("value").executeTakeFirstOrThrow();
      t.equal(row.value, "50");
    });

    await t.test("savepoints and controlled transactions", async (t) => {
      const trx = await db.startTransaction().execute();
      await trx.withSchema(SCHEMA).insertInto("bookings").values(booking("p7", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z")).execute();
      const sp = await trx.savepoint("before_second").execute();
      await sp.withSchema(SCHEMA).insertInto("bookings").values(booking("p7", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z")).execute();
      await sp.rollbackToSavepoint("before_second").execute();
      await trx.commit().execute();
      t.equal(await countBookings(db, "p7"), 1);
    });

    await t.test("affected rows", async (t) => {
      const updated = await db
        .withSchema(SCHEMA)
        .updateTable("bookings")
        .set({ provider_id: "p1" })
        .where("provider_id", "=", "p1")
        .executeTakeFirstOrThrow();
      t.equal(updated.numUpdatedRows, 2n);
      const deleted = await db.withSchema(SCHEMA).deleteFrom("bookings").where("provider_id", "=", "p2").executeTakeFirstOrThrow();
      t.equal(deleted.numDeletedRows, 1n);
    });

    await t.test("a failing migration is named and its whole run is rolled back", async (t) => {
      const dir = await tempDir(t);
      const createGood = 'export async function up(db) { await db.schema.createTable("good").addColumn("id", "integer").execute(); }\n';
      await writeFile(path.join(dir, "2026-01-01T0000-create-good.mjs"), createGood);
      await writeFile(path.join(dir, "2026-01-02T0000-create-good-again.mjs"), createGood);
      const err = await migrateToLatest(db, { schema: "fixture_broken", migrationsFolder: dir }).catch((e: unknown) => e);
      t.ok(err instanceof MigrationFailedError, "MigrationFailedError");
      const failed = err as MigrationFailedError;
      t.equal(failed.code, "MIGRATION_FAILED");
      t.equal(failed.migrationName, "2026-01-02T0000-create-good-again");
      t.match(failed.message, 'migration "2026-01-02T0000-create-good-again" of schema "fixture_broken" failed');
      t.match(failed.message, /already exists \[42P07\]/);
      const good = await sql`select 1 from information_schema.tables where table_schema = 'fixture_broken' and table_name = 'good'`.execute(db);
      t.equal(good.rows.length, 0, "the earlier migration of the run was rolled back too");

      const missing = await migrateToLatest(db, { schema: "fixture_broken", migrationsFolder: path.join(dir, "nope") }).catch((e: unknown) => e);
      t.match((missing as Error).message, /migrations folder .*nope is missing/);
    });

    await t.test("result types", async (t) => {
      const result = await sql<Record<string, unknown>>`
        select 9007199254740993::int8 as big, 42::int4 as small, 1.50::numeric(10,2) as num,
               '2026-11-23T16:00:00.123Z'::timestamptz as ts, '2026-11-23'::date as day,
               array[1, 2]::int8[] as bigs, array['2026-11-23']::date[] as days,
               '{"a": 1}'::jsonb as doc, true as flag, '\\x0102'::bytea as bytes,
               count(*) as n, null::int8 as nothing`.execute(db);
      const row = result.rows[0]!;
      t.equal(row["big"], "9007199254740993", "int8 is a string");
      t.equal(row["n"], "1", "count(*) is int8, so a string");
      t.equal(row["small"], 42);
      t.equal(row["num"], "1.50", "numeric is a string");
      t.ok(row["ts"] instanceof Date, "timestamptz is a Date");
      t.equal((row["ts"] as Date).toISOString(), "2026-11-23T16:00:00.123Z");
      t.equal(row["day"], "2026-11-23", "date stays a YYYY-MM-DD string");
      t.same(row["bigs"], ["1", "2"]);
      t.same(row["days"], ["2026-11-23"]);
      t.same(row["doc"], { a: 1 });
      t.equal(row["flag"], true);
      t.ok(Buffer.isBuffer(row["bytes"]), "bytea is a Buffer");
      t.equal(row["nothing"], null);
      typeRows[kind] = row;
    });

    if (kind === "pglite") {
      await t.test("PGlite: one session, one transaction at a time", async (t) => {
        let outsideSaw: number | undefined;
        let outside: Promise<void> | undefined;
        await t.rejects(
          db.transaction().execute(async (trx) => {
            await trx.withSchema(SCHEMA).insertInto("bookings").values(booking("p9", "2026-11-26T09:00:00Z", "2026-11-26T10:00:00Z")).execute();
            // Would see the uncommitted row if it ran between this transaction's statements.
            outside = countBookings(db, "p9").then((n) => {
              outsideSaw = n;
            });
            await sleep(30);
            t.equal(outsideSaw, undefined, "a query outside waits for the transaction");
            throw new Error("roll back");
          }),
          /roll back/,
        );
        await outside;
        t.equal(outsideSaw, 0, "and then sees the rolled back state");

        const impatient = new Kysely<any>({ dialect: createPgliteDialect(database.pglite!, { acquireTimeoutMs: 100 }) });
        await db.transaction().execute(async () => {
          await t.rejects(sql`select 1`.execute(impatient), { code: "PGLITE_SESSION_TIMEOUT", message: /instead of the transaction/ });
        });
        await impatient.destroy();

        await db.connection().execute(async (conn) => {
          await sql`begin`.execute(conn);
          await conn.withSchema(SCHEMA).insertInto("bookings").values(booking("p10", "2026-11-27T09:00:00Z", "2026-11-27T10:00:00Z")).execute();
        });
        t.notOk(database.pglite!.isInTransaction(), "a transaction left open is rolled back when the session is released");
        t.equal(await countBookings(db, "p10"), 0);
      });

      await t.test("PGlite: withPgliteSession hands the session back as it found it", async (t) => {
        const pglite = database.pglite!;
        const settings = async () =>
          (await sql<{ s: string }>`select concat_ws('|', current_setting('search_path'), current_setting('DateStyle'),
            current_setting('statement_timeout'), current_setting('row_security'), current_setting('default_transaction_read_only')) as s`.execute(db)).rows[0].s;
        const before = await settings();
        // What PGlite's pg_dump and a restored plain dump do on the session: settings changed for
        // the session, and a read-only transaction left open.
        await withPgliteSession(pglite, async () => {
          await pglite.exec(`select pg_catalog.set_config('search_path', '', false); set datestyle = 'SQL, DMY';
            set statement_timeout = 1234; set row_security = off; set default_transaction_read_only = on`);
          await pglite.exec("begin isolation level repeatable read read only");
          await pglite.query("select 1");
        });
        t.notOk(pglite.isInTransaction(), "the open transaction was rolled back");
        t.equal(await settings(), before, "the session's settings are set back");
        await db.withSchema(SCHEMA).insertInto("bookings").values(booking("p11", "2026-11-28T09:00:00Z", "2026-11-28T10:00:00Z")).execute();
        t.equal(await countBookings(db, "p11"), 1, "the next caller writes");

        // The same when fn fails, with the transaction aborted by the failure.
        await t.rejects(
          withPgliteSession(pglite, async () => {
            await pglite.exec("set search_path = fixture; begin");
            await pglite.query("select * from no_such_table");
          }),
          /no_such_table/,
        );
        t.notOk(pglite.isInTransaction());
        t.equal(await settings(), before);
        t.equal(await countBookings(db, "p11"), 1, "no 'current transaction is aborted' for the next caller");
        await db.withSchema(SCHEMA).deleteFrom("bookings").where("provider_id", "=", "p11").execute();
      });

      await t.test("PGlite: streaming yields every row", async (t) => {
        const rows: unknown[] = [];
        for await (const row of db.withSchema(SCHEMA).selectFrom("bookings").selectAll().orderBy("id").stream(2)) rows.push(row);
        t.equal(rows.length, 4);
      });

      await t.test("PGlite: one open instance per directory, stale locks taken over, data persists", async (t) => {
        const dataDir = path.dirname(database.url.replace(/^pglite:\/\//, ""));
        await t.rejects(createDatabase({ dataDir }), { code: "DATABASE_UNAVAILABLE", message: /already open in process/ });
        await database.close();
        // A lock file left by a crashed earlier process that had our pid (containers reuse pids).
        await writeFile(path.join(dataDir, "pglite.lock"), `${process.pid}\n`);
        const again = await createDatabase({ dataDir });
        t.teardown(() => again.close());
        await migrateToLatest(again.db, { schema: SCHEMA, migrationsFolder });
        const row = await again.db.withSchema(SCHEMA).selectFrom("counters").select("value").executeTakeFirstOrThrow();
        t.equal(row.value, "50");
      });
    }

    if (kind === "postgres") {
      await t.test("Postgres: two processes migrating at once", async (t) => {
        const other = await createDatabase({ databaseUrl: url!, dataDir: "/nonexistent/unused" });
        t.teardown(() => other.close());
        await Promise.all([
          migrateToLatest(db, { schema: "fixture_race", migrationsFolder }),
          migrateToLatest(other.db, { schema: "fixture_race", migrationsFolder }),
        ]);
        const applied = await db.withSchema("fixture_race").selectFrom("kysely_migration").select("name").orderBy("name").execute();
        t.same(applied.map((r) => r.name), FIXTURE_MIGRATIONS);
        const seeds = await db.withSchema("fixture_race").selectFrom("counters").selectAll().execute();
        t.equal(seeds.length, 1);
      });

      await t.test("Postgres: a wrong password is named as such, and not printed", async (t) => {
        const wrong = new URL(url!);
        wrong.password = "wrong-secret-4711";
        const err = await createDatabase({ databaseUrl: wrong.toString(), dataDir: "/nonexistent/unused" }).catch((e: unknown) => e);
        t.ok(err instanceof DatabaseUnavailableError);
        t.match((err as Error).message, /password authentication failed/);
        t.match((err as Error).message, /check the user and password in DATABASE_URL/);
        t.notMatch((err as Error).message, /wrong-secret-4711/);
      });
    }
  });
}

t.test("PGlite and Postgres return the same JS values", async (t) => {
  t.ok(typeRows.pglite && typeRows.postgres, "both ran");
  t.strictSame(typeRows.pglite, typeRows.postgres);
});

t.test("an unreachable DATABASE_URL fails fast, without the password", async (t) => {
  const started = Date.now();
  const err = await createDatabase({
    databaseUrl: "postgres://medschedule:s3cret-pw@127.0.0.1:1/medschedule",
    dataDir: "/nonexistent/unused",
    connectTimeoutMs: 2_000,
  }).catch((e: unknown) => e);
  t.ok(err instanceof DatabaseUnavailableError, "DatabaseUnavailableError");
  t.equal((err as DatabaseUnavailableError).code, "DATABASE_UNAVAILABLE");
  t.match((err as Error).message, "cannot reach Postgres at postgres://medschedule@127.0.0.1:1/medschedule: ");
  t.match((err as Error).message, /ECONNREFUSED.*is it running\? check DATABASE_URL/);
  t.notMatch((err as Error).message, /s3cret/);
  t.ok(Date.now() - started < 2_000, "without waiting for the timeout");
});

t.test("a server that never answers fails within connectTimeoutMs", async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s)); // accepts, never speaks
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const started = Date.now();
  const err = await createDatabase({
    databaseUrl: `postgres://medschedule:s3cret-pw@127.0.0.1:${port}/medschedule`,
    dataDir: "/nonexistent/unused",
    connectTimeoutMs: 500,
  }).catch((e: unknown) => e);
  t.ok(err instanceof DatabaseUnavailableError, "DatabaseUnavailableError");
  t.match((err as Error).message, `cannot reach Postgres at postgres://medschedule@127.0.0.1:${port}/medschedule`);
  t.notMatch((err as Error).message, /s3cret/);
  t.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started} ms`);
});

t.test("redactDatabaseUrl", async (t) => {
  t.equal(
    redactDatabaseUrl("postgres://u:p%40ss@db.internal/app?sslpassword=x&application_name=a"),
    "postgres://u@db.internal:5432/app?sslpassword=***&application_name=a",
  );
  t.equal(redactDatabaseUrl("postgresql://db:6543/app"), "postgresql://db:6543/app");
  t.throws(() => redactDatabaseUrl("not a url"), { code: "DATABASE_UNAVAILABLE" });
});
