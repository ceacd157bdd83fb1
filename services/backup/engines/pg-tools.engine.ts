import { randomBytes } from "node:crypto";
import { PassThrough, type Readable, type Writable } from "node:stream";
import pg from "pg";
import type { TableStat } from "../db/backup.table.js";
import type { DatabaseBackupEngine, ScratchResult } from "./backup-engine.port.js";
import { restoreEpilogue, restorePrologue } from "./restore-script.js";
import { libpqEnv, runTool, ToolError, withDatabase } from "./run-tool.js";
import { checkDomainInvariants, DOMAIN_SCHEMAS, existingSchemas, SESSION_SETTINGS, tableStats, type Query } from "./table-stats.js";

function queryOf(client: pg.Client): Query {
  return async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[];
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: "medschedule-backup" });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new ToolError(`cannot connect to Postgres database ${JSON.stringify(new URL(url).pathname.slice(1))}: ${(err as Error).message}`, { cause: err });
  }
  client.on("error", () => undefined);
  return client;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * PgToolsEngine backs up real Postgres with pg_dump --format=custom and restores with pg_restore.
 * The dump and the table stats read one exported snapshot, so the recorded counts and checksums are
 * exactly the dump's content. Passwords travel in PGPASSWORD, never on a command line.
 */
export class PgToolsEngine implements DatabaseBackupEngine {
  /** format is "pg_custom": pg_dump's custom format, read by pg_restore. */
  readonly format = "pg_custom" as const;
  /** extension is ".pgdump". */
  readonly extension = ".pgdump";
  readonly #url: string;

  constructor(databaseUrl: string) {
    this.#url = databaseUrl;
  }

  /** dump runs pg_dump on an exported snapshot and computes the stats in that snapshot. */
  async dump(sink: Writable, signal: AbortSignal): Promise<TableStat[]> {
    let client: pg.Client;
    try {
      client = await connect(this.#url);
    } catch (err) {
      sink.destroy();
      throw err;
    }
    try {
      await client.query("begin isolation level repeatable read read only");
      for (const s of SESSION_SETTINGS) await client.query(s.replace(/^set /, "set local "));
      const [{ snapshot }] = (await client.query<{ snapshot: string }>("select pg_export_snapshot() as snapshot")).rows;
      const q = queryOf(client);
      const schemas = await existingSchemas(q);
      if (schemas.length === 0) throw new ToolError(`nothing to back up: none of the schemas ${DOMAIN_SCHEMAS.join(", ")} exists`);
      const args = ["--format=custom", "--no-owner", "--no-privileges", `--snapshot=${snapshot}`, ...schemas.map((s) => `--schema=${s}`)];
      const [, stats] = await Promise.all([
        runTool("pg_dump", args, { env: libpqEnv(this.#url), stdout: sink, signal }),
        tableStats(q, schemas),
      ]);
      await client.query("commit");
      return stats;
    } finally {
      if (!sink.writableFinished) sink.destroy();
      await client.end().catch(() => undefined);
    }
  }

  /** scratchRestore restores into a new database on the same server and drops it afterwards. */
  async scratchRestore(source: Readable, signal: AbortSignal): Promise<ScratchResult> {
    const name = `medschedule_verify_${randomBytes(6).toString("hex")}`;
    const admin = await connect(this.#url);
    try {
      await admin.query(`create database ${ident(name)}`);
    } catch (err) {
      await admin.end().catch(() => undefined);
      throw new ToolError(`cannot create the scratch database for verification: ${(err as Error).message} (the role needs CREATEDB)`, { cause: err });
    }
    const url = withDatabase(this.#url, name);
    try {
      const scratch = await connect(url);
      try {
        await scratch.query("create extension if not exists btree_gist");
        const started = performance.now();
        await runTool("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", `--dbname=${name}`], {
          env: libpqEnv(this.#url, name),
          stdin: source,
          signal,
        });
        const restoreMs = performance.now() - started;
        for (const s of SESSION_SETTINGS) await scratch.query(s);
        const q = queryOf(scratch);
        const tables = await tableStats(q, await existingSchemas(q));
        const invariants = await checkDomainInvariants(q);
        return { tables, invariants, restoreMs };
      } finally {
        await scratch.end().catch(() => undefined);
      }
    } finally {
      await admin.query(`drop database if exists ${ident(name)} with (force)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
  }

  /**
   * restore turns the dump into SQL (pg_restore -f -) and runs it with psql in ONE transaction that
   * replaces the live domain schemas the dump holds, carrying over what must survive a restore
   * (restore-script.ts): all or nothing.
   */
  async restore(source: Readable, schemas: string[], signal: AbortSignal, beforeCommit?: () => void): Promise<void> {
    const script = new PassThrough();
    script.write(restorePrologue(schemas));
    const toSql = runTool("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--file=-"], {
      env: libpqEnv(this.#url),
      stdin: source,
      stdout: script,
      endStdout: false,
      signal,
    }).then(() => {
      beforeCommit?.();
      script.end(restoreEpilogue(schemas));
    });
    const apply = runTool("psql", ["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--file=-"], {
      env: libpqEnv(this.#url),
      stdin: script,
      signal,
    });
    // A failing pg_restore must not let psql commit a half script: psql only commits at the end of
    // its input, and the script is ended only after pg_restore succeeded (destroyed otherwise, which
    // kills psql before its COMMIT).
    await Promise.all([
      toSql.catch((err: unknown) => {
        script.destroy(err as Error);
        throw err;
      }),
      apply,
    ]);
  }
}
