/**
 * Wait estimates, and the live view of a queue they are made for.
 *
 * A queue's view is its CALLED tickets by call time, its WAITING ones in call order (ranking.ts) with
 * their positions, its counters, and an estimate per waiting ticket: one simulation for every
 * position (estimator.ts simulateWaits) over the queue's recent service times, calibrated per
 * priority class by recent actual waits against what was estimated at issue.
 *
 * The samples (a queue's last 50 service times and 400 waits) are kept per queue for a second of the
 * service's clock (SAMPLES_MAX_AGE_MS): reading and sorting them was a fifth of a busy queue's cost per
 * ticket, and the second's few newest samples barely move estimates made of hundreds. The live tickets
 * and counters are read afresh every time.
 */
import type { Clock } from "../runtime/clock.js";
import type { CounterRow } from "./db/counter.table.js";
import type { Db } from "./db/database.js";
import type { QueueRow } from "./db/queue.table.js";
import type { TicketPriorityName, TicketRow } from "./db/ticket.table.js";
import { calibrate, calibrationFloorMs, simulateWaits, type Estimate } from "./estimator.js";
import type { QueueOptions } from "./queue-options.js";
import { QueueNotFoundError } from "./queue.errors.js";
import { rankTickets } from "./ranking.js";
import { readQueueState, type QueueState } from "./repositories/queue-state.repository.js";

const SERVICE_SAMPLE_SIZE = 50;
const CALIBRATION_SAMPLE_SIZE = 400;
/** SAMPLES_MAX_AGE_MS is how long (by the service's clock) a queue's estimator samples are reused (see the header). */
const SAMPLES_MAX_AGE_MS = 1_000;
const CALIBRATION_PER_CLASS = 200;

/** QueueView is a consistent read of a queue's live state with ranks and estimates. */
export interface QueueView {
  /** queue is the queue row. */
  queue: QueueRow;
  /** called are its CALLED tickets, first called first. */
  called: TicketRow[];
  /** waiting are its WAITING tickets in call order. */
  waiting: TicketRow[];
  /** counters are its counters by id. */
  counters: CounterRow[];
  /** position is each waiting ticket's place in line, from 1. */
  position: Map<string, number>;
  /** estimate is a waiting ticket's estimated wait. */
  estimate: (row: TicketRow) => Estimate;
}

/** inView is a ticket's position and estimate as a view shows it (both only while it is WAITING there). */
export function inView(view: QueueView, row: TicketRow): { position?: number; estimate?: Estimate } {
  return { position: view.position.get(row.ticket_id), estimate: row.status === "WAITING" ? view.estimate(row) : undefined };
}

/** NewTicketEstimate is where a ticket about to be inserted would stand, and its wait: raw (recorded at issue) and calibrated. */
export interface NewTicketEstimate {
  /** position is its place in line, from 1. */
  position: number;
  /** raw is the simulation's estimate, before calibration. */
  raw: Estimate;
  /** estimate is the calibrated estimate the caller sees. */
  estimate: Estimate;
}

/** WaitEstimates reads queues' live views and estimates waits, keeping each queue's estimator samples for a second. */
export class WaitEstimates {
  /** samples are each queue's latest estimator samples and when (service clock, ms) they were read. */
  private readonly samples = new Map<string, { at: number; serviceTimesMs: number[]; waits: QueueState["waits"] }>();

  constructor(
    private readonly clock: Clock,
    private readonly options: QueueOptions,
  ) {}

  /**
   * queueState reads a queue's state (readQueueState) with the estimator's samples from this
   * process's copy when it is younger than SAMPLES_MAX_AGE_MS, read afresh otherwise.
   */
  async queueState(
    db: Db,
    queueId: string,
    requestKey?: { caller: string; rpc: string; requestId: string },
    appointmentId?: string,
  ): ReturnType<typeof readQueueState> {
    const now = this.clock.now().getTime();
    const kept = this.samples.get(queueId);
    const fresh = kept !== undefined && now >= kept.at && now - kept.at < SAMPLES_MAX_AGE_MS;
    const read = await readQueueState(db, queueId, fresh ? undefined : { serviceTimes: SERVICE_SAMPLE_SIZE, waits: CALIBRATION_SAMPLE_SIZE }, requestKey, appointmentId);
    if (read.state && fresh) {
      read.state.serviceTimesMs = kept.serviceTimesMs;
      read.state.waits = kept.waits;
    } else if (read.state) {
      this.samples.set(queueId, { at: now, serviceTimesMs: read.state.serviceTimesMs, waits: read.state.waits });
    }
    return read;
  }

