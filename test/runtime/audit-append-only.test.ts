// The audit tables are append-only in the database itself (issue 18, hardening): on real Postgres and
// on PGlite, with every service's migrations applied, UPDATE, DELETE and TRUNCATE of every audit
// table fail, whoever sends them, and the rows stay; INSERT works. Before, they were plain tables and
// "append-only" was only a promise of the code. The audit tables are found in the catalog, so one
// added later without the guard fails here.
import t, { type Test } from "tap";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql, type Kysely } from "kysely";
import { createDatabase, migrateToLatest, type DatabaseConnection } from "../../services/runtime/db/index.js";
import { ALL_MODULES } from "../helpers/system.js";
import { createTestDatabase } from "../helpers/postgres.js";

/** AUDIT_TABLES are the audit tables the services have today; the catalog must name no other. */
const AUDIT_TABLES = ["backup.audit_log", "lock.audit_log", "patient.audit_log", "queue.audit_log", "scheduling.audit_log"];

async function migrated(database: DatabaseConnection): Promise<Kysely<any>> {
  for (const m of ALL_MODULES) await migrateToLatest(database.db, { schema: m.schema, migrationsFolder: m.migrationsFolder });
  return database.db;
}

async function refused(db: Kysely<any>, statement: ReturnType<typeof sql>): Promise<string> {
  try {
    await statement.execute(db);
    return "accepted";
  } catch (err) {
    return (err as Error).message;
  }
}

async function checkAppendOnly(t: Test, db: Kysely<any>): Promise<void> {
  const found = await sql<{ name: string }>`
    select table_schema || '.' || table_name as name from information_schema.tables
    where table_name like '%audit%' and table_schema = any(${ALL_MODULES.map((m) => m.schema)}) order by 1`.execute(db);
  t.same(found.rows.map((r) => r.name), AUDIT_TABLES, "the audit tables of every service");
  for (const table of AUDIT_TABLES) {
    const ref = sql.table(table);
    await sql`insert into ${ref} (actor, role, action) values ('tester', 'admin', 'Probe')`.execute(db);
    const before = await sql<{ n: number }>`select count(*)::int as n from ${ref}`.execute(db);
    t.ok(before.rows[0].n >= 1, `${table}: INSERT works`);
    for (const [op, statement] of [
      ["UPDATE", sql`update ${ref} set action = 'Rewritten'`],
      ["UPDATE of no row", sql`update ${ref} set action = 'Rewritten' where false`],
      ["DELETE", sql`delete from ${ref}`],
      ["TRUNCATE", sql`truncate ${ref}`],
    ] as const) {
      t.match(await refused(db, statement), /append-only/, `${table}: ${op} refused`);
    }
    const after = await sql<{ n: number; rewritten: number }>`select count(*)::int as n, count(*) filter (where action = 'Rewritten')::int as rewritten from ${ref}`.execute(db);
    t.equal(after.rows[0].n, before.rows[0].n, `${table}: every row still there`);
    t.equal(after.rows[0].rewritten, 0, `${table}: none changed`);
  }
}

t.test("Postgres: every audit table refuses UPDATE, DELETE and TRUNCATE", async (t) => {
  const database = await createDatabase({ databaseUrl: await createTestDatabase(t), dataDir: os.tmpdir() });
  t.teardown(() => database.close());
  await checkAppendOnly(t, await migrated(database));
});

t.test("PGlite: every audit table refuses UPDATE, DELETE and TRUNCATE", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-audit-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const database = await createDatabase({ dataDir });
  t.teardown(() => database.close());
  await checkAppendOnly(t, await migrated(database));
});
