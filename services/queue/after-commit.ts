/**
 * What follows a committed change of a queue, in one place: every write of the queue service calls
 * afterChange with the queues it changed once its transaction (or single statement) has committed.
 * The change sequencer then stamps the pending changes (change-sequencer.ts says why after the commit
 * is safe), coalesced with other changes of the queue; once stamped, this process's watchers are woken
 * and other replicas' notified (NOTIFY, runtime/db/notifier.ts). Now and then it prunes the change log
 * and the requestIds past their retention.
 */
import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import { Retention } from "../runtime/db/change-log.js";
import type { Logger } from "../runtime/observability/logger.js";
import { createNotifier, type Notifier } from "../runtime/db/notifier.js";
import { createChangeSequencer, type ChangeSequencer } from "./change-sequencer.js";
import type { Database } from "./db/database.js";
import type { QueueOptions } from "./queue-options.js";
import { pruneChanges, QUEUE_CHANGES_CHANNEL } from "./repositories/change.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";

/** AfterCommitDeps are what AfterCommit needs. */
export interface AfterCommitDeps {
  /** db is the queue database. */
  db: Kysely<Database>;
  /** clock tells the time (retention). */
  clock: Clock;
  /** options give the change and requestId retentions. */
  options: Pick<QueueOptions, "changeRetentionMs" | "requestKeyRetentionMs">;
  /** wake wakes this process's watchers of a queue whose changes were stamped. */
  wake: (queueId: string) => void;
  /** logger reports stamp and NOTIFY failures. */
  logger?: Logger;
  /** sweepIntervalMs is how often pending changes (left by a process that died) are stamped (default 1000 ms; 0: never). */
  sweepIntervalMs?: number;
  /** stampAfterCommit false leaves stamping to the sweep (tests: a process that dies after its commit). */
  stampAfterCommit?: boolean;
}

/** AfterCommit runs what follows a queue's committed changes: stamping, waking watchers, NOTIFY, pruning. */
export class AfterCommit {
  private readonly db: Kysely<Database>;
  private readonly retention: Retention;
  private readonly notifier: Notifier;
  private readonly sequencer: ChangeSequencer;
  private readonly stampAfterCommit: boolean;

  constructor(deps: AfterCommitDeps) {
    this.db = deps.db;
    this.retention = new Retention({ db: this.db, clock: deps.clock, options: deps.options, pruneChanges, requestKeys: REQUEST_KEYS });
    this.notifier = createNotifier(this.db, QUEUE_CHANGES_CHANNEL, deps.logger);
    this.sequencer = createChangeSequencer({
      db: this.db,
      logger: deps.logger,
      sweepIntervalMs: deps.sweepIntervalMs,
      stamped: (queueId) => {
        deps.wake(queueId);
        this.notifier.notify(queueId);
      },
    });
    this.stampAfterCommit = deps.stampAfterCommit !== false;
  }

  /**
   * afterChange runs after a committed change of each queue given: the sequencer stamps it (coalesced
   * with other changes of the queue), then wakes local watchers and other replicas' (NOTIFY); prune
   * now and then.
   */
  afterChange(...queueIds: string[]): void {
    for (const queueId of queueIds) {
      if (this.stampAfterCommit) this.sequencer.request(queueId);
      this.retention.maybePrune();
    }
  }

  /** settle stamps a queue's committed changes now, or every queue's without one (tests; the sweep and afterChange do it otherwise). */
  async settle(queueId?: string): Promise<void> {
    if (queueId === undefined) await this.sequencer.sweep();
    else await this.sequencer.settle(queueId);
  }

  /** pruneRetained deletes change-log rows and requestIds older than their retention; returns the counts. */
  pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    return this.retention.pruneRetained();
  }

  /** close stops the sequencer (waiting for running stamps) and sends the NOTIFYs still queued. */
  async close(): Promise<void> {
    await this.sequencer.close();
    await this.notifier.flush();
  }
}
