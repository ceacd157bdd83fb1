// Reception: today's appointments with check-in (into each provider's own queue) and no-show,
// walk-in tickets, a counter (call next, recall, not here yet, no-show, complete) restored from the
// server on reload, and the live queue.
import { useEffect, useState } from "react";
import { TicketPriority, TicketStatus, type Ticket } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import { AppointmentStatus, type Appointment, type Provider } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { api, fmtTimeInZone, newRequestId, toDate, ts, type Session } from "./api.js";
import { useConfirm } from "./confirm-dialog.js";
import { messages } from "./message-catalog.js";
import { calledOrder, useQueueWatch, waitingOrder, type QueueWatch } from "./queue-watch.js";
import { ErrorBox, FieldError, fieldError, fieldProps, Loading, Notice, useAction, useAsync } from "./ui.js";

const QUEUE_KEY = "medschedule.queue";
const COUNTER_KEY = "medschedule.counter";
/** CLAIM_MS bounds how long an action's own answer is shown before the live stream must agree. */
const CLAIM_MS = 3_000;

function todayRange(): { start: Date; end: Date } {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  return { start, end: new Date(start.getTime() + 86_400_000) };
}

/** ReceptionScreen is the front desk. */
export function ReceptionScreen({ session }: { session: Session }) {
  const queues = useAsync((signal) => api.queue.listQueues({ pageSize: 500 }, { signal }), []);
  const [queueId, setQueueIdState] = useState(localStorage.getItem(QUEUE_KEY) ?? "");
  const setQueueId = (id: string) => {
    localStorage.setItem(QUEUE_KEY, id);
    setQueueIdState(id);
  };
  const list = queues.data?.queues ?? [];
  const queue = list.find((q) => q.queueId === queueId) ?? list[0];
  const watch = useQueueWatch(queue?.queueId);

  return (
    <section className="reception">
      <h1>Reception</h1>
      {queues.loading && !queues.data && <Loading label="Loading queues…" />}
      {queues.error !== undefined && <ErrorBox error={queues.error} what="loadQueues" onRetry={queues.reload} />}
      {queues.data && (
        <div className="row wrap">
          {list.length > 0 && (
            <label>
              Queue
              <select id="queue" value={queue?.queueId} onChange={(e) => setQueueId(e.target.value)}>
                {list.map((q) => (
                  <option key={q.queueId} value={q.queueId}>
                    {q.displayName} ({q.prefix})
                  </option>
                ))}
              </select>
            </label>
          )}
          {queue && (
            <a className="button" href={`/display?queue=${encodeURIComponent(queue.queueId)}`} target="_blank" rel="noreferrer">
              Open the display board
            </a>
          )}
          <CreateQueue onCreated={(id) => (setQueueId(id), queues.reload())} first={list.length === 0} />
        </div>
      )}
      {queue && watch.error !== undefined && !watch.connected && (
        <>
          <ErrorBox error={watch.error} what="liveQueue" />
          <p className="muted small">Reconnecting automatically…</p>
        </>
      )}
      {queue && (
        <div className="grid">
          <Counter key={queue.queueId} queueId={queue.queueId} timeZone={queue.timeZone} watch={watch} />
          <WalkIn queueId={queue.queueId} />
          <TodayAppointments
            session={session}
            queueId={queue.queueId}
            onShowQueue={(id) => {
              setQueueId(id);
              queues.reload();
            }}
          />
          <Waiting watch={watch} />
        </div>
      )}
    </section>
  );
}

function CreateQueue({ onCreated, first }: { onCreated(id: string): void; first: boolean }) {
  const [open, setOpen] = useState(first);
  const [name, setName] = useState("Reception");
  const [prefix, setPrefix] = useState("A");
  const create = useAction(async () => {
    const res = await api.queue.createQueue({ displayName: name.trim(), prefix: prefix.trim(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone });
    onCreated(res.queue!.queueId);
    setOpen(false);
  });
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        New queue…
      </button>
    );
  const nameError = fieldError(create.error, "displayName");
  const prefixError = fieldError(create.error, "prefix");
  return (
    <form
      className="row wrap panel"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      {first && <p>No queue yet: create the first one.</p>}
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required {...fieldProps(nameError, "queue-name-error")} />
        <FieldError id="queue-name-error" message={nameError} />
      </label>
      <label>
        Prefix
        <input value={prefix} onChange={(e) => setPrefix(e.target.value)} required maxLength={3} size={3} {...fieldProps(prefixError, "queue-prefix-error")} />
        <FieldError id="queue-prefix-error" message={prefixError} />
      </label>
      <button type="submit" disabled={create.pending}>
        Create queue
      </button>
      {create.error !== undefined && <ErrorBox error={create.error} what="createQueue" />}
    </form>
  );
}

