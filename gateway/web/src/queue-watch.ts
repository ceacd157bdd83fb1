// A queue followed live over WatchQueue: its WAITING and CALLED tickets and its counters, resumed
// after a broken stream. The display board and the reception screen read the same state, so a
// reload shows what the server holds (a counter's called ticket, whether it is open).
import { useEffect, useState } from "react";
import { TicketStatus, type Counter, type Ticket } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import { api } from "./api.js";

/** QueueWatch is a queue's live state. */
export interface QueueWatch {
  /** tickets are the WAITING and CALLED tickets. */
  tickets: Ticket[];
  /** counters are the queue's counters by counterId. */
  counters: ReadonlyMap<string, Counter>;
  /** loaded is true once the first snapshot arrived. */
  loaded: boolean;
  /** connected is true while the stream is up. */
  connected: boolean;
  /** error is the last stream failure (cleared by the next message). */
  error?: unknown;
}

/** useQueueWatch follows a queue over WatchQueue, resuming after a broken stream. */
export function useQueueWatch(queueId: string | undefined): QueueWatch {
  const [state, setState] = useState<{ tickets: Map<string, Ticket>; counters: Map<string, Counter>; loaded: boolean }>(() => ({
    tickets: new Map(),
    counters: new Map(),
    loaded: false,
  }));
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    setState({ tickets: new Map(), counters: new Map(), loaded: false });
    if (!queueId) return;
    const ac = new AbortController();
    let after = 0n;
    let attempt = 0;
    (async () => {
      while (!ac.signal.aborted) {
        try {
          for await (const msg of api.queue.watchQueue({ queueId, afterSequence: after }, { signal: ac.signal, timeoutMs: 0 })) {
            attempt = 0;
            setConnected(true);
            setError(undefined);
            after = msg.sequence;
            setState((prev) => {
              const tickets = msg.snapshot ? new Map<string, Ticket>() : new Map(prev.tickets);
              const counters = msg.snapshot ? new Map<string, Counter>() : new Map(prev.counters);
              for (const t of msg.tickets) {
                if (t.queueId === queueId && (t.status === TicketStatus.WAITING || t.status === TicketStatus.CALLED)) {
                  tickets.delete(t.ticketId); // re-inserted last: the Map's order is the order of the latest news
                  tickets.set(t.ticketId, t);
                } else tickets.delete(t.ticketId);
              }
              for (const c of msg.counters) counters.set(c.counterId, c);
              return { tickets, counters, loaded: prev.loaded || msg.snapshot };
            });
          }
        } catch (err) {
          if (ac.signal.aborted) return;
          setError(err);
        }
        setConnected(false);
        attempt++;
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
      }
    })();
    return () => ac.abort();
  }, [queueId]);
  return { tickets: [...state.tickets.values()], counters: state.counters, loaded: state.loaded, connected, error };
}

/** calledOrder sorts CALLED tickets, the latest call first. */
export function calledOrder(tickets: Ticket[]): Ticket[] {
  return tickets
    .filter((t) => t.status === TicketStatus.CALLED)
    .sort((a, b) => Number(b.callTime?.seconds ?? 0n) - Number(a.callTime?.seconds ?? 0n) || (b.callTime?.nanos ?? 0) - (a.callTime?.nanos ?? 0));
}

/**
 * waitingOrder sorts WAITING tickets by their position (call order). A change message carries the
 * position of the changed ticket only, so the others' may be stale; on a tie the ticket with older
 * news goes first (tickets ahead of it have left since), which `tickets`' order (oldest news first)
 * and a stable sort give.
 */
export function waitingOrder(tickets: Ticket[]): Ticket[] {
  return tickets.filter((t) => t.status === TicketStatus.WAITING).sort((a, b) => a.position - b.position);
}