  /** readView reads a queue's live tickets and counters in one statement, ranks the waiting ones and prepares estimates. */
  async readView(db: Db, queueId: string, now: Date): Promise<QueueView> {
    const { state } = await this.queueState(db, queueId);
    if (!state) throw new QueueNotFoundError(queueId);
    return this.buildView(state, now);
  }

  /** live is a ticket's position and estimate when it is WAITING in its queue now, nothing otherwise. */
  async live(db: Db, row: TicketRow, now: Date): Promise<{ position?: number; estimate?: Estimate }> {
    if (row.status !== "WAITING") return {};
    const view = await this.readView(db, row.queue_id, now);
    const live = view.waiting.find((t) => t.ticket_id === row.ticket_id);
    return live ? { position: view.position.get(row.ticket_id), estimate: view.estimate(live) } : {};
  }

  /** estimateNewFrom ranks a ticket about to be inserted among a queue's waiting ones and estimates its wait. */
  estimateNewFrom(state: QueueState, row: TicketRow, now: Date): NewTicketEstimate {
    const called = state.active.filter((t) => t.status === "CALLED");
    const waiting = this.rank([...state.active.filter((t) => t.status === "WAITING"), row], now);
    const position = waiting.findIndex((t) => t === row) + 1;
    const estimator = this.estimator(state, called, position, now);
    return { position, ...estimator(position, row.priority) };
  }

  /** estimateNew reads a queue's state and estimates a ticket about to be inserted. */
  async estimateNew(db: Db, queue: QueueRow, row: TicketRow, now: Date): Promise<NewTicketEstimate> {
    const { state } = await this.queueState(db, queue.queue_id);
    if (!state) throw new QueueNotFoundError(queue.queue_id);
    return this.estimateNewFrom(state, row, now);
  }

  private buildView(state: QueueState, now: Date): QueueView {
    const { queue, active, counters } = state;
    const called = active.filter((t) => t.status === "CALLED").sort((a, b) => (a.called_at?.getTime() ?? 0) - (b.called_at?.getTime() ?? 0));
    const waiting = this.rank(active.filter((t) => t.status === "WAITING"), now);
    const position = new Map(waiting.map((t, i) => [t.ticket_id, i + 1]));
    const estimator = this.estimator(state, called, waiting.length, now);
    return { queue, called, waiting, counters, position, estimate: (row) => estimator(position.get(row.ticket_id) ?? 1, row.priority).estimate };
  }

  private rank(rows: TicketRow[], now: Date): TicketRow[] {
    const inputs = rows.map((row) => ({
      ticketId: row.ticket_id,
      seq: BigInt(row.seq),
      priority: row.priority,
      arrivedAt: row.arrived_at,
      rankAt: row.rank_at,
      skipCount: row.skip_count ?? 0,
      yieldsTo: row.yields_to && row.yields_to_skips !== null ? { ticketId: row.yields_to, skipCount: row.yields_to_skips } : null,
      row,
    }));
    return rankTickets(inputs, now, this.options).map((i) => i.row);
  }

  /**
   * estimator prepares wait estimates for a queue: one simulation for every position, calibrated per
   * priority class by recent actual waits.
   */
  private estimator(
    state: QueueState,
    called: TicketRow[],
    positions: number,
    now: Date,
  ): (position: number, priority: TicketPriorityName) => { raw: Estimate; estimate: Estimate } {
    const samples = state.serviceTimesMs;
    const waits = state.waits;
    const open = new Set(state.counters.filter((c) => c.is_open).map((c) => c.counter_id));
    const busyElapsedMs = called.filter((t) => t.counter_id !== null && open.has(t.counter_id)).map((t) => Math.max(0, now.getTime() - (t.called_at ?? now).getTime()));
    const raw = simulateWaits({ positions: Math.max(1, positions), openCounters: open.size, busyElapsedMs, serviceSamplesMs: samples });
    const floor = calibrationFloorMs(samples);
    const byClass = new Map<TicketPriorityName, typeof waits>();
    return (position, priority) => {
      const r = raw[Math.min(raw.length, Math.max(1, position)) - 1];
      let classWaits = byClass.get(priority);
      if (!classWaits) {
        const own = waits.filter((w) => w.priority === priority).slice(0, CALIBRATION_PER_CLASS);
        classWaits = own.length >= 20 ? own : waits.slice(0, CALIBRATION_PER_CLASS);
        byClass.set(priority, classWaits);
      }
      return { raw: r, estimate: calibrate(r, classWaits, floor) };
    };
  }
}