/** Claim is what this screen's last counter action answered, shown until the live stream agrees. */
interface Claim {
  counterId: string;
  open?: boolean;
  held?: Ticket | null;
  until: number;
}

type CounterAction = "open" | "close" | "next" | "recall" | "notHere" | "noShow" | "complete";

function Counter({ queueId, timeZone, watch }: { queueId: string; timeZone: string; watch: QueueWatch }) {
  const [counterId, setCounterIdState] = useState(localStorage.getItem(COUNTER_KEY) ?? "1");
  const setCounterId = (id: string) => {
    localStorage.setItem(COUNTER_KEY, id);
    setCounterIdState(id);
  };
  const { ask, dialog } = useConfirm();
  const [message, setMessage] = useState("");
  const [claim, setClaim] = useState<Claim | undefined>();
  // After a patient is dealt with, keyboard focus moves to "Call next", the next thing to do.
  const [focusCallNext, setFocusCallNext] = useState(false);

  // What the server holds for this counter (after a reload too): its open flag, and the ticket it
  // has called (CALLED with this counterId).
  const live = watch.counters.get(counterId);
  const liveHeld = calledOrder(watch.tickets).find((t) => t.counterId === counterId);
  const claimed = claim && claim.counterId === counterId ? claim : undefined;
  const open = claimed?.open ?? live?.open ?? false;
  const held = claimed && claimed.held !== undefined ? (claimed.held ?? undefined) : liveHeld;
  // The claim ends as soon as the stream says the same, or after CLAIM_MS (the stream is the truth).
  useEffect(() => {
    if (!claim) return;
    const agrees =
      (claim.open === undefined || claim.open === (watch.counters.get(claim.counterId)?.open ?? false)) &&
      (claim.held === undefined || (claim.held?.ticketId ?? "") === (calledOrder(watch.tickets).find((t) => t.counterId === claim.counterId)?.ticketId ?? ""));
    if (agrees) {
      setClaim(undefined);
      return;
    }
    // While the stream is down its view is stale: the action's answer stays until it is back.
    if (!watch.connected) return;
    const id = setTimeout(() => setClaim(undefined), Math.max(0, claim.until - Date.now()));
    return () => clearTimeout(id);
  }, [claim, watch.tickets, watch.counters, watch.connected]);

  const claimNow = (c: Omit<Claim, "counterId" | "until">) => setClaim({ ...c, counterId, until: Date.now() + CLAIM_MS });
  const act = useAction(async (what: CounterAction, ticket?: Ticket) => {
    setMessage("");
    switch (what) {
      case "open":
        await api.queue.openCounter({ queueId, counterId });
        claimNow({ open: true });
        setMessage(messages.notices.counterOpen({ counterId }));
        setFocusCallNext(true);
        return;
      case "close":
        await api.queue.closeCounter({ queueId, counterId });
        claimNow({ open: false });
        setMessage(messages.notices.counterClosed({ counterId }));
        return;
      case "next": {
        const res = await api.queue.callNext({ queueId, counterId });
        claimNow({ held: res.ticket ?? null });
        setMessage(res.ticket ? messages.notices.calling({ number: res.ticket.number, counterId }) : messages.notices.nobodyWaiting);
        return;
      }
      case "recall": {
        const t = (await api.queue.recallTicket({ ticketId: ticket!.ticketId, counterId })).ticket;
        claimNow({ held: t ?? null });
        setMessage(messages.notices.recalled({ number: ticket!.number }));
        return;
      }
      case "notHere": {
        const t = (await api.queue.skipTicket({ ticketId: ticket!.ticketId, counterId })).ticket;
        claimNow({ held: null });
        setMessage(
          t?.status === TicketStatus.NO_SHOW
            ? messages.notices.skippedToNoShow({ number: ticket!.number })
            : messages.notices.skipped({ number: ticket!.number, position: t?.position }),
        );
        setFocusCallNext(true);
        return;
      }
      case "noShow":
        await api.queue.markTicketNoShow({ ticketId: ticket!.ticketId, counterId });
        claimNow({ held: null });
        setMessage(messages.notices.noShow({ number: ticket!.number, counterId }));
        setFocusCallNext(true);
        return;
      case "complete":
        await api.queue.completeTicket({ ticketId: ticket!.ticketId, counterId });
        claimNow({ held: null });
        setMessage(messages.notices.completed({ number: ticket!.number, counterId }));
        setFocusCallNext(true);
        return;
    }
  });
  // Destructive ones ask first; the question is asked before the action runs, so the button that
  // asked stays enabled and gets the focus back when the answer is no.
  const confirmThen = async (what: "close" | "noShow", ticket?: Ticket) => {
    const question = what === "close" ? messages.confirm.closeCounter({ counterId }) : messages.confirm.ticketNoShow({ number: ticket!.number });
    if (await ask(question)) void act.run(what, ticket);
  };

  const callNextDisabled = act.pending || (watch.loaded && (!open || Boolean(held)));
  useEffect(() => {
    if (!focusCallNext || callNextDisabled) return;
    setFocusCallNext(false);
    document.getElementById("call-next")?.focus();
  }, [focusCallNext, callNextDisabled]);

  const counterError = fieldError(act.error, "counterId");
  const hint = !watch.loaded ? "" : !open ? "Open the counter to call patients." : held ? "Finish with the called patient first." : "";
  return (
    <section className="panel counter" aria-labelledby="counter-h">
      <h2 id="counter-h">Counter</h2>
      <div className="row wrap">
        <label>
          Counter id
          <input
            id="counter"
            value={counterId}
            onChange={(e) => (setCounterId(e.target.value), act.clear(), setMessage(""))}
            size={6}
            {...fieldProps(counterError, "counter-error")}
          />
          <FieldError id="counter-error" message={counterError} />
        </label>
        {watch.loaded && (
          <span className={`badge ${open ? "ok" : ""}`} data-testid="counter-state">
            {open ? "Open" : "Closed"}
          </span>
        )}
        {open ? (
          <button type="button" disabled={act.pending || Boolean(held)} onClick={() => void confirmThen("close")} title={held ? "Finish with the called patient first." : undefined}>
            Close counter
          </button>
        ) : (
          <button type="button" disabled={act.pending} onClick={() => void act.run("open")}>
            Open counter
          </button>
        )}
      </div>
      <p className="current" aria-live="polite" data-testid="current-ticket">
        {held ? held.number : "—"}
      </p>
      {held && (
        <p className="muted small" data-testid="current-detail">
          Called at {fmtTimeInZone(toDate(held.callTime), timeZone)}
          {held.recallCount > 0 ? ` · recalled ${held.recallCount}×` : ""}
        </p>
      )}
      <div className="row wrap">
        <button
          type="button"
          className="primary"
          id="call-next"
          disabled={callNextDisabled}
          aria-describedby={hint ? "call-next-hint" : undefined}
          onClick={() => void act.run("next")}
        >
          Call next
        </button>
        <button type="button" disabled={act.pending || !held} onClick={() => void act.run("recall", held)}>
          Recall
        </button>
        <button type="button" disabled={act.pending || !held} onClick={() => void act.run("notHere", held)}>
          Not here yet
        </button>
        <button type="button" className="danger" disabled={act.pending || !held} onClick={() => void confirmThen("noShow", held)}>
          No-show
        </button>
        <button type="button" disabled={act.pending || !held} onClick={() => void act.run("complete", held)}>
          Complete
        </button>
      </div>
      {hint && (
        <p className="muted small" id="call-next-hint">
          {hint}
        </p>
      )}
      <p className="muted small">“Not here yet” puts the ticket back in line behind the next patient; “No-show” takes it out of the queue.</p>
      {act.error !== undefined && <ErrorBox error={act.error} what="counter" context={{ counterId }} />}
      {message && !act.error && <Notice>{message}</Notice>}
      {dialog}
    </section>
  );
}

