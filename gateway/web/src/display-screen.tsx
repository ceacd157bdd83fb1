// The waiting-room display: the queue's name, a clock in the queue's time zone, the called numbers
// and the waiting ones, live over WatchQueue, in large type. It fills the screen and never scrolls:
// each list shows as many numbers as fit whole, in call order, and "+N more" beside its heading.
// Ticket numbers only: no names or patient ids are ever rendered here.
import { useEffect, useLayoutEffect, useMemo, useState } from "react";
import { api } from "./api.js";
import { explainError } from "./error-explainer.js";
import { calledOrder, useQueueWatch, waitingOrder } from "./queue-watch.js";
import { fmtLongDate, fmtTime } from "./time-format.js";
import { ErrorBox, Loading, useAsync } from "./ui.js";

/**
 * useCapacity is how many cells of a CSS grid list fit whole in its box: its resolved column tracks
 * times the rows of `grid-auto-rows` height that fit its height. Measured again on every resize.
 */
function useCapacity(): [(el: HTMLElement | null) => void, number] {
  const [el, setEl] = useState<HTMLElement | null>(null);
  const [capacity, setCapacity] = useState(0);
  useLayoutEffect(() => {
    if (!el) return;
    const measure = () => {
      const cs = getComputedStyle(el);
      const cols = cs.gridTemplateColumns.split(" ").filter((t) => t.endsWith("px")).length || 1;
      const rowHeight = parseFloat(cs.gridAutoRows);
      const gap = parseFloat(cs.rowGap) || 0;
      const rows = rowHeight > 0 ? Math.floor((el.clientHeight + gap) / (rowHeight + gap)) : 0;
      setCapacity(Math.max(0, cols * rows));
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [el]);
  return [setEl, capacity];
}

/** fit keeps the items that fit in `capacity` cells and counts the rest (shown as "+N more" beside the heading). */
function fit<T>(items: T[], capacity: number): { shown: T[]; more: number } {
  const shown = items.slice(0, capacity);
  return { shown, more: items.length - shown.length };
}

/** useNow is the current time, updated every second. */
function useNow(): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = setInterval(() => setNow(new Date()), 1_000);
    return () => clearInterval(id);
  }, []);
  return now;
}

/** Clock shows the time and date in the queue's time zone. */
function Clock({ timeZone }: { timeZone: string | undefined }) {
  const now = useNow();
  const zone = timeZone || undefined;
  const time = fmtTime(now, zone);
  const date = fmtLongDate(now, zone);
  return (
    <p className="clock" data-testid="clock" data-time-zone={zone ?? ""}>
      <time className="clock-time" data-testid="clock-time">
        {time}
      </time>
      <span className="clock-date">{date}</span>
    </p>
  );
}

/** DisplayScreen is the kiosk board; /display?queue=<id> picks the queue. */
export function DisplayScreen() {
  const fromUrl = new URLSearchParams(window.location.search).get("queue") ?? undefined;
  const queues = useAsync((signal) => api.queue.listQueues({ pageSize: 100 }, { signal }), [], { enabled: !fromUrl });
  const queueId = fromUrl ?? localStorage.getItem("medschedule.queue") ?? queues.data?.queues[0]?.queueId;
  const queue = useAsync((signal) => api.queue.getQueue({ queueId: queueId! }, { signal }), [queueId], { enabled: Boolean(queueId) });
  const { tickets, connected, error } = useQueueWatch(queueId);
  const [nowRef, nowCapacity] = useCapacity();
  const [nextRef, nextCapacity] = useCapacity();

  const called = useMemo(() => fit(calledOrder(tickets), nowCapacity), [tickets, nowCapacity]);
  const waiting = useMemo(() => fit(waitingOrder(tickets), nextCapacity), [tickets, nextCapacity]);
  const name = queue.data?.queue?.displayName;
  useEffect(() => {
    if (name) document.title = `${name} · MedSchedule`;
  }, [name]);

  if (!queueId) {
    if (queues.error !== undefined) return <ErrorBox error={queues.error} what="loadQueues" onRetry={queues.reload} />;
    if (queues.loading) return <Loading />;
    return <p className="board-empty">No queue to show. Reception creates one first.</p>;
  }
  const e = error !== undefined ? explainError(error, "liveQueue") : queue.error !== undefined ? explainError(queue.error, "loadQueue") : undefined;
  return (
    <main className="board" id="main" aria-label="Waiting-room display">
      <header className="board-head">
        <h1 className="queue-name" data-testid="queue-name">
          {name ?? "\u00a0"}
        </h1>
        {queue.data && <Clock timeZone={queue.data.queue?.timeZone} />}
      </header>
      {e && !connected && (
        <div className="error board-error" role="alert" data-code={e.code}>
          <strong>{e.title}</strong> {e.action} <span className="small">Reconnecting automatically…</span>
        </div>
      )}
      <section className="now" aria-labelledby="now-h">
        <div className="board-section-head">
          <h2 id="now-h">Now calling</h2>
          {called.more > 0 && (
            <span className="more" data-testid="called-more" data-more={called.more}>
              +{called.more} more
            </span>
          )}
        </div>
        <ul data-testid="called" ref={nowRef}>
          {called.shown.map((t, i) => (
            <li key={t.ticketId} className={`called${i === 0 ? " latest" : ""}`} data-recalls={t.recallCount}>
              <span className="number">{t.number}</span>
              <span className="to">counter {t.counterId}</span>
            </li>
          ))}
        </ul>
      </section>
      <section className="next" aria-labelledby="next-h">
        <div className="board-section-head">
          <h2 id="next-h">Waiting</h2>
          {waiting.more > 0 && (
            <span className="more" data-testid="waiting-more" data-more={waiting.more}>
              +{waiting.more} more
            </span>
          )}
        </div>
        <ul data-testid="waiting" ref={nextRef}>
          {waiting.shown.map((t) => (
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
