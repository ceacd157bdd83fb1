// A fresh database with service modules' schemas migrated, for the tests that call service classes
// directly: a new database on the real Postgres of DATABASE_URL, or PGlite in a temp DATA_DIR as
// `npm start` runs; closed (and its directory removed) at teardown.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDatabase, migrateToLatest, type DatabaseConnection } from "../../services/runtime/db/index.js";
import { createTestDatabase, type TeardownHost } from "./postgres.js";

/** MigratedDatabase is an open database with the modules' schemas migrated. */
export interface MigratedDatabase extends DatabaseConnection {
  /** databaseUrl is the Postgres database's URL ("" on PGlite). */
  databaseUrl: string;
  /** dataDir is its temp DATA_DIR (PGlite's files, when embedded). */
  dataDir: string;
}

/** createModuleDatabase opens a fresh database (Postgres, or PGlite with `embedded`) with the schemas of `modules` migrated. */
export async function createModuleDatabase(
  t: TeardownHost,
  modules: ReadonlyArray<{ schema: string; migrationsFolder: string }>,
  opts: { embedded?: boolean; maxConnections?: number } = {},
): Promise<MigratedDatabase> {
  const databaseUrl = opts.embedded ? "" : await createTestDatabase(t);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-test-db-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const database = await createDatabase({ databaseUrl: databaseUrl || undefined, dataDir, maxConnections: opts.maxConnections });
  t.teardown(() => database.close());
  for (const m of modules) await migrateToLatest(database.db, { schema: m.schema, migrationsFolder: m.migrationsFolder });
  return Object.assign(database, { databaseUrl, dataDir });
}

/** openAnotherPool opens a second pool on the same Postgres database: another instance of a service, or a test's own sessions. */
export async function openAnotherPool(t: TeardownHost, database: MigratedDatabase, opts: { maxConnections?: number } = {}): Promise<DatabaseConnection> {
  const other = await createDatabase({ databaseUrl: database.databaseUrl, dataDir: database.dataDir, maxConnections: opts.maxConnections });
  t.teardown(() => other.close());
  return other;
}
