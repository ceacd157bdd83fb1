import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { pgDump } from "@electric-sql/pglite-tools/pg_dump";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { withPgliteSession } from "../../runtime/db/index.js";
import type { TableStat } from "../db/backup.table.js";
import type { DatabaseBackupEngine, ScratchResult } from "./backup-engine.port.js";
import { restoreEpilogue, restorePrologue } from "./restore-script.js";
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
 * PgliteEngine backs up the embedded database with PGlite's own pg_dump (plain SQL). pg_dump is a
 * client of its own: it sets session settings, opens a read-only transaction it never ends, and
 * PGlite's wrapper runs DEALLOCATE ALL after it. The live PGlite is ONE session shared by every
 * service, so the dump never runs there: the live session is held only while its data directory is
 * copied (between two transactions, no SQL), and pg_dump and the stats run on a private PGlite
 * started from that copy, so both read exactly the same data and no service ever waits for them.
 */
export class PgliteEngine implements DatabaseBackupEngine {
  /** format is "pg_sql": plain SQL, as PGlite's pg_dump writes it. */
  readonly format = "pg_sql" as const;
  /** extension is ".sql". */
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

  /** dump copies the live data directory, then runs the stats and PGlite's pg_dump on a private PGlite started from the copy. */
  async dump(sink: Writable, signal: AbortSignal): Promise<TableStat[]> {
    let copy: PGlite | undefined;
    try {
      const image = await withPgliteSession(this.#pg, () => this.#pg.dumpDataDir("none"));
      signal.throwIfAborted();
      copy = await PGlite.create({ loadDataDir: image, extensions: { btree_gist } });
      for (const setting of SESSION_SETTINGS) await copy.exec(setting);
      const q = queryOf(copy);
      const schemas = await existingSchemas(q);
      if (schemas.length === 0) throw new ToolError(`nothing to back up: none of the schemas ${DOMAIN_SCHEMAS.join(", ")} exists`);
      const stats = await tableStats(q, schemas);
      signal.throwIfAborted();
      const file = await pgDump({ pg: copy, args: ["--no-owner", "--no-privileges", ...schemas.map((x) => `--schema=${x}`)] });
      await copy.close();
      copy = undefined;
      await pipeline(Readable.fromWeb(file.stream() as never), sink, { signal });
      return stats;
    } catch (err) {
      sink.destroy();
      throw err;
    } finally {
      await copy?.close().catch(() => undefined);
    }
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

  /**
   * restore replaces the live domain schemas the dump holds with the dump's, in one transaction,
   * carrying over what must survive a restore (restore-script.ts).
   */
  async restore(source: Readable, schemas: string[], signal: AbortSignal, beforeCommit?: () => void): Promise<void> {
    const text = await readAll(source);
    signal.throwIfAborted();
    beforeCommit?.();
    const pg = this.#pg;
    // The dump sets search_path and other settings for its session: withPgliteSession sets them
    // back before the services get the shared session again.
    await withPgliteSession(pg, () =>
      pg.transaction(async (tx) => {
        await tx.exec(restorePrologue(schemas));
        await tx.exec(text);
        await tx.exec(restoreEpilogue(schemas));
      }),
    );
  }
}
