/**
 * WatchQueue: a snapshot of a queue (every WAITING and CALLED ticket and the counters, with positions
 * and estimates), then each change with its sequence, from this process's shared change feed
 * (runtime/change-feed.ts) over the queue's change log (change-sequencer.ts numbers it after commit).
 * The resume protocol is the change feed's watchStream: resuming after a sequence reads the change log;
 * a point no longer retained, a watcher more than watchMaxLag changes behind or a broken history gets
 * a fresh snapshot instead.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import type { CounterSchema } from "../../gen/medschedule/queue/v1/queue_pb.js";
import type { WatchQueueResponseSchema } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { auditBase } from "../runtime/audit.js";
import { ChangeFeed, watchStream, type FeedItem } from "../runtime/change-feed.js";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { ChangeRow } from "./db/change.table.js";
import type { Database } from "./db/database.js";
import type { TicketRow } from "./db/ticket.table.js";
import type { Estimate } from "./estimator.js";
import { toCounter } from "./mappers/queue.mapper.js";
import { toTicketInit } from "./mappers/ticket.mapper.js";
import { hides, ticketAudit, type QueueCaller } from "./queue-caller.js";
import type { QueueOptions } from "./queue-options.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import { changesAfter, QUEUE_CHANGES_CHANNEL, retainedRange } from "./repositories/change.repository.js";
import { findQueues, requireQueue } from "./repositories/queue.repository.js";
import { findTickets } from "./repositories/ticket.repository.js";
import { inView, type WaitEstimates } from "./wait-estimates.js";

/** WatchChange is one change as the feed shares it among watchers. */
interface WatchChange {
  ticket?: { row: TicketRow; position: number; estimate?: Estimate };
  counter?: MessageInitShape<typeof CounterSchema>;
}

/** WatchResponse is one message of a WatchQueue stream. */
export type WatchResponse = MessageInitShape<typeof WatchQueueResponseSchema>;

/** QueueWatchDeps are what QueueWatch needs. */
export interface QueueWatchDeps {
  /** db is the queue database. */
  db: Kysely<Database>;
  /** clock tells the time (positions and estimates). */
  clock: Clock;
  /** options give watchMaxLag. */
  options: Pick<QueueOptions, "watchMaxLag">;
  /** estimates read the queue's live view. */
  estimates: WaitEstimates;
  /** logger reports listener trouble. */
  logger?: Logger;
  /** listenUrl is a Postgres URL for LISTEN; unset: local wake-ups and polling only. */
  listenUrl?: string;
  /** pollIntervalMs is the safety-net poll of the change log (default 1000 ms). */
  pollIntervalMs?: number;
}

/** QueueWatch serves WatchQueue streams over this process's change feed of the queues. */
export class QueueWatch {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly watchMaxLag: number;
  private readonly estimates: WaitEstimates;
  private readonly feed: ChangeFeed<WatchChange, ChangeRow>;

  constructor(deps: QueueWatchDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.watchMaxLag = deps.options.watchMaxLag;
    this.estimates = deps.estimates;
    this.feed = new ChangeFeed<WatchChange, ChangeRow>({
      name: "queue",
      channel: QUEUE_CHANGES_CHANNEL,
      changesAfter: (queueId, after, limit) => changesAfter(this.db, queueId, after, limit),
      latestSequences: async (queueIds) => new Map((await findQueues(this.db, queueIds)).map((q) => [q.queue_id, BigInt(q.last_sequence)])),
      load: (queueId, rows) => this.loadChanges(queueId, rows),
      logger: deps.logger,
      listenUrl: deps.listenUrl,
      pollIntervalMs: deps.pollIntervalMs,
    });
  }

  /** wake tells this process's watchers of a queue that new changes were stamped. */
  wake(queueId: string): void {
    this.feed.poke(queueId);
  }

  /** close stops the feed's listener and poll and ends open streams. */
  async close(): Promise<void> {
    await this.feed.close();
  }

