// The runtime's database layer: open Postgres or PGlite, run a service's migrations.

export { createDatabase, DatabaseUnavailableError, redactDatabaseUrl } from "./database.js";
export type { DatabaseConnection, DatabaseOptions } from "./database.js";
export { migrateToLatest, MigrationFailedError } from "./migrations.js";
export type { MigrateOptions } from "./migrations.js";
export {
  createPgliteDialect,
  createPgliteParsers,
  pgTypeParsers,
  PgliteSessionTimeoutError,
  withPgliteSession,
} from "./pglite-dialect.js";
export type { PgliteDialectOptions } from "./pglite-dialect.js";
