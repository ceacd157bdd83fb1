/**
 * Queues and their counters: CreateQueue (a ticket prefix belongs to one queue), GetQueue's read, and
 * OpenCounter/CloseCounter (a counter serving a called ticket stays open). Each write records its
 * change for WatchQueue and calls afterChange once committed.
 */
import { randomUUID } from "node:crypto";
import { AbortedError } from "../runtime/errors.js";
import type { CounterRow } from "./db/counter.table.js";
import type { QueueRow } from "./db/queue.table.js";
import type { QueueContext } from "./queue-context.js";
import { CounterBusyError, CounterNotFoundError, PrefixInUseError, QueueExistsError } from "./queue.errors.js";
import type { ValidCounterRef, ValidCreateQueue } from "./queue.validation.js";
import { appendChange } from "./repositories/change.repository.js";
import { closeCounterRow, findCounter, listCounters, openCounterRow } from "./repositories/counter.repository.js";
import { findPrefixOwner, findQueue, insertQueue, requireQueue } from "./repositories/queue.repository.js";
import { findCalledAt, listActive } from "./repositories/ticket.repository.js";

/** CounterState is a counter with the ticket it holds CALLED, if any. */
export interface CounterState {
  /** counter is the counter row. */
  counter: CounterRow;
  /** heldTicketId is the ticket called to it, if any. */
  heldTicketId: string | undefined;
}

/**
 * createQueue adds a queue at a location (confirmed by the caller: QueueLocations); with a
 * client-chosen id, a retry returns the existing queue, if it has the same details. A ticket
 * prefix belongs to one queue: FAILED_PRECONDITION PREFIX_IN_USE, naming the queue that has it, when
 * another queue uses it.
 */
export async function createQueue(q: QueueContext, v: ValidCreateQueue): Promise<QueueRow> {
  const queueId = v.queueId ?? `q-${randomUUID()}`;
  let inserted: QueueRow | undefined;
  let prefixTaken = false;
  try {
    inserted = await insertQueue(q.db, {
      queue_id: queueId,
      display_name: v.displayName,
      prefix: v.prefix,
      time_zone: v.timeZone,
      location_id: v.locationId,
      created_at: q.clock.now(),
    });
  } catch (err) {
    // The prefix's owner, or the same id being created concurrently (the id is checked first below).
    if (!(err instanceof PrefixInUseError)) throw err;
    prefixTaken = true;
  }
  if (inserted) return inserted;
  const existing = await findQueue(q.db, queueId);
  if (!existing) {
    if (prefixTaken) throw new PrefixInUseError(v.prefix, await findPrefixOwner(q.db, v.prefix));
    throw new AbortedError("QUEUE_CONFLICT", "the queue was removed while being created; try again", { metadata: { queueId } });
  }
  if (existing.display_name !== v.displayName || existing.prefix !== v.prefix || existing.time_zone !== v.timeZone || existing.location_id !== v.locationId) {
    throw new QueueExistsError(queueId);
  }
  return existing;
}

/** readQueue reads a queue with its counters (and the tickets they hold) and the number of waiting tickets. */
export async function readQueue(q: QueueContext, queueId: string): Promise<{ queue: QueueRow; counters: CounterState[]; waitingCount: number }> {
  const queue = await requireQueue(q.db, queueId);
  const [counters, active] = await Promise.all([listCounters(q.db, queueId), listActive(q.db, queueId)]);
  const held = new Map(active.filter((t) => t.status === "CALLED").map((t) => [t.counter_id, t.ticket_id]));
  return {
    queue,
    counters: counters.map((c) => ({ counter: c, heldTicketId: held.get(c.counter_id) })),
    waitingCount: active.filter((t) => t.status === "WAITING").length,
  };
}

/** openCounter opens a counter on a queue, creating it on first use; opening an open counter changes nothing. */
export async function openCounter(q: QueueContext, v: ValidCounterRef): Promise<CounterState> {
  const now = q.clock.now();
  const { counter, held, changed } = await q.db.transaction().execute(async (trx) => {
    await requireQueue(trx, v.queueId);
    const existing = await findCounter(trx, v.queueId, v.counterId, { forUpdate: true });
    if (existing?.is_open) return { counter: existing, held: await findCalledAt(trx, v.queueId, v.counterId), changed: false };
    const opened = await openCounterRow(trx, v.queueId, v.counterId, now);
    await appendChange(trx, { queueId: v.queueId, at: now, kind: "counter", counterId: v.counterId });
    return { counter: opened, held: undefined, changed: true };
  });
  if (changed) q.afterCommit.afterChange(v.queueId);
  return { counter, heldTicketId: held?.ticket_id };
}

/** closeCounter closes a counter; FAILED_PRECONDITION while it holds a called ticket. */
export async function closeCounter(q: QueueContext, v: ValidCounterRef): Promise<CounterRow> {
  const now = q.clock.now();
  const { counter, changed } = await q.db.transaction().execute(async (trx) => {
    const queue = await requireQueue(trx, v.queueId);
    const existing = await findCounter(trx, v.queueId, v.counterId, { forUpdate: true });
    if (!existing) throw new CounterNotFoundError(v.counterId, queue);
    if (!existing.is_open) return { counter: existing, changed: false };
    const held = await findCalledAt(trx, v.queueId, v.counterId);
    if (held) throw new CounterBusyError(v.counterId, held);
    const closed = await closeCounterRow(trx, v.queueId, v.counterId, now);
    await appendChange(trx, { queueId: v.queueId, at: now, kind: "counter", counterId: v.counterId });
    return { counter: closed, changed: true };
  });
  if (changed) q.afterCommit.afterChange(v.queueId);
  return counter;
}