function WalkIn({ queueId }: { queueId: string }) {
  const [patientId, setPatientId] = useState("");
  const [priority, setPriority] = useState(TicketPriority.ROUTINE);
  const issue = useAction(async () => {
    const res = await api.queue.issueTicket({ requestId: newRequestId(), queueId, patientId: patientId.trim(), priority });
    setPatientId("");
    return res.ticket;
  });
  const patientError = fieldError(issue.error, "patientId");
  return (
    <section className="panel" aria-labelledby="walkin-h">
      <h2 id="walkin-h">Walk-in ticket</h2>
      <form
        className="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          void issue.run();
        }}
      >
        <label>
          Patient id (optional)
          <input id="walkin-patient" value={patientId} onChange={(e) => setPatientId(e.target.value)} placeholder="e.g. p-1234" {...fieldProps(patientError, "walkin-patient-error")} />
          <FieldError id="walkin-patient-error" message={patientError} />
        </label>
        <label>
          Priority
          <select value={priority} onChange={(e) => setPriority(Number(e.target.value) as TicketPriority)}>
            <option value={TicketPriority.ROUTINE}>Routine</option>
            <option value={TicketPriority.PRIORITY}>Priority</option>
            <option value={TicketPriority.URGENT}>Urgent</option>
          </select>
        </label>
        <button type="submit" id="issue" disabled={issue.pending}>
          Issue ticket
        </button>
      </form>
      {issue.error !== undefined && <ErrorBox error={issue.error} what="walkIn" />}
      {issue.result && (
        <Notice>
          <span data-testid="issued" data-number={issue.result.number}>
            {messages.notices.ticketIssued({ number: issue.result.number, position: issue.result.position })}
          </span>
        </Notice>
      )}
    </section>
  );
}

