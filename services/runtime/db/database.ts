// Opens the service database: real Postgres (a pg Pool) when DATABASE_URL is set, otherwise an
// embedded PGlite persisted under DATA_DIR. Both come back as a Kysely<any> with the same SQL
// dialect, the btree_gist extension (for `EXCLUDE USING gist (... WITH =, ... WITH &&)`) and the
// same JS result types (see pgTypeParsers: int8 and numeric are strings, timestamptz is a Date,
// date is a 'YYYY-MM-DD' string).

import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";

import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";

import { preparedStatementPool } from "./prepared-statements.js";
import { createPgliteDialect, createPgliteParsers, pgTypeParsers, withPgliteSession } from "./pglite-dialect.js";

const DEFAULT_MAX_CONNECTIONS = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
const POOL_IDLE_TIMEOUT_MS = 30_000;
const DEFAULT_APPLICATION_NAME = "medschedule";
const PGLITE_CLOSE_WAIT_MS = 10_000;

/** PGlite directories this process has open (a lock file with our pid but not listed here is stale). */
const openPgliteDirs = new Set<string>();

/** DatabaseOptions configures createDatabase. */
export interface DatabaseOptions {
  /** Postgres URL (DATABASE_URL); empty or unset selects the embedded PGlite. */
  databaseUrl?: string;
  /** DATA_DIR: PGlite keeps its files in `<dataDir>/pglite`. */
  dataDir: string;
  /** Pool size for Postgres (default 10). */
  maxConnections?: number;
  /** Bound for opening a connection and for the start-up `select 1` (default 5000 ms). */
  connectTimeoutMs?: number;
  /** application_name shown in pg_stat_activity (default 'medschedule'). */
  applicationName?: string;
  /** Server-side statement_timeout per connection on Postgres (default 30000 ms; 0 disables). */
  statementTimeoutMs?: number;
  /** Called with errors of idle pooled connections (e.g. a server restart); they are otherwise ignored. */
  onError?: (err: Error) => void;
  /**
   * Run parameterized statements as named prepared statements on Postgres (default true; see
   * prepared-statements.ts). Turn off behind a connection pooler in transaction mode.
   */
  preparedStatements?: boolean;
  /** Called with things an operator should know but that do not stop the database (default: ignored). */
  onWarning?: (message: string) => void;
}

/** DatabaseConnection is an open service database (Postgres or PGlite); a service's schema type is its own `Database` in its db/database.ts. */
export interface DatabaseConnection {
  /** db is the Kysely instance; on PGlite all its queries and transactions share one session. */
  db: Kysely<any>;
  /** kind says which engine is behind db. */
  kind: "postgres" | "pglite";
  /** url identifies the database for logs, without password: postgres://user@host:5432/db or pglite:///abs/dir. */
  url: string;
  /** pglite is the embedded instance (kind 'pglite' only); use withPgliteSession() around direct use. */
  pglite?: PGlite;
  /** pool is the pg Pool behind db (kind 'postgres' only), e.g. for a dedicated LISTEN client. */
  pool?: pg.Pool;
  /** close ends the pool or closes PGlite (waiting for the running transaction); idempotent. */
  close(): Promise<void>;
}

