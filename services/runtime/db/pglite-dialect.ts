// A Kysely dialect for PGlite (embedded Postgres in WebAssembly).
//
// PGlite is ONE Postgres session. Kysely assumes a pool: it acquires a connection, runs a
// transaction's statements on it, and releases it. Here every acquire takes the single session
// from a FIFO queue, so while a transaction (or a `db.connection()` block) holds it, every other
// query and transaction waits its turn: statements of two transactions never interleave.
//
// Consequence: inside `db.transaction().execute(async (trx) => ...)`, every statement must use
// `trx`. A query on `db` there waits for the session the transaction holds; with Postgres it would
// run outside the transaction, with PGlite it fails after `acquireTimeoutMs` (default 30 s) with a
// message saying so.
//
// Result types follow node-postgres exactly (see `pgTypeParsers`), so code and tests see the same
// JS values on PGlite and on a real server.

import type { PGlite, ParserOptions } from "@electric-sql/pglite";
import {
  CompiledQuery,
  createQueryId,
  IdentifierNode,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  RawNode,
} from "kysely";
import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from "kysely";
import pg from "pg";

const DATE_OID = 1082;
const DATE_ARRAY_OID = 1182;
const TEXT_ARRAY_OID = 1009;
/** Builtin types have OIDs below FirstNormalObjectId (16384). */
const FIRST_NORMAL_OID = 16384;
const DEFAULT_ACQUIRE_TIMEOUT_MS = 30_000;
const DEFAULT_STREAM_CHUNK_SIZE = 100;

const keepText = (value: string): string => value;

/** pg-types' lookup, typed by plain OID (its typings only take the builtin TypeId enum). */
const pgDefaultParser = pg.types.getTypeParser as (
  oid: number,
  format?: "text" | "binary",
) => (value: string) => unknown;

/**
 * pgTypeParsers is the result-type mapping both drivers use: node-postgres's defaults
 * (int8 -> string, numeric -> string, int2/int4/float -> number, timestamptz/timestamp -> Date,
 * json/jsonb -> parsed, bytea -> Buffer, arrays of those), except that `date` and `date[]` stay
 * 'YYYY-MM-DD' strings (a calendar date is not an instant; pg's default would make it local
 * midnight of the process's time zone).
 */
export const pgTypeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format: "text" | "binary" = "text") => {
    if (format === "text") {
      if (oid === DATE_OID) return keepText;
      if (oid === DATE_ARRAY_OID) return pgDefaultParser(TEXT_ARRAY_OID, "text");
    }
    return pgDefaultParser(oid, format);
  }) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * createPgliteParsers returns PGlite `parsers` (text format, by type OID) that yield exactly what
 * node-postgres yields with `pgTypeParsers`; types without a pg parser stay strings in both.
 */
