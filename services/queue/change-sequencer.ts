// Post-commit sequencing of WatchQueue's change log.
//
// Why: a per-queue sequence taken inside the writer's transaction (`update queues set last_sequence =
// last_sequence + 1`) row-locks the queue until that transaction's commit has been flushed to disk, so
// every writer of a queue waited for the previous one's WAL flush: ~3 flushes per
// IssueTicket+CallNext+CompleteTicket cycle, one after another (38 cycles/s).
//
// How: a writer inserts its change row with a NULL sequence and takes no queue-wide lock. After its
// commit it asks this sequencer to stamp the queue; `queue.stamp_changes()` (migration
// 2026-12-02T1700) locks the queue row, numbers every pending change of the queue after
// `last_sequence` in insertion order, and commits: one short transaction and one flush for a whole
// batch of changes. Per process, at most one stamp per queue runs at a time; requests arriving
// meanwhile are coalesced into the next one.
//
// Why this keeps WatchQueue's guarantees:
//   * Watchers only read stamped rows (`sequence > cursor`). Stamps of a queue are serialized by its
//     row lock and each commits before the next one can take the lock, so a reader that sees sequence
//     n sees every sequence below n: no gaps, in order, the same on every replica (all replicas read
//     the one change log). Stamps commit synchronously: a sequence a watcher has seen survives a
//     Postgres crash and is never handed to another change.
//   * Snapshot then changes: a snapshot reads the live tickets and `last_sequence` S in one
//     repeatable-read transaction. A change committed after that snapshot cannot be in a stamp the
//     snapshot sees (the stamp reads committed rows only, after taking the lock), so it gets a
//     sequence above S and is delivered after the snapshot. A change committed before the snapshot
//     but stamped after it is delivered again: harmless, a change message carries the ticket's
//     current state.
//   * Nothing is lost if a process dies between its commit and its stamp (or a stamp fails): the row
//     stays pending and the sweep, which every replica runs every `sweepIntervalMs`, stamps it. Pruning
//     never deletes pending rows.
// The row lock on the queue is now held only for the stamp (microseconds plus its own flush), and
// writers never wait for it: inserting a change (a foreign key, KEY SHARE) does not conflict with the
// stamper's NO KEY UPDATE.

import type { Kysely } from "kysely";
import type { Logger } from "../runtime/observability/logger.js";
import type { Database } from "./db/database.js";
import { queuesWithPendingChanges, stampChanges } from "./repositories/change.repository.js";

/** STAMP_BATCH is how many pending changes one stamp transaction numbers at most. */
const STAMP_BATCH = 5_000;

/** ChangeSequencerOptions configures createChangeSequencer. */
export interface ChangeSequencerOptions {
  /** db is the queue database. */
  db: Kysely<Database>;
  /** stamped is called after a stamp that numbered changes of a queue has committed (wake watchers, NOTIFY). */
  stamped: (queueId: string) => void;
  /** sweepIntervalMs is how often pending changes left by anyone are looked for (default 1000 ms; 0: never). */
  sweepIntervalMs?: number;
  /** logger reports stamp failures (retried by the sweep). */
  logger?: Logger;
}

/** ChangeSequencer stamps committed changes of queues with their WatchQueue sequences. */
export interface ChangeSequencer {
  /** request asks for the pending changes of a queue to be stamped soon; coalesced per queue. */
  request(queueId: string): void;
  /** settle stamps a queue now and resolves when every change committed before the call is stamped (or the stamp failed). */
  settle(queueId: string): Promise<void>;
  /** sweep stamps every queue that has pending changes (e.g. left by a process that died). */
  sweep(): Promise<void>;
  /** close stops the sweep timer and waits for running stamps. */
  close(): Promise<void>;
}

interface QueueState {
  running: Promise<void> | undefined;
  again: boolean;
}

/** createChangeSequencer returns a ChangeSequencer with its sweep timer started. */
export function createChangeSequencer(opts: ChangeSequencerOptions): ChangeSequencer {
  const states = new Map<string, QueueState>();
  let closed = false;
  let lastLog = 0;
  let sweeping: Promise<void> | undefined;

  const stampLoop = async (queueId: string, state: QueueState): Promise<void> => {
    try {
      do {
        state.again = false;
        let total = 0;
        for (;;) {
          const n = await stampChanges(opts.db, queueId, STAMP_BATCH);
          total += n;
          if (n < STAMP_BATCH) break;
        }
        if (total > 0) opts.stamped(queueId);
      } while (state.again && !closed);
    } catch (err) {
      // The changes stay pending; the next request or the sweep stamps them.
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        opts.logger?.warn({ err: (err as Error).message, queueId }, "queue change sequencer: stamp failed; retrying at the next sweep");
      }
    } finally {
      state.running = undefined;
      states.delete(queueId);
    }
  };

  const start = (queueId: string): Promise<void> => {
    let state = states.get(queueId);
    if (state?.running) {
      // A running stamp may have read the pending rows before this caller's commit: go once more.
      state.again = true;
      return state.running;
    }
    state = { running: undefined, again: false };
    states.set(queueId, state);
    state.running = stampLoop(queueId, state);
    return state.running;
  };

  const sweep = async (): Promise<void> => {
    if (sweeping) return sweeping;
    sweeping = (async () => {
      try {
        const queueIds = await queuesWithPendingChanges(opts.db);
        await Promise.all(queueIds.map((q) => start(q)));
      } catch (err) {
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          opts.logger?.warn({ err: (err as Error).message }, "queue change sequencer: sweep failed");
        }
      } finally {
        sweeping = undefined;
      }
    })();
    return sweeping;
  };

  const interval = opts.sweepIntervalMs ?? 1000;
  const timer = interval > 0 ? setInterval(() => void sweep(), interval) : undefined;
  timer?.unref();

  return {
    request(queueId) {
      if (!closed) void start(queueId);
    },
    async settle(queueId) {
      // A running stamp may have missed our changes; start() then makes it go once more before resolving.
      await start(queueId);
    },
    sweep,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await sweeping;
      await Promise.all([...states.values()].map((s) => s.running));
    },
  };
}
