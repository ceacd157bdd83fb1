// The services' change logs (queue.changes, scheduling.changes: what a Watch stream resumes from),
// read the same way by each service, and what a service keeps only for a while: its change log
// (changeRetentionMs: how far back a watcher can resume) and its requestIds (requestKeyRetentionMs:
// how long a retry is answered as the first call was), pruned now and then after writes, never more
// than once a minute.
import type { Kysely } from "kysely";
import type { Clock } from "../clock.js";
import type { AnyServiceDb } from "../idempotency.js";

/** ChangeLogDb types any service's change log by the columns every one of them has. */
type ChangeLogDb = Kysely<{ c: { key: string; sequence: string | null } }>;

/** ChangeLog reads one service's change log (`<schema>.changes`, `<schema>.location_changes`), numbered per key (a queue, a provider, a location). */
export class ChangeLog<R> {
  constructor(
    private readonly table: `${string}.${string}changes`,
    private readonly keyColumn: string,
  ) {}

  /** after reads up to `limit` numbered changes of a key with a sequence above `after`, in order. */
  async after(db: AnyServiceDb, key: string, after: bigint, limit: number): Promise<R[]> {
    const d = db as ChangeLogDb;
    const rows = await d
      .selectFrom(this.table as unknown as "c")
      .selectAll()
      .where(this.keyColumn as "key", "=", key)
      .where("sequence", ">", after.toString())
      .orderBy("sequence")
      .limit(limit)
      .execute();
    return rows as unknown as R[];
  }

  /** oldest is the smallest retained sequence of a key, if any. */
  async oldest(db: AnyServiceDb, key: string): Promise<bigint | undefined> {
    const d = db as ChangeLogDb;
    const row = await d
      .selectFrom(this.table as unknown as "c")
      .select((eb) => eb.fn.min("sequence").as("m"))
      .where(this.keyColumn as "key", "=", key)
      .executeTakeFirst();
    return row?.m == null ? undefined : BigInt(row.m as string);
  }
}

/** RetentionDeps are what Retention prunes and when. */
export interface RetentionDeps {
  /** db is the service's database. */
  db: AnyServiceDb;
  /** clock tells the time. */
  clock: Clock;
  /** options give how long changes and requestIds are kept. */
  options: { changeRetentionMs: number; requestKeyRetentionMs: number };
  /** pruneChanges deletes the service's changes older than `before`; returns how many. */
  pruneChanges: (db: AnyServiceDb, before: Date) => Promise<number>;
  /** requestKeys prunes the service's requestIds (runtime/idempotency.ts RequestKeys). */
  requestKeys: { prune: (db: AnyServiceDb, before: Date) => Promise<number> };
}

const PRUNE_INTERVAL_MS = 60_000;

/** Retention prunes a service's change log and requestIds past their retention (see the file comment). */
export class Retention {
  private lastPrune = 0;

  constructor(private readonly deps: RetentionDeps) {}

  /** pruneRetained deletes change-log rows and requestIds older than their retention; returns the counts. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    const { db, clock, options } = this.deps;
    const now = clock.now().getTime();
    this.lastPrune = now;
    const changes = await this.deps.pruneChanges(db, new Date(now - options.changeRetentionMs));
    const requestKeys = await this.deps.requestKeys.prune(db, new Date(now - options.requestKeyRetentionMs));
    return { changes, requestKeys };
  }

  /** maybePrune prunes in the background when the last prune is over a minute ago. */
  maybePrune(): void {
    if (this.deps.clock.now().getTime() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.lastPrune = this.deps.clock.now().getTime();
      setTimeout(() => void this.pruneRetained().catch(() => undefined), 0).unref();
    }
  }
}
