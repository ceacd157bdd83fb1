// scripts/migrate.ts (the Kubernetes migration Job): migrates every service's schema in a fresh
// Postgres database, and a second run (the next rollout) is a no-op.
import t from "tap";
import pg from "pg";
import { MIGRATED_MODULES, migrateAll } from "../../scripts/migrate.js";
import { ALL_MODULES } from "../helpers/system.js";
import { createTestDatabase } from "../helpers/postgres.js";

t.test("migrateAll migrates every module's schema, idempotently", async (t) => {
  t.same(MIGRATED_MODULES.map((m) => m.schema).sort(), ALL_MODULES.map((m) => m.schema).sort(), "the same modules as the system");
  const url = await createTestDatabase(t);
  const schemas = await migrateAll(url);
  t.same(schemas.sort(), ALL_MODULES.map((m) => m.schema).sort(), "every schema");
  t.same((await migrateAll(url)).sort(), schemas, "a second run succeeds");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query<{ schema_name: string }>("SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY($1)", [schemas]);
  t.same(rows.map((r) => r.schema_name).sort(), [...schemas].sort(), "the schemas exist in the database");
});
