// The scheduling service's one way to write: a write runs through WriteTransactions, records what it
// changed on the AfterCommit it is handed, and once everything it wrote has committed the recorded
// changes are acted on once: the watchers of each changed provider woken (here and, by NOTIFY, in the
// other replicas), each new status counted. Nothing is acted on for a write that failed: its
// transaction rolled back, and no watcher is woken for a change that never happened.
import { sql, type Kysely } from "kysely";
import { databaseDomainError } from "../runtime/errors.js";
import type { AppointmentStatusName } from "./db/appointment.table.js";
import type { Database, Db } from "./db/database.js";

/** AfterCommit collects what a write changed, to be acted on once it has committed. */
export class AfterCommit {
  /** providers are the providers whose appointments changed. */
  readonly providers = new Set<string>();
  /** statuses are the new status of each appointment changed or created. */
  readonly statuses: AppointmentStatusName[] = [];

  /** changed records a change of a provider's appointments (`statuses`: the new status of each one changed or created). */
  changed(providerId: string, ...statuses: AppointmentStatusName[]): void {
    this.providers.add(providerId);
    this.statuses.push(...statuses);
  }
}

/** Committed acts on what a committed write recorded. */
export type Committed = (after: AfterCommit) => void;

/** WriteTransactions runs the service's writes and acts on what they changed once committed (see the file comment). */
export class WriteTransactions {
  constructor(
    private readonly db: Kysely<Database>,
    /** lockTimeoutMs bounds every row wait of a transaction (lock_timeout). */
    readonly lockTimeoutMs: number,
    private readonly committed: Committed,
  ) {}

  /**
   * run runs fn, whose writes have all committed when it returns (one atomic statement, or
   * transactions of its own), then acts on what it recorded. A database failure becomes its domain
   * error (db/pg-errors.ts: a deadlock or lock timeout ABORTED, which clients retry).
   */
  async run<T>(fn: (after: AfterCommit) => Promise<T>): Promise<T> {
    const after = new AfterCommit();
    let result: T;
    try {
      result = await fn(after);
    } catch (err) {
      throw databaseDomainError(err) ?? err;
    }
    this.committed(after);
    return result;
  }

  /**
   * transaction runs fn in one transaction and acts on what it recorded once that has committed. A
   * deadlock, serialization failure or lock timeout between concurrent writers (possible when
   * bookings race without the lock: exclusion checks wait on each other's rows) rolls it all back and
   * answers ABORTED (db/pg-errors.ts), which clients retry. A body that starts with claim()
   * (`claims`) sets lock_timeout in that first statement; otherwise it is set here.
   */
  async transaction<T>(fn: (trx: Kysely<Database> & Db, after: AfterCommit) => Promise<T>, opts: { claims?: boolean } = {}): Promise<T> {
    return this.run((after) =>
      this.db.transaction().execute(async (trx) => {
        if (!opts.claims) await sql`select set_config('lock_timeout', ${`${this.lockTimeoutMs}ms`}, true)`.execute(trx);
        return fn(trx as never, after);
      }),
    );
  }
}
