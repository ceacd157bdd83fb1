import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { pgDump } from "@electric-sql/pglite-tools/pg_dump";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { withPgliteSession } from "../../runtime/db/index.js";
import type { TableStat } from "../db/backup.table.js";
import type { DatabaseBackupEngine, ScratchResult } from "./postgres-engine.port.js";
import { ToolError } from "./run-tool.js";
import { checkDomainInvariants, DOMAIN_SCHEMAS, existingSchemas, SESSION_SETTINGS, tableStats, type Query } from "./table-stats.js";

type Queryable = Pick<PGlite, "query">;

function queryOf(pg: Queryable): Query {
  return async <R>(text: string, params?: unknown[]) => (await pg.query<R>(text, params)).rows;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function readAll(source: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * PgliteEngine backs up the embedded database with PGlite's own pg_dump (plain SQL). The dump and
 * the stats run while this engine holds the one PGlite session, so no write comes between them.
 */
export class PgliteEngine implements DatabaseBackupEngine {
  readonly format = "pg_sql" as const;
  readonly extension = ".sql";
  readonly #pg: PGlite;
  /** A scratch in-memory PGlite, created on first use and kept: starting one costs seconds. */
  #scratch: Promise<PGlite> | undefined;
  #scratchQueue: Promise<unknown> = Promise.resolve();

  constructor(pglite: PGlite) {
    this.#pg = pglite;
  }

  /** close closes the scratch instance, if one was started. */
  async close(): Promise<void> {
    const s = this.#scratch;
    this.#scratch = undefined;
    if (s) await (await s.catch(() => undefined))?.close().catch(() => undefined);
  }

  #scratchInstance(): Promise<PGlite> {
    this.#scratch ??= (async () => {
      const p = await PGlite.create({ extensions: { btree_gist } });
      await p.exec("create extension if not exists btree_gist");
      return p;
    })();
    this.#scratch.catch(() => {
      this.#scratch = undefined;
    });
    return this.#scratch;
  }

  /** dump runs PGlite's pg_dump of the domain schemas and the stats, holding the session. */
  async dump(sink: Writable, signal: AbortSignal): Promise<TableStat[]> {
    const pg = this.#pg;
    let file: File;
    let stats: TableStat[];
    try {
      [file, stats] = await withPgliteSession(pg, async () => {
        const q = queryOf(pg);
        const schemas = await existingSchemas(q);
        if (schemas.length === 0) throw new ToolError(`nothing to back up: none of the schemas ${DOMAIN_SCHEMAS.join(", ")} exists`);
        const s = await pg.transaction(async (tx) => {
          for (const setting of SESSION_SETTINGS) await tx.exec(setting.replace(/^set /, "set local "));
          return tableStats(queryOf(tx), schemas);
        });
        signal.throwIfAborted();
        const f = await pgDump({ pg, args: ["--no-owner", "--no-privileges", ...schemas.map((x) => `--schema=${x}`)] });
        return [f, s] as const;
      });
    } catch (err) {
      sink.destroy();
      throw err;
    }
    await pipeline(Readable.fromWeb(file.stream() as never), sink, { signal });
    return stats;
  }

  /** scratchRestore loads the SQL dump into the scratch in-memory PGlite (emptied of domain schemas first). */
  async scratchRestore(source: Readable, signal: AbortSignal): Promise<ScratchResult> {
    const text = await readAll(source);
    signal.throwIfAborted();
    const run = this.#scratchQueue.then(async () => {
      const scratch = await this.#scratchInstance();
      const clear = `drop schema if exists ${DOMAIN_SCHEMAS.map(ident).join(", ")} cascade`;
      await scratch.exec(clear);
      try {
        const started = performance.now();
        try {
          await scratch.transaction(async (tx) => {
            await tx.exec(text);
          });
        } catch (err) {
          throw new ToolError(`the dump does not restore: ${(err as Error).message}`, { cause: err });
        }
        const restoreMs = performance.now() - started;
        for (const s of SESSION_SETTINGS) await scratch.exec(s);
        await scratch.exec("set search_path = public");
        const q = queryOf(scratch);
        const tables = await tableStats(q, await existingSchemas(q));
        const invariants = await checkDomainInvariants(q);
        return { tables, invariants, restoreMs };
      } finally {
        await scratch.exec(clear).catch(() => undefined);
      }
    });
    this.#scratchQueue = run.catch(() => undefined);
    return run;
  }

  /** restore drops the live domain schemas the dump holds and runs the dump, in one transaction. */
  async restore(source: Readable, schemas: string[], signal: AbortSignal, beforeCommit?: () => void): Promise<void> {
    const text = await readAll(source);
    signal.throwIfAborted();
    beforeCommit?.();
    const pg = this.#pg;
    await withPgliteSession(pg, async () => {
      const [{ search_path: saved }] = (await pg.query<{ search_path: string }>("show search_path")).rows;
      try {
        await pg.transaction(async (tx) => {
          if (schemas.length > 0) await tx.exec(`drop schema if exists ${schemas.map(ident).join(", ")} cascade`);
          await tx.exec(text);
        });
      } finally {
        // The dump empties search_path for its own session; this one is shared with the services.
        await pg.query("select set_config('search_path', $1, false)", [saved]);
      }
    });
  }
}
