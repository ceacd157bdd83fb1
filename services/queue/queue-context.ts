/**
 * QueueContext: what the queue's domain files (queue-setup.ts, ticket-issuing.ts, counter-calls.ts,
 * ticket-moves.ts, ticket-reads.ts) share, one per QueueServiceImpl.
 */
import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { AfterCommit } from "./after-commit.js";
import type { Database } from "./db/database.js";
import type { QueueOptions } from "./queue-options.js";
import type { WaitEstimates } from "./wait-estimates.js";

/** QueueContext is the queue service's database, clock, settings, wait estimates and post-commit hook. */
export interface QueueContext {
  /** db is the queue database. */
  db: Kysely<Database>;
  /** clock tells the time. */
  clock: Clock;
  /** options are the service's settings (ranking, no-shows, retention). */
  options: QueueOptions;
  /** estimates read queues' live views and estimate waits. */
  estimates: WaitEstimates;
  /** afterCommit runs after every committed write (afterChange). */
  afterCommit: AfterCommit;
}