export function createPgliteParsers(): ParserOptions {
  const noParse = pgDefaultParser(0, "text");
  const parsers: ParserOptions = {};
  for (let oid = 1; oid < FIRST_NORMAL_OID; oid++) {
    const parse = pgTypeParsers.getTypeParser(oid, "text") as ((value: string) => unknown) | undefined;
    if (parse !== undefined && parse !== noParse) parsers[oid] = (value: string) => parse(value);
  }
  return parsers;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/**
 * timestamptzText writes a Date the way node-postgres does (its dateToStringUTC): PGlite's own
 * serializer uses toISOString, whose six-digit years ("+010000-01-01T08:00:00.000Z", past
 * 9999-12-31) Postgres reads as a time zone ("time zone displacement out of range") and whose
 * negative years it refuses, while Postgres itself holds timestamps up to 294276 AD.
 */
export function timestamptzText(d: Date): string {
  let year = d.getUTCFullYear();
  const bc = year < 1;
  if (bc) year = 1 - year;
  const text =
    `${pad(year, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}+00:00`;
  return bc ? `${text} BC` : text;
}

/** pgParameter sends Date parameters (and arrays of them) as node-postgres would; other values as they are. */
function pgParameter(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? value : timestamptzText(value);
  if (Array.isArray(value) && value.some((v) => v instanceof Date)) return value.map(pgParameter);
  return value;
}

/** PgliteDialectOptions tunes createPgliteDialect. */
export interface PgliteDialectOptions {
  /** How long a query or transaction waits for the session before failing (0 = forever). */
  acquireTimeoutMs?: number;
}

/** PgliteSessionTimeoutError is thrown when the PGlite session stayed busy past acquireTimeoutMs. */
export class PgliteSessionTimeoutError extends Error {
  /** code identifies the error without matching on the message. */
  readonly code = "PGLITE_SESSION_TIMEOUT";
  constructor(timeoutMs: number) {
    super(
      `the embedded database (PGlite, one session) stayed busy for ${timeoutMs} ms: a transaction ` +
        "or connection holds it. If this happens inside db.transaction(), a query used `db` " +
        "instead of the transaction `trx` (that waits for itself).",
    );
    this.name = "PgliteSessionTimeoutError";
  }
}

/** The FIFO queue in front of one PGlite session, shared by every dialect on that instance. */
class SessionQueue {
  #busy = false;
  readonly #waiters: Array<{ grant: () => void }> = [];

  async acquire(timeoutMs: number): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve();
        },
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              const i = this.#waiters.indexOf(waiter);
              if (i >= 0) this.#waiters.splice(i, 1);
              reject(new PgliteSessionTimeoutError(timeoutMs));
            }, timeoutMs)
          : undefined;
      this.#waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next.grant(); // hand over directly: the session stays busy
    else this.#busy = false;
  }
}

const queues = new WeakMap<PGlite, SessionQueue>();

function queueFor(pglite: PGlite): SessionQueue {
  let queue = queues.get(pglite);
  if (!queue) {
    queue = new SessionQueue();
    queues.set(pglite, queue);
  }
  return queue;
}

/** Settings a transaction sets for itself only; never compared or set back. */
const PER_TRANSACTION_SETTING = /^transaction_/;

async function sessionSettings(pglite: PGlite): Promise<Map<string, string>> {
  const { rows } = await pglite.query<{ name: string; setting: string }>(
    "select name, setting from pg_settings where context in ('user', 'superuser')",
  );
  return new Map(rows.filter((r) => !PER_TRANSACTION_SETTING.test(r.name)).map((r) => [r.name, r.setting]));
}

/**
 * Hands the session back as it was found: a transaction left open is rolled back (as
 * releaseConnection does), and a setting changed for the session is set back.
 */
async function handBack(pglite: PGlite, before: Map<string, string>): Promise<void> {
  if (pglite.isInTransaction()) await pglite.query("rollback");
  const after = await sessionSettings(pglite);
  const names: string[] = [];
  const values: string[] = [];
  for (const [name, value] of before) {
    if (after.get(name) !== value) {
      names.push(name);
      values.push(value);
    }
  }
  if (names.length === 0) return;
  await pglite.query("select set_config(s.name, s.value, false) from unnest($1::text[], $2::text[]) as s(name, value)", [
    names,
    values,
  ]);
}

/**
 * withPgliteSession runs fn while holding the PGlite session, queued with every Kysely query and
 * transaction on that instance (for direct PGlite use such as `dumpDataDir()` or `listen()`). The
 * next holder gets the session as fn found it: a transaction fn left open is rolled back and the
 * session settings fn changed (search_path, a SET run by a restored dump, ...) are set back.
 */
export async function withPgliteSession<T>(
  pglite: PGlite,
  fn: () => Promise<T>,
  opts: PgliteDialectOptions = {},
): Promise<T> {
  const queue = queueFor(pglite);
  await queue.acquire(opts.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS);
  try {
    const before = pglite.closed ? undefined : await sessionSettings(pglite);
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (before && !pglite.closed) await handBack(pglite, before).catch(() => undefined);
      throw err;
    }
    if (before && !pglite.closed) await handBack(pglite, before);
    return result;
  } finally {
    queue.release();
  }
}

