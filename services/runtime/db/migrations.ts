// Runs one service's migrations into that service's own Postgres schema.
//
// Each service owns a schema (`scheduling`, `queue`, `lock`, `backup`) and a folder of migration
// files named by timestamp (`2026-11-23T1600-create-leases.ts`, compiled to .js in dist/), each
// exporting `up(db: Kysely<any>)` and optionally `down`. The service's `kysely_migration` and
// `kysely_migration_lock` tables live in its schema.
//
// Migrations run with `search_path = <schema>, public` (set local to the migration transaction),
// so unqualified names, in the schema builder and in raw `sql`, land in the service's schema while
// public extensions (btree_gist) stay visible. All pending migrations run in one transaction: if
// one fails, none of that run is applied. Concurrent starts on real Postgres wait on Kysely's
// migration lock (a session advisory lock), then find nothing left to do.

import { promises as fs } from "node:fs";
import path from "node:path";

import { FileMigrationProvider, Migrator, sql } from "kysely";
import type { Kysely, Migration, MigrationProvider, MigrationResult } from "kysely";

/** MigrateOptions names the schema and the folder of compiled migration files. */
export interface MigrateOptions {
  /** schema is the service's Postgres schema; created when missing. */
  schema: string;
  /** migrationsFolder is absolute: fileURLToPath(new URL('./migrations', import.meta.url)). */
  migrationsFolder: string;
}

/** MigrationFailedError names the schema and the migration that failed, with the database error as cause. */
export class MigrationFailedError extends Error {
  /** code identifies the error without matching on the message. */
  readonly code = "MIGRATION_FAILED";
  /** schema is the service schema being migrated. */
  readonly schema: string;
  /** migrationName is the failed migration (file name without extension), if one failed. */
  readonly migrationName: string | undefined;
  constructor(message: string, schema: string, migrationName: string | undefined, cause: unknown) {
    super(message, { cause });
    this.name = "MigrationFailedError";
    this.schema = schema;
    this.migrationName = migrationName;
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * migrateToLatest creates `schema` if missing and applies the pending migrations of
 * `migrationsFolder` in name order; idempotent, and safe when several processes start at once.
 * Throws MigrationFailedError naming the failed migration.
 */
export async function migrateToLatest(db: Kysely<any>, opts: MigrateOptions): Promise<void> {
  const { schema, migrationsFolder } = opts;
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid schema name "${schema}" (lower-case letters, digits and _)`);
  }
  if (!path.isAbsolute(migrationsFolder)) {
    throw new Error(`migrationsFolder must be an absolute path, got "${migrationsFolder}"`);
  }
  try {
    const stat = await fs.stat(migrationsFolder);
    if (!stat.isDirectory()) throw new Error("not a directory");
  } catch (err) {
    throw new MigrationFailedError(
      `cannot migrate schema "${schema}": migrations folder ${migrationsFolder} is missing ` +
        `(${(err as Error).message}; was the service compiled to dist/?)`,
      schema,
      undefined,
      err,
    );
  }

  await createSchema(db, schema);

  // One session for the whole run: the migration lock is a session advisory lock, and the
  // statement_timeout of pooled connections must not cut a long migration or the wait for it.
  const { error, results } = await db.connection().execute(async (conn) => {
    await sql`set statement_timeout = 0`.execute(conn);
    try {
      const migrator = new Migrator({
        db: conn,
        provider: new SchemaMigrationProvider(schema, migrationsFolder),
        migrationTableSchema: schema,
      });
      return await migrator.migrateToLatest();
    } finally {
      await sql`reset statement_timeout`.execute(conn).catch(() => undefined);
    }
  });

  if (error !== undefined) throw failure(schema, migrationsFolder, error, results);
}

async function createSchema(db: Kysely<any>, schema: string): Promise<void> {
  try {
    await db.schema.createSchema(schema).ifNotExists().execute();
  } catch (err) {
    // Concurrent `create schema if not exists` can still fail on the catalog's unique index.
    const exists = await sql<{ ok: number }>`select 1 as ok from pg_namespace where nspname = ${schema}`
      .execute(db)
      .then((r) => r.rows.length > 0);
    if (!exists) {
      throw new MigrationFailedError(
        `cannot create schema "${schema}": ${(err as Error).message}`,
        schema,
        undefined,
        err,
      );
    }
  }
}

/** Loads the compiled files with Kysely's FileMigrationProvider and runs each in the service schema. */
class SchemaMigrationProvider implements MigrationProvider {
  readonly #files: FileMigrationProvider;
  readonly #schema: string;

  constructor(schema: string, migrationFolder: string) {
    // Picks up .js/.mjs (and .ts when run from sources); .d.ts and .js.map files are ignored.
    this.#files = new FileMigrationProvider({ fs, path, migrationFolder });
    this.#schema = schema;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations = await this.#files.getMigrations();
    const scoped: Record<string, Migration> = {};
    for (const [name, migration] of Object.entries(migrations)) {
      scoped[name] = {
        up: async (db) => {
          await this.#useSchema(db);
          await migration.up(db);
        },
        ...(migration.down
          ? {
              down: async (db: Kysely<any>) => {
                await this.#useSchema(db);
                await migration.down!(db);
              },
            }
          : {}),
      };
    }
    return scoped;
  }

  async #useSchema(db: Kysely<any>): Promise<void> {
    // `set local` ends with the migration transaction.
    await sql`select set_config('search_path', ${`${quoteIdent(this.#schema)}, public`}, true)`.execute(db);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function failure(
  schema: string,
  folder: string,
  error: unknown,
  results: MigrationResult[] | undefined,
): MigrationFailedError {
  const cause = error instanceof Error ? error : new Error(String(error));
  const pgCode = (error as { code?: unknown }).code;
  const detail = `${cause.message}${typeof pgCode === "string" ? ` [${pgCode}]` : ""}`;
  const failed = results?.find((r) => r.status === "Error");
  if (failed) {
    const applied = results!.filter((r) => r.status === "Success").length;
    return new MigrationFailedError(
      `migration "${failed.migrationName}" of schema "${schema}" failed: ${detail} ` +
        `(file in ${folder}; the whole run was rolled back` +
        (applied > 0 ? `, including ${applied} earlier migration(s) of this run` : "") +
        ")",
      schema,
      failed.migrationName,
      error,
    );
  }
  return new MigrationFailedError(
    `migrating schema "${schema}" failed before any migration ran: ${detail} (folder ${folder})`,
    schema,
    undefined,
    error,
  );
}
