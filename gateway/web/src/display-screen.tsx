// The waiting-room display: the live queue over WatchQueue, in large type, called numbers highlighted.
// Ticket numbers only: no names or patient ids are ever rendered here.
import { useEffect, useMemo, useState } from "react";
import { TicketStatus, type Ticket } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import { api, explainError, toDate } from "./api.js";
import { ErrorBox, Loading, useAsync } from "./ui.js";

/** useQueueWatch follows a queue over WatchQueue, resuming after a broken stream. */
function useQueueWatch(queueId: string | undefined): { tickets: Ticket[]; connected: boolean; error?: unknown } {
  const [tickets, setTickets] = useState<Map<string, Ticket>>(new Map());
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
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
            setTickets((prev) => {
              const next = msg.snapshot ? new Map<string, Ticket>() : new Map(prev);
              for (const t of msg.tickets) {
                if (t.status === TicketStatus.WAITING || t.status === TicketStatus.CALLED) next.set(t.ticketId, t);
                else next.delete(t.ticketId);
              }
              return next;
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
  return { tickets: [...tickets.values()], connected, error };
}

/** DisplayScreen is the kiosk board; /display?queue=<id> picks the queue. */
export function DisplayScreen() {
  const fromUrl = new URLSearchParams(window.location.search).get("queue") ?? undefined;
  const queues = useAsync((signal) => api.queue.listQueues({ pageSize: 100 }, { signal }), [], { enabled: !fromUrl });
  const queueId = fromUrl ?? localStorage.getItem("medschedule.queue") ?? queues.data?.queues[0]?.queueId;
  const { tickets, connected, error } = useQueueWatch(queueId);
  const [recalled, setRecalled] = useState<Record<string, number>>({});

  const called = useMemo(
    () =>
      tickets
        .filter((t) => t.status === TicketStatus.CALLED)
        .sort((a, b) => (toDate(b.callTime)?.getTime() ?? 0) - (toDate(a.callTime)?.getTime() ?? 0)),
    [tickets],
  );
  const waiting = useMemo(() => tickets.filter((t) => t.status === TicketStatus.WAITING).sort((a, b) => a.position - b.position), [tickets]);
  // Flash a number when it is recalled.
  useEffect(() => {
    const next: Record<string, number> = {};
    for (const t of called) next[t.ticketId] = t.recallCount;
    setRecalled(next);
  }, [called]);

  if (!queueId) {
    if (queues.error !== undefined) return <ErrorBox error={queues.error} what="Loading the queues" onRetry={queues.reload} />;
    if (queues.loading) return <Loading />;
    return <p className="board-empty">No queue to show. Reception creates one first.</p>;
  }
  const e = error !== undefined ? explainError(error, "The live queue") : undefined;
  return (
    <main className="board" id="main" aria-label="Waiting-room display">
      {e && !connected && (
        <div className="error board-error" role="alert" data-code={e.code}>
          <strong>{e.title}</strong> {e.action} <span className="small">Reconnecting automatically…</span>
        </div>
      )}
      <section className="now" aria-labelledby="now-h">
        <h1 id="now-h">Now calling</h1>
        {called.length === 0 && <p className="board-empty">—</p>}
        <ul data-testid="called">
          {called.map((t, i) => (
            <li key={t.ticketId} className={`called${i === 0 ? " latest" : ""}`} data-recalls={recalled[t.ticketId] ?? 0}>
              <span className="number">{t.number}</span>
              <span className="to">counter {t.counterId}</span>
            </li>
          ))}
        </ul>
      </section>
      <section className="next" aria-labelledby="next-h">
        <h2 id="next-h">Waiting</h2>
        <ul data-testid="waiting">
          {waiting.map((t) => (
            <li key={t.ticketId}>{t.number}</li>
          ))}
        </ul>
      </section>
      <p className="status small" aria-live="polite">
        {connected ? "Live" : "Connecting…"}
      </p>
    </main>
  );
}