const DML_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

/** One lease of the session: valid from acquireConnection until releaseConnection. */
class PgliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;
  readonly #parsers: ParserOptions;
  readonly #inFlight = new Set<Promise<unknown>>();
  #released = false;

  constructor(pglite: PGlite, parsers: ParserOptions) {
    this.#pglite = pglite;
    this.#parsers = parsers;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#released) {
      throw new Error("PGlite connection used after it was released (a query outlived its transaction)");
    }
    const running = this.#pglite.query<R>(compiledQuery.sql, compiledQuery.parameters.map(pgParameter), {
      parsers: this.#parsers,
    });
    this.#inFlight.add(running);
    try {
      const result = await running;
      const command = result.command?.toUpperCase();
      return {
        rows: result.rows,
        numAffectedRows:
          command !== undefined && DML_COMMANDS.has(command)
            ? BigInt(result.rowCount ?? result.affectedRows ?? 0)
            : undefined,
      };
    } finally {
      this.#inFlight.delete(running);
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize: number = DEFAULT_STREAM_CHUNK_SIZE,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new Error("chunkSize must be a positive integer");
    }
    // PGlite has no portal streaming through its query API: run the query, then yield in chunks.
    const { rows } = await this.executeQuery<R>(compiledQuery);
    for (let i = 0; i < rows.length; i += chunkSize) {
      yield { rows: rows.slice(i, i + chunkSize) };
    }
  }

  /** Waits for statements still running, then makes the lease unusable. */
  async close(): Promise<void> {
    this.#released = true;
    while (this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight]);
    }
  }
}

class PgliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #queue: SessionQueue;
  readonly #acquireTimeoutMs: number;
  readonly #parsers = createPgliteParsers();
  #destroyed = false;

  constructor(pglite: PGlite, opts: PgliteDialectOptions) {
    this.#pglite = pglite;
    this.#queue = queueFor(pglite);
    this.#acquireTimeoutMs = opts.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
  }

  async init(): Promise<void> {
    await this.#pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#destroyed) throw new Error("the PGlite dialect has been destroyed");
    await this.#queue.acquire(this.#acquireTimeoutMs);
    if (this.#destroyed || this.#pglite.closed) {
      this.#queue.release();
      throw new Error("the PGlite database has been closed");
    }
    return new PgliteConnection(this.#pglite, this.#parsers);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let statement = "begin";
    if (settings.isolationLevel) statement += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) statement += ` ${settings.accessMode}`;
    await connection.executeQuery(CompiledQuery.raw(statement));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async savepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("savepoint", savepointName), createQueryId()));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("rollback to", savepointName), createQueryId()));
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    savepointName: string,
    compileQuery: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(compileQuery(savepointCommand("release", savepointName), createQueryId()));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    try {
      await (connection as PgliteConnection).close();
      // Never hand the next caller a session still inside a transaction (a raw `begin` left
      // open on db.connection(), or an abandoned transaction).
      if (!this.#pglite.closed && this.#pglite.isInTransaction()) {
        await this.#pglite.query("rollback");
      }
    } finally {
      this.#queue.release();
    }
  }

  async destroy(): Promise<void> {
    // The PGlite instance belongs to whoever created it; closing it is their job.
    this.#destroyed = true;
  }
}

function savepointCommand(command: string, savepointName: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(savepointName)]);
}

/**
 * createPgliteDialect returns a Kysely dialect over one PGlite instance: Postgres SQL, with every
 * query and transaction queued on the single session, and node-postgres result types.
 */
export function createPgliteDialect(pglite: PGlite, opts: PgliteDialectOptions = {}): Dialect {
  return {
    createDriver: (): Driver => new PgliteDriver(pglite, opts),
    createQueryCompiler: (): QueryCompiler => new PostgresQueryCompiler(),
    createAdapter: (): DialectAdapter => new PostgresAdapter(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => new PostgresIntrospector(db),
  };
}