/** DatabaseUnavailableError says the database cannot be reached or set up, with what to do about it. */
export class DatabaseUnavailableError extends Error {
  /** code identifies the error without matching on the message. */
  readonly code = "DATABASE_UNAVAILABLE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * redactDatabaseUrl returns the URL without password (nor password-like query parameters), with
 * the port spelled out: postgres://user@host:5432/db. Throws DatabaseUnavailableError when it is
 * not a URL.
 */
export function redactDatabaseUrl(databaseUrl: string): string {
  let u: URL;
  try {
    u = new URL(databaseUrl);
  } catch {
    throw new DatabaseUnavailableError(
      "DATABASE_URL is not a valid URL (expected postgres://user:password@host:5432/database)",
    );
  }
  const user = u.username ? `${u.username}@` : "";
  const host = u.hostname ? `${u.hostname}:${u.port || "5432"}` : "";
  const params = new URLSearchParams();
  for (const [key, value] of u.searchParams) {
    params.append(key, /pass|secret|key|token/i.test(key) ? "***" : value);
  }
  const query = params.size > 0 ? `?${params.toString()}` : "";
  return `${u.protocol}//${user}${host}${u.pathname}${query}`;
}

/**
 * createDatabase opens Postgres at databaseUrl (pool, connectivity check, btree_gist) or, without
 * one, PGlite under `<dataDir>/pglite` (with btree_gist). Throws DatabaseUnavailableError with an
 * actionable message (never containing the password) when that fails.
 */
export async function createDatabase(opts: DatabaseOptions): Promise<DatabaseConnection> {
  const databaseUrl = opts.databaseUrl?.trim();
  return databaseUrl ? openPostgres(databaseUrl, opts) : openPglite(opts);
}

async function openPostgres(databaseUrl: string, opts: DatabaseOptions): Promise<DatabaseConnection> {
  const url = redactDatabaseUrl(databaseUrl);
  // What the redacted URL shows anyway (a password equal to the user name) needs no hiding.
  const secrets = passwordsOf(databaseUrl).filter((secret) => !url.includes(secret));
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const statementTimeoutMs = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;

  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
    application_name: opts.applicationName ?? DEFAULT_APPLICATION_NAME,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    keepAlive: true,
    types: pgTypeParsers,
  });
  // Without a listener, an idle client's error (server restart, network cut) crashes the process;
  // the pool drops that client and the next checkout reconnects.
  pool.on("error", (err) => opts.onError?.(err));
  // pg-pool listens for errors on idle clients only. A checked-out client between two queries of a
  // transaction (waiting for the lock service, say) that loses its connection (pg_terminate_backend,
  // a failover) emits "error" with no listener, and that crashes the process. With this listener the
  // error is reported, the transaction's next query fails (UNAVAILABLE, see errors.ts) and the pool
  // drops the dead client on release.
  pool.on("connect", (client) => client.on("error", (err) => opts.onError?.(err)));

  try {
    await withTimeout(pool.query("select 1"), connectTimeoutMs, `no answer within ${connectTimeoutMs} ms`);
  } catch (err) {
    await endPoolQuietly(pool);
    const { reason, hint } = describeConnectError(err);
    throw new DatabaseUnavailableError(scrub(`cannot reach Postgres at ${url}: ${reason} (${hint})`, secrets), {
      cause: err,
    });
  }

  const kyselyPool = opts.preparedStatements === false ? pool : preparedStatementPool(pool, { onDisabled: opts.onWarning });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: kyselyPool }) });
  try {
    await createBtreeGist(db, url);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err instanceof DatabaseUnavailableError ? err : new DatabaseUnavailableError(scrub(String(err), secrets));
  }

  let closing: Promise<void> | undefined;
  return {
    db,
    kind: "postgres",
    url,
    pool,
    close: () => (closing ??= db.destroy()),
  };
}

async function createBtreeGist(db: Kysely<any>, url: string): Promise<void> {
  try {
    await sql`create extension if not exists btree_gist`.execute(db);
  } catch (err) {
    // Two processes starting at once: one of them loses the race on pg_extension's unique index.
    const installed = await sql<{ ok: number }>`select 1 as ok from pg_extension where extname = 'btree_gist'`
      .execute(db)
      .then((r) => r.rows.length > 0)
      .catch(() => false);
    if (installed) return;
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === "42501") {
      throw new DatabaseUnavailableError(
        `cannot create the Postgres extension btree_gist in ${url}: ${message} ` +
          "(grant the role CREATE on the database — btree_gist is a trusted extension — or have a " +
          'superuser run "create extension btree_gist" in that database once)',
        { cause: err },
      );
    }
    if (code === "58P01" || code === "0A000" || /control file|not available/i.test(message)) {
      throw new DatabaseUnavailableError(
        `the Postgres server at ${url} has no btree_gist extension: ${message} ` +
          "(install the server's contrib modules, e.g. the postgresql-contrib package)",
        { cause: err },
      );
    }
    throw new DatabaseUnavailableError(`cannot create the Postgres extension btree_gist in ${url}: ${message}`, {
      cause: err,
    });
  }
}

