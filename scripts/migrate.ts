// `node dist/scripts/migrate.js`: runs every service's migrations against DATABASE_URL, then exits.
// The Kubernetes migration Job runs it before a rollout; the services also migrate at start (the
// Migrator takes a lock, so both may run at once). Exit codes: 0 done, 1 a migration failed, 2 config.
import { pathToFileURL } from "node:url";
import { backupModule } from "../services/backup/backup.module.js";
import { lockModule } from "../services/lock/lock.module.js";
import { patientModule } from "../services/patient/patient.module.js";
import { queueModule } from "../services/queue/queue.module.js";
import { schedulingModule } from "../services/scheduling/scheduling.module.js";
import { ConfigError, loadConfig } from "../services/runtime/config.js";
import { createDatabase, migrateToLatest, redactDatabaseUrl } from "../services/runtime/db/index.js";

/** MIGRATED_MODULES are the services whose schemas the script migrates, in order. */
export const MIGRATED_MODULES = [schedulingModule, queueModule, lockModule, backupModule, patientModule];

/** migrateAll migrates every module's schema in the database at `databaseUrl`; returns the schema names. */
export async function migrateAll(databaseUrl: string): Promise<string[]> {
  const database = await createDatabase({ databaseUrl, dataDir: "", applicationName: "medschedule-migrate" });
  try {
    for (const m of MIGRATED_MODULES) await migrateToLatest(database.db, { schema: m.schema, migrationsFolder: m.migrationsFolder });
    return MIGRATED_MODULES.map((m) => m.schema);
  } finally {
    await database.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const config = loadConfig(process.env, { port: 0 });
    if (!config.databaseUrl) throw new ConfigError("DATABASE_URL is not set (the migration Job migrates a real Postgres)");
    const schemas = await migrateAll(config.databaseUrl);
    process.stdout.write(`${JSON.stringify({ msg: "migrated", database: redactDatabaseUrl(config.databaseUrl), schemas })}\n`);
  } catch (err) {
    process.stderr.write(`medschedule migrate: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}
