// Named prepared statements for Kysely on node-postgres.
//
// Kysely sends every statement unnamed, so Postgres parses, analyses and plans it again on each
// call. Our hot statements (CallNext, the booking write, the queue state read) are CTEs whose
// planning costs more than their execution: measured on the queue benchmark, naming them cut
// Postgres CPU per IssueTicket + CallNext + CompleteTicket cycle from ~6.4 to ~4.3 ms. With a name,
// a connection parses a statement once and Postgres may keep a generic plan for it (its
// plan_cache_mode, `auto` by default, switches to one only when it costs no more than the custom
// plans did).
//
// Safety:
// * A name is derived from the statement's text (a hash), so one name never means two statements,
//   not even across processes sharing server connections behind a pooler.
// * A plan cached before a schema change whose result columns differ ("cached plan must not change
//   result type", after a rolling migration or a restore) and a statement the server no longer
//   has (DEALLOCATE ALL, a pooler handing out another server connection) are answered by preparing
//   the text again under a new name; outside a transaction the statement is retried once, inside
//   one the error stands (the transaction is aborted anyway) and the next call prepares afresh.
// * When the server keeps losing or duplicating our statements (a transaction-mode pooler without
//   prepared-statement support), the pool stops naming statements and says so once.
// * At most `maxStatements` texts get names; statements past that run unnamed, as before.

import { createHash } from "node:crypto";

import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import type pg from "pg";

/** PreparedStatementOptions configures preparedStatementPool. */
export interface PreparedStatementOptions {
  /** maxStatements bounds how many distinct statement texts get names (default 256). */
  maxStatements?: number;
  /** onDisabled is told once when the pool stops naming statements, and why. */
  onDisabled?: (reason: string) => void;
}

/** PreparedStatementPool is the pool Kysely is given, with a look at what it did. */
export interface PreparedStatementPool extends PostgresPool {
  /** stats: named texts, statements prepared again after a stale plan or a lost statement, and whether naming is off. */
  stats(): { named: number; reprepared: number; disabled: boolean };
}

const DEFAULT_MAX_STATEMENTS = 256;
/** After this many lost or duplicated statements the pool runs unnamed (a pooler is in the way). */
const LOST_STATEMENTS_BEFORE_DISABLING = 3;

/**
 * isInvalidatedStatement tells whether a database error means a named prepared statement stopped
 * being valid (a schema change under a cached plan, or the server no longer has it): preparing it
 * again fixes it, so the request may be retried.
 */
export function isInvalidatedStatement(err: unknown): boolean {
  return staleStatement(err) !== undefined;
}

/** staleStatement says why a named statement failed in a way preparing it again fixes, or undefined. */
function staleStatement(err: unknown): "stale plan" | "lost" | undefined {
  const code = (err as { code?: unknown })?.code;
  if (code === "0A000" && /cached plan must not change result type/i.test((err as Error).message)) return "stale plan";
  // 26000: prepared statement "…" does not exist; 42P05: prepared statement "…" already exists.
  if (code === "26000" || code === "42P05") return "lost";
  return undefined;
}

/** StatementNames hands out the names, one per distinct text, bounded, and turns naming off when the server keeps losing them. */
class StatementNames {
  readonly #names = new Map<string, string>();
  readonly #max: number;
  readonly #onDisabled: ((reason: string) => void) | undefined;
  #generation = 0;
  #lost = 0;
  reprepared = 0;
  disabled = false;

  constructor(max: number, onDisabled?: (reason: string) => void) {
    this.#max = max;
    this.#onDisabled = onDisabled;
  }

  get size(): number {
    return this.#names.size;
  }