async function openPglite(opts: DatabaseOptions): Promise<DatabaseConnection> {
  const dataDir = path.resolve(opts.dataDir);
  const dir = path.join(dataDir, "pglite");
  const url = `pglite://${dir}`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lockFile = path.join(dataDir, "pglite.lock");
  await takeLock(lockFile, dir);
  const unlock = async (): Promise<void> => {
    openPgliteDirs.delete(dir);
    await unlink(lockFile).catch(() => undefined);
  };

  let pglite: PGlite;
  try {
    pglite = await PGlite.create({ dataDir: dir, extensions: { btree_gist }, parsers: createPgliteParsers() });
    await pglite.exec("create extension if not exists btree_gist");
  } catch (err) {
    await unlock();
    const message = err instanceof Error ? err.message : String(err);
    throw new DatabaseUnavailableError(
      `cannot open the embedded database (PGlite) at ${dir}: ${message} ` +
        "(if the directory was written by another PGlite or Postgres version, move it aside to start empty)",
      { cause: err },
    );
  }

  const db = new Kysely<any>({ dialect: createPgliteDialect(pglite) });
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await db.destroy();
    // Let the transaction that holds the session finish; do not wait forever for a stuck one.
    await withPgliteSession(pglite, () => pglite.close(), { acquireTimeoutMs: PGLITE_CLOSE_WAIT_MS }).catch(
      async () => {
        if (!pglite.closed) await pglite.close();
      },
    );
    await unlock();
  };
  return { db, kind: "pglite", url, pglite, close: () => (closing ??= close()) };
}

/**
 * Two PGlite instances on one directory corrupt it and PGlite does not check, so a lock file with
 * our pid guards it; a lock left by a dead process is taken over.
 */
async function takeLock(lockFile: string, dir: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      openPgliteDirs.add(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new DatabaseUnavailableError(`cannot create ${lockFile}: ${(err as Error).message}`, { cause: err });
      }
    }
    const pid = Number.parseInt(await readFile(lockFile, "utf8").catch(() => ""), 10);
    // Our own pid without the directory in openPgliteDirs: left by an earlier process that had
    // the same pid (containers restart with small, repeating pids).
    const ours = pid === process.pid && openPgliteDirs.has(dir);
    if (ours || (pid !== process.pid && Number.isInteger(pid) && pid > 0 && isAlive(pid))) {
      throw new DatabaseUnavailableError(
        `the embedded database (PGlite) at ${dir} is already open in process ${pid}` +
          (pid === process.pid ? " (this process: share one createDatabase() result)" : "") +
          ` (stop that process, or use another DATA_DIR; remove ${lockFile} only if no process uses it)`,
      );
    }
    await unlink(lockFile).catch(() => undefined);
  }
  throw new DatabaseUnavailableError(`cannot lock ${lockFile}: another process keeps taking it`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function describeConnectError(err: unknown): { reason: string; hint: string } {
  const e = err as { code?: string; message?: string; errors?: Array<{ message?: string }> };
  const code = e?.code;
  let reason = e?.message || "";
  if (!reason && Array.isArray(e?.errors)) reason = e.errors.map((x) => x.message).join("; ");
  if (!reason) reason = code ?? String(err);
  switch (code) {
    case "28P01":
    case "28000":
      return { reason, hint: "check the user and password in DATABASE_URL" };
    case "3D000":
      return { reason, hint: "create that database or fix the database name in DATABASE_URL" };
    case "57P03":
      return { reason, hint: "the server is starting up or shutting down; retry in a moment" };
    case "53300":
      return { reason, hint: "the server has no free connections; raise max_connections or lower the pool size" };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { reason, hint: "unknown host: check the host name in DATABASE_URL" };
    default:
      return { reason, hint: "is it running? check DATABASE_URL" };
  }
}

function passwordsOf(databaseUrl: string): string[] {
  try {
    const u = new URL(databaseUrl);
    const found = [u.password, safeDecode(u.password), u.searchParams.get("password") ?? ""];
    return [...new Set(found)].filter((s) => s.length >= 4);
  } catch {
    return [];
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((t, secret) => t.split(secret).join("***"), text);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(message), { code: "ETIMEDOUT" })), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function endPoolQuietly(pool: pg.Pool): Promise<void> {
  await withTimeout(pool.end(), 1_000, "pool end").catch(() => undefined);
}