  /**
   * watch streams a queue: a snapshot (every WAITING and CALLED ticket and the counters), then each
   * change with its sequence. With afterSequence it resumes from the change log; when that point is no
   * longer retained it sends a fresh snapshot with resumeFailed. A watcher more than watchMaxLag
   * changes behind gets a fresh snapshot; nobody waits for a slow watcher.
   */
  async *watch(v: { queueId: string; afterSequence: bigint }, caller: QueueCaller, signal: AbortSignal): AsyncGenerator<WatchResponse> {
    await requireQueue(this.db, v.queueId);
    await AUDIT_LOG.append(this.db, [{ ...auditBase(caller, "WatchQueue", this.clock.now()), record_type: "queue", record_id: v.queueId }]);
    yield* watchStream<WatchChange, WatchResponse>({
      feed: this.feed,
      key: v.queueId,
      afterSequence: v.afterSequence,
      maxLag: this.watchMaxLag,
      signal,
      retains: (after) => this.retains(v.queueId, after),
      snapshot: (resumeFailed) => this.snapshot(v.queueId, caller, resumeFailed),
      change: (item) => this.changeMessage(item, caller),
    });
  }

  /** retains tells whether every change after `after` is still in the change log. */
  private async retains(queueId: string, after: bigint): Promise<boolean> {
    const range = await retainedRange(this.db, queueId);
    if (!range || after > range.last) return false;
    if (after === range.last) return true;
    return range.oldest !== undefined && range.oldest <= after + 1n;
  }

  /** snapshot reads the queue's live state and its sequence in one repeatable-read transaction (the message and its sequence). */
  private async snapshot(queueId: string, caller: QueueCaller, resumeFailed: boolean): Promise<{ sequence: bigint; message: WatchResponse }> {
    const now = this.clock.now();
    const { view } = await this.db
      .transaction()
      .setIsolationLevel("repeatable read")
      .execute(async (trx) => ({ view: await this.estimates.readView(trx, queueId, now) }));
    const rows = [...view.called, ...view.waiting];
    const held = new Map(view.called.map((t) => [t.counter_id, t.ticket_id]));
    await AUDIT_LOG.append(this.db, ticketAudit(caller, "WatchQueue", rows.filter((r) => !hides(caller, r)), now));
    const sequence = BigInt(view.queue.last_sequence);
    return {
      sequence,
      message: {
        sequence,
        snapshot: true,
        resumeFailed,
        tickets: rows.map((r) => toTicketInit(r, { ...inView(view, r), hidePatient: hides(caller, r) })),
        counters: view.counters.map((c) => toCounter(c, held.get(c.counter_id))),
      },
    };
  }

  /** loadChanges turns change-log rows into feed items with the tickets' current state and positions. */
  private async loadChanges(queueId: string, rows: ChangeRow[]): Promise<FeedItem<WatchChange>[]> {
    const now = this.clock.now();
    const ticketIds = [...new Set(rows.filter((r) => r.ticket_id !== null).map((r) => r.ticket_id as string))];
    const [view, tickets] = await Promise.all([this.estimates.readView(this.db, queueId, now), findTickets(this.db, ticketIds)]);
    const byId = new Map(tickets.map((t) => [t.ticket_id, t]));
    const counters = new Map(view.counters.map((c) => [c.counter_id, c]));
    const held = new Map(view.called.map((t) => [t.counter_id, t.ticket_id]));
    const items: FeedItem<WatchChange>[] = [];
    for (const r of rows) {
      const sequence = BigInt(r.sequence as string); // changesAfter reads stamped changes only
      if (r.kind === "ticket") {
        const row = byId.get(r.ticket_id ?? "");
        if (!row) {
          // Gone (the queue was deleted meanwhile): keep the sequence without content.
          items.push({ sequence, value: {} });
          continue;
        }
        const position = row.queue_id === queueId ? (view.position.get(row.ticket_id) ?? 0) : 0;
        items.push({ sequence, value: { ticket: { row, position, estimate: position > 0 ? view.estimate(row) : undefined } } });
      } else {
        const c = counters.get(r.counter_id ?? "");
        items.push({ sequence, value: c ? { counter: toCounter(c, held.get(c.counter_id)) } : {} });
      }
    }
    return items;
  }

  /** changeMessage is the WatchQueue message for one change, the patient hidden where the caller may not see it. */
  private changeMessage(item: FeedItem<WatchChange>, caller: QueueCaller): WatchResponse {
    const t = item.value.ticket;
    return {
      sequence: item.sequence,
      snapshot: false,
      tickets: t ? [toTicketInit(t.row, { position: t.position, estimate: t.estimate, hidePatient: hides(caller, t.row) })] : [],
      counters: item.value.counter ? [item.value.counter] : [],
    };
  }
}
