// Postgres NOTIFY after commit, batched. A transaction that runs NOTIFY takes a database-wide lock
// at commit and holds it through the WAL flush, so every notifying commit in the database waits for
// the one before it: about a hundred commits a second on an ordinary disk, whatever the number of
// queues or providers. Notifying after the commit, in a statement of its own that writes no WAL,
// keeps that lock for microseconds. The cost: a process that dies between its commit and the NOTIFY
// leaves other replicas to find the change by their poll, which the change feeds do anyway.
import { sql, type Kysely } from "kysely";
import type { Logger } from "../observability/logger.js";

/** Notifier sends NOTIFY <channel>, <key> for keys changed by committed transactions. */
export interface Notifier {
  /** notify queues a NOTIFY for `key`; keys queued in the same tick go out in one statement. */
  notify(key: string): void;
  /** flush sends what is queued now (tests, shutdown). */
  flush(): Promise<void>;
}

/** createNotifier returns a Notifier on `channel` over the pool of `db`. */
export function createNotifier(db: Kysely<any>, channel: string, logger?: Logger): Notifier {
  let pending = new Set<string>();
  let scheduled = false;
  let lastLog = 0;
  const flush = async () => {
    scheduled = false;
    if (pending.size === 0) return;
    const keys = [...pending];
    pending = new Set();
    try {
      await sql`select pg_notify(${channel}, k) from unnest(${keys}::text[]) as k`.execute(db);
    } catch (err) {
      // Watchers on other replicas catch up by polling; say so now and then, not per change.
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        logger?.warn({ err: (err as Error).message, channel }, "NOTIFY failed; other replicas will see the change at their next poll");
      }
    }
  };
  return {
    notify(key) {
      pending.add(key);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    },
    flush,
  };
}