  /** nameFor is the text's name, or undefined when it runs unnamed. */
  nameFor(text: string): string | undefined {
    if (this.disabled) return undefined;
    const name = this.#names.get(text);
    if (name !== undefined || this.#names.size >= this.#max) return name;
    return this.#assign(text);
  }

  /**
   * renew gives the text a name no connection has prepared yet, after its statement failed for
   * `why`; undefined once naming is off (a server that lost statements too often).
   */
  renew(text: string, why: "stale plan" | "lost"): string | undefined {
    this.reprepared++;
    if (why === "lost" && ++this.#lost >= LOST_STATEMENTS_BEFORE_DISABLING && !this.disabled) {
      this.disabled = true;
      this.#onDisabled?.(
        `the server lost or duplicated named prepared statements ${this.#lost} times (a connection pooler in transaction mode?); statements now run unnamed. Set DATABASE_PREPARED_STATEMENTS=off to start that way.`,
      );
    }
    if (this.disabled) return undefined;
    this.#generation++;
    return this.#assign(text);
  }

  #assign(text: string): string {
    // Postgres keeps 63 bytes of a name: "ms_" + 32 hex digits of the text's hash + "_" + generation.
    const name = `ms_${createHash("sha256").update(text).digest("hex").slice(0, 32)}_${this.#generation.toString(36)}`;
    this.#names.set(text, name);
    return name;
  }
}

/** PreparingClient is a checked-out pg client that runs parameterized statements by name. */
class PreparingClient implements PostgresPoolClient {
  readonly #client: pg.PoolClient;
  readonly #names: StatementNames;
  #inTransaction = false;

  constructor(client: pg.PoolClient, names: StatementNames) {
    this.#client = client;
    this.#names = names;
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(sql: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // A cursor (Kysely's streamQuery) is a pg Submittable: passed on as it is.
    if (typeof sql !== "string") return this.#client.query(sql as unknown as pg.QueryConfig) as unknown as PostgresCursor<R>;
    // Kysely hands every statement a fresh array of its own: pg only reads it.
    const values = (parameters ?? []) as unknown[];
    if (values.length === 0) {
      // Kysely's begin / commit / rollback: unnamed, and they tell whether a retry is safe.
      this.#track(sql);
      return this.#client.query(sql, values) as unknown as Promise<PostgresQueryResult<R>>;
    }
    const name = this.#names.nameFor(sql);
    if (name === undefined) return this.#client.query(sql, values) as unknown as Promise<PostgresQueryResult<R>>;
    return (this.#client.query({ name, text: sql, values }) as unknown as Promise<PostgresQueryResult<R>>).catch((err: unknown) => {
      const why = staleStatement(err);
      if (why === undefined) throw err;
      const renewed = this.#names.renew(sql, why);
      if (this.#inTransaction) throw err;
      const retry = renewed === undefined ? this.#client.query(sql, values) : this.#client.query({ name: renewed, text: sql, values });
      return retry as unknown as Promise<PostgresQueryResult<R>>;
    });
  }

  release(): void {
    this.#inTransaction = false;
    this.#client.release();
  }

  #track(sql: string): void {
    const head = sql.trimStart().slice(0, 20).toLowerCase();
    if (head.startsWith("begin") || head.startsWith("start transaction")) this.#inTransaction = true;
    else if (/^(commit|end|abort)\b/.test(head) || (head.startsWith("rollback") && !/^rollback\s+to\b/.test(head))) this.#inTransaction = false;
  }
}

/**
 * preparedStatementPool wraps a pg Pool for Kysely's PostgresDialect so that parameterized
 * statements run as named prepared statements (see the notes at the top of this file).
 */
export function preparedStatementPool(pool: pg.Pool, opts: PreparedStatementOptions = {}): PreparedStatementPool {
  const names = new StatementNames(opts.maxStatements ?? DEFAULT_MAX_STATEMENTS, opts.onDisabled);
  // One wrapper per pg client, so Kysely sees the same client on every checkout.
  const wrappers = new WeakMap<pg.PoolClient, PreparingClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) wrappers.set(client, (wrapper = new PreparingClient(client, names)));
      return wrapper;
    },
    end: () => pool.end(),
    stats: () => ({ named: names.size, reprepared: names.reprepared, disabled: names.disabled }),
  };
}