/** Row is one of today's appointments with its provider. */
interface Row {
  a: Appointment;
  provider?: Provider;
}

function TodayAppointments({ session, queueId, onShowQueue }: { session: Session; queueId: string; onShowQueue(queueId: string): void }) {
  const { start, end } = todayRange();
  // A doctor sees their own list only (their token's subject is their providerId).
  const ownOnly = session.roles.includes("doctor") && !session.roles.some((r) => r === "receptionist" || r === "admin");
  // ListAppointments is per provider: today's list is every provider's, merged by start time.
  const appts = useAsync(
    async (signal): Promise<Row[]> => {
      const all = (await api.scheduling.listProviders({ pageSize: 100 }, { signal })).providers;
      const providers = ownOnly ? all.filter((p) => p.providerId === session.subject) : all;
      const lists = await Promise.all(
        providers.map((p) =>
          api.scheduling.listAppointments(
            {
              providerId: p.providerId,
              startTime: ts(start),
              endTime: ts(end),
              statuses: [AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.NOSHOW],
              pageSize: 100,
            },
            { signal },
          ),
        ),
      );
      const byId = new Map(providers.map((p) => [p.providerId, p]));
      return lists
        .flatMap((l) => l.appointments)
        .sort((a, b) => (toDate(a.startTime)?.getTime() ?? 0) - (toDate(b.startTime)?.getTime() ?? 0))
        .map((a) => ({ a, provider: byId.get(a.providerId) }));
    },
    [start.getTime(), ownOnly, session.subject],
    { pollMs: 10_000 },
  );
  const { ask, dialog } = useConfirm();
  const [sent, setSent] = useState<{ text: string; queueId: string } | undefined>();
  const [notice, setNotice] = useState("");
  // Check-in names no queue: the server sends the patient to the appointment's provider queue, and
  // the notice says which one.
  const [acted, setActed] = useState<Row | undefined>();
  const checkIn = useAction(async (row: Row) => {
    setSent(undefined);
    setNotice("");
    setActed(row);
    noShow.clear();
    const res = await api.scheduling.checkInAppointment({ appointmentId: row.a.appointmentId, requestId: newRequestId() });
    appts.reload();
    const ticket = res.ticket;
    if (!ticket) return;
    const name = await api.queue.getQueue({ queueId: ticket.queueId }).then(
      (q) => q.queue?.displayName ?? ticket.queueId,
      () => ticket.queueId,
    );
    setSent({ text: messages.notices.checkedIn({ number: ticket.number, queue: name }), queueId: ticket.queueId });
  });
  const noShow = useAction(async ({ a, provider }: Row) => {
    setSent(undefined);
    setNotice("");
    checkIn.clear();
    setActed({ a, provider });
    const time = fmtTimeInZone(toDate(a.startTime), provider?.timeZone);
    await api.scheduling.markNoShow({ appointmentId: a.appointmentId, requestId: newRequestId() });
    setNotice(messages.notices.appointmentNoShow({ time }));
    appts.reload();
  });
  const askNoShow = async (row: Row) => {
    const time = fmtTimeInZone(toDate(row.a.startTime), row.provider?.timeZone);
    if (await ask(messages.confirm.appointmentNoShow({ time, provider: row.provider?.displayName ?? "" }))) void noShow.run(row);
  };
  const now = Date.now();
  const actedContext = acted ? { appointmentTime: fmtTimeInZone(toDate(acted.a.startTime), acted.provider?.timeZone) } : {};
  return (
    <section className="panel" aria-labelledby="today-h">
      <h2 id="today-h">Today's appointments</h2>
      {appts.loading && !appts.data && <Loading />}
      {appts.error !== undefined && <ErrorBox error={appts.error} what="loadToday" onRetry={appts.reload} />}
      {appts.data && appts.data.length === 0 && <p className="muted">No appointments today.</p>}
      <ul className="cards" data-testid="today">
        {appts.data?.map(({ a, provider }) => (
          <li key={a.appointmentId} className="card" data-appointment={a.appointmentId}>
            <span>
              <strong>{fmtTimeInZone(toDate(a.startTime), provider?.timeZone)}</strong> {provider?.displayName ?? a.providerId}
              <br />
              <span className="muted small">patient {a.patientId}</span>
            </span>
            {a.status === AppointmentStatus.BOOKED ? (
              <span className="row">
                <button type="button" disabled={checkIn.pending || noShow.pending} onClick={() => void checkIn.run({ a, provider })}>
                  Check in
                </button>
                {(toDate(a.startTime)?.getTime() ?? Infinity) <= now && (
                  <button type="button" className="danger" disabled={checkIn.pending || noShow.pending} onClick={() => void askNoShow({ a, provider })}>
                    No-show
                  </button>
                )}
              </span>
            ) : (
              <span className={`badge ${a.status === AppointmentStatus.CHECKED_IN ? "ok" : "bad"}`}>{messages.appointmentStatus[AppointmentStatus[a.status]]}</span>
            )}
          </li>
        ))}
      </ul>
      {checkIn.error !== undefined && <ErrorBox error={checkIn.error} what="checkIn" context={actedContext} />}
      {noShow.error !== undefined && <ErrorBox error={noShow.error} what="appointmentNoShow" context={actedContext} />}
      {sent && !checkIn.error && (
        <Notice>
          <span data-testid="checked-in">{sent.text}</span>{" "}
          {sent.queueId !== queueId && (
            <button type="button" className="link" onClick={() => onShowQueue(sent.queueId)}>
              Show that queue
            </button>
          )}
        </Notice>
      )}
      {notice && !noShow.error && <Notice>{notice}</Notice>}
      {dialog}
    </section>
  );
}

