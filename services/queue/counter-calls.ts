/**
 * What a counter does with tickets: CallNext (the next ticket in call order, atomically), and the
 * actions on the ticket it called: recall, skip (back in line behind the next one, or NO_SHOW at the
 * configured number of skips), no-show and complete. Each is one statement with its change and audit
 * entry, followed by afterChange.
 */
import type { TicketRow, TicketUpdate } from "./db/ticket.table.js";
import { auditActor, type QueueCaller } from "./queue-caller.js";
import type { QueueContext } from "./queue-context.js";
import { CounterCalledMeanwhileError, CounterNotOpenError, TicketChangedError, TicketNotCalledError, TicketNotCalledHereError, TicketNotFoundError } from "./queue.errors.js";
import { queueNoShows, queueWait } from "./queue.metrics.js";
import type { ValidCounterRef, ValidTicketAtCounter } from "./queue.validation.js";
import { requireQueue } from "./repositories/queue.repository.js";
import { callNextAtomic, findTicket, nextWaiting, updateCalledTicket } from "./repositories/ticket.repository.js";

/** CounterChange is what a counter action (atCounter) changes on a called ticket. */
type CounterChange = Pick<TicketUpdate, "status" | "recall_count" | "skip_count" | "counter_id" | "ended_at" | "yields_to" | "yields_to_skips">;

/** notCalledHere is the refusal of a counter action on a ticket that is not CALLED at `counterId`. */
export function notCalledHere(row: TicketRow, counterId: string): TicketNotCalledError | TicketNotCalledHereError {
  return row.status !== "CALLED" ? new TicketNotCalledError(row, counterId) : new TicketNotCalledHereError(row, counterId);
}

/**
 * callNext calls the highest-ranked waiting ticket to an open counter (WAITING -> CALLED), atomically
 * and in one statement (callNextAtomic): the counter row is locked, a counter still holding a called
 * ticket gets it back, and the next ticket is taken with FOR UPDATE SKIP LOCKED, so concurrent
 * counters never call one ticket twice nor wait for each other. Undefined when nobody waits.
 */
export async function callNext(q: QueueContext, caller: QueueCaller, v: ValidCounterRef): Promise<TicketRow | undefined> {
  const now = q.clock.now();
  let result: Awaited<ReturnType<typeof callNextAtomic>> | undefined;
  for (let attempt = 0; !result; attempt++) {
    try {
      result = await callNextAtomic(q.db, v.queueId, v.counterId, now, q.options, auditActor(caller, "CallNext"));
    } catch (err) {
      // A concurrent CallNext at the same counter called a ticket after this statement's snapshot:
      // the database refused a second one; the next attempt sees it and returns it.
      if (attempt >= 2 || !(err instanceof CounterCalledMeanwhileError)) throw err;
    }
  }
  if (!result.counterOpen) throw new CounterNotOpenError(v.counterId, await requireQueue(q.db, v.queueId));
  if (result.held) return result.held;
  const called = result.called;
  if (!called) return undefined;
  q.afterCommit.afterChange(v.queueId);
  if (called.skip_count === 0) {
    // A WAITING ticket never skipped was never called before: its first call ends its wait.
    queueWait.observe({ priority: called.priority }, Math.max(0, now.getTime() - called.enqueued_at.getTime()) / 1000);
  }
  return called;
}

/** recallTicket calls a CALLED ticket again at its counter (counted). */
export async function recallTicket(q: QueueContext, caller: QueueCaller, v: ValidTicketAtCounter): Promise<TicketRow> {
  return atCounter(q, caller, "RecallTicket", v, (t) => ({ recall_count: (t?.recall_count ?? 0) + 1 }));
}

/**
 * skipTicket passes over a CALLED ticket whose patient is not here yet: back to WAITING behind the
 * ticket that is next now (it yields to it, see ranking.ts), so the counter's next call reaches
 * someone else first; or NO_SHOW at the configured number of skips.
 */
export async function skipTicket(q: QueueContext, caller: QueueCaller, v: ValidTicketAtCounter): Promise<TicketRow> {
  const now = q.clock.now();
  const row = await atCounter(q, caller, "SkipTicket", v, async (t) => {
    const skips = (t?.skip_count ?? 0) + 1;
    if (skips >= q.options.noShowAfterSkips) return { status: "NO_SHOW", skip_count: skips, ended_at: now };
    const next = t ? await nextWaiting(q.db, t.queue_id, now, q.options) : undefined;
    return { status: "WAITING", skip_count: skips, counter_id: null, yields_to: next?.ticket_id ?? null, yields_to_skips: next?.skip_count ?? null };
  });
  if (row.status === "NO_SHOW") queueNoShows.inc();
  return row;
}

/** markTicketNoShow records that a CALLED ticket's patient did not come: CALLED -> NO_SHOW at once, freeing its counter. */
export async function markTicketNoShow(q: QueueContext, caller: QueueCaller, v: ValidTicketAtCounter): Promise<TicketRow> {
  const now = q.clock.now();
  const row = await atCounter(q, caller, "MarkTicketNoShow", v, () => ({ status: "NO_SHOW", ended_at: now }), { blind: true });
  queueNoShows.inc();
  return row;
}

/** completeTicket ends a served ticket: CALLED -> COMPLETED, freeing its counter. */
export async function completeTicket(q: QueueContext, caller: QueueCaller, v: ValidTicketAtCounter): Promise<TicketRow> {
  const now = q.clock.now();
  return atCounter(q, caller, "CompleteTicket", v, () => ({ status: "COMPLETED", ended_at: now }), { blind: true });
}

/**
 * atCounter runs a counter action on a ticket CALLED at that counter as a compare-and-swap in one
 * statement (updateCalledTicket, with its change and audit entry): FAILED_PRECONDITION when the
 * ticket is not CALLED there (e.g. a double complete). An action whose change depends on the ticket
 * (recall and skip counts) reads it first and swaps only while the counts are still those read;
 * a `blind` one (complete) does not read.
 */
async function atCounter(
  q: QueueContext,
  caller: QueueCaller,
  action: string,
  { ticketId, counterId }: ValidTicketAtCounter,
  change: (t: TicketRow | undefined) => CounterChange | Promise<CounterChange>,
  opts: { blind?: boolean } = {},
): Promise<TicketRow> {
  const now = q.clock.now();
  let current: TicketRow | undefined;
  if (!opts.blind) {
    current = await findTicket(q.db, ticketId);
    if (!current) throw new TicketNotFoundError(ticketId);
    if (current.status !== "CALLED" || current.counter_id !== counterId) throw notCalledHere(current, counterId);
  }
  const expect = current ? { recall_count: current.recall_count, skip_count: current.skip_count } : {};
  const updated = await updateCalledTicket(q.db, ticketId, counterId, { ...(await change(current)), updated_at: now }, now, auditActor(caller, action), expect);
  if (!updated) {
    const latest = await findTicket(q.db, ticketId);
    if (!latest) throw new TicketNotFoundError(ticketId);
    if (latest.status === "CALLED" && latest.counter_id === counterId) throw new TicketChangedError(latest);
    throw notCalledHere(latest, counterId);
  }
  q.afterCommit.afterChange(updated.queue_id);
  return updated;
}