function Waiting({ watch }: { watch: QueueWatch }) {
  const { ask, dialog } = useConfirm();
  const [notice, setNotice] = useState("");
  const cancel = useAction(async (t: Ticket, reason: string) => {
    setNotice("");
    await api.queue.cancelTicket({ ticketId: t.ticketId, reason });
    setNotice(messages.notices.ticketCancelled({ number: t.number }));
  });
  const askCancel = async (t: Ticket) => {
    const yes = await ask({ ...messages.confirm.cancelTicket({ number: t.number }), reason: "optional" });
    if (yes) void cancel.run(t, yes.reason);
  };
  const tickets = [...calledOrder(watch.tickets), ...waitingOrder(watch.tickets)];
  return (
    <section className="panel" aria-labelledby="waiting-h">
      <h2 id="waiting-h">In the queue</h2>
      {!watch.loaded && watch.error === undefined && <Loading />}
      {watch.loaded && tickets.length === 0 && <p className="muted">Nobody is waiting.</p>}
      <ol className="tickets" data-testid="queue-tickets">
        {tickets.map((t) => (
          <li key={t.ticketId} className={t.status === TicketStatus.CALLED ? "called" : ""} data-number={t.number}>
            <span>
              <strong>{t.number}</strong>{" "}
              <span className="muted small">
                {t.status === TicketStatus.CALLED
                  ? `called to ${t.counterId}`
                  : `${messages.ticketStatus.WAITING} · ${TicketPriority[t.priority]?.toLowerCase() ?? ""}`}
              </span>
            </span>
            {t.status === TicketStatus.WAITING && (
              <button type="button" className="link danger" disabled={cancel.pending} onClick={() => void askCancel(t)} aria-label={`Cancel ticket ${t.number}`}>
                Cancel
              </button>
            )}
          </li>
        ))}
      </ol>
      {cancel.error !== undefined && <ErrorBox error={cancel.error} what="cancelTicket" />}
      {notice && !cancel.error && <Notice>{notice}</Notice>}
      {dialog}
    </section>
  );
}
