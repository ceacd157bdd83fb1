// Reception: today's appointments with check-in (into each provider's own queue) and no-show,
// walk-in tickets, a counter (call next, recall, not here yet, no-show, complete) restored from the
// server on reload, and the live queue. Each panel and button is there only for the roles the role
// table lets call its RPC: a doctor sees their own day and their own queue, and no walk-in desk.
import { useEffect, useState } from "react";
import { TicketPriority, TicketStatus, type Ticket } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { AppointmentStatus, type Appointment, type Provider } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { api, newRequestId, toDate, ts, type Session } from "./api.js";
import { useConfirm } from "./confirm-dialog.js";
import { messages } from "./message-catalog.js";
import { listAll, mapLimit, usePages } from "./paging.js";
import { PatientField } from "./patient-finder.js";
import { usePatientNames, type PatientNames } from "./patient-names.js";
import { can, ownProviderId, screensFor } from "./permissions.js";
import { providerQueueId } from "./provider-queue.js";
import { calledOrder, useQueueWatch, waitingOrder, type QueueWatch } from "./queue-watch.js";
import { differsHere, fmtInZone, fmtLongDate, fmtTimeInZone, zoneLabel, zoneMidnight } from "./time-format.js";
import { ErrorBox, FieldError, fieldError, fieldProps, Loading, Notice, Pager, useAction, useAsync } from "./ui.js";

/** QUEUE_KEY remembers the queue a desk chose (a doctor's choice is kept under their own key). */
const QUEUE_KEY = "medschedule.queue";
const COUNTER_KEY = "medschedule.counter";
/** CLAIM_MS bounds how long an action's own answer is shown before the live stream must agree. */
const CLAIM_MS = 3_000;
/** ROWS_SHOWN is how many of today's appointments a page shows (Previous / Next for the others). */
const ROWS_SHOWN = 50;

/** ReceptionScreen is the front desk, and a doctor's own day. */
export function ReceptionScreen({ session }: { session: Session }) {
  // A doctor's token is bound to their provider: their day, their queue.
  const ownProvider = ownProviderId(session);
  const me = useAsync((signal) => api.scheduling.getProvider({ providerId: ownProvider! }, { signal }).then((r) => r.provider), [ownProvider], {
    enabled: Boolean(ownProvider),
  });
  const ownQueue = useAsync(() => providerQueueId(ownProvider!), [ownProvider], { enabled: Boolean(ownProvider) });
  const queues = useAsync(
    (signal) =>
      listAll((pageToken) => api.queue.listQueues({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.queues, nextPageToken: r.nextPageToken }))),
    [],
  );
  const queueKey = ownProvider ? `${QUEUE_KEY}@${ownProvider}` : QUEUE_KEY;
  const [chosen, setChosen] = useState(localStorage.getItem(queueKey) ?? "");
  const setQueueId = (id: string) => {
    if (id) localStorage.setItem(queueKey, id);
    else localStorage.removeItem(queueKey);
    setChosen(id);
  };
  const list = queues.data?.items ?? [];
  const own = ownQueue.data ? list.find((q) => q.queueId === ownQueue.data) : undefined;
  // A doctor starts on their own queue, staff on the one this desk chose last (else the first).
  const queue = list.find((q) => q.queueId === chosen) ?? (ownProvider ? own : list[0]);
  // The queue shown by default stays shown when the list changes (a check-in that creates a provider's
  // queue reloads it, and the new queue may sort first).
  useEffect(() => {
    if (!chosen && queue && !ownProvider) setChosen(queue.queueId);
  }, [chosen, queue?.queueId, ownProvider]);
  const ownMissing = Boolean(ownProvider) && queues.data !== undefined && ownQueue.loading === false && !own;
  const watch = useQueueWatch(queue?.queueId);
  const showsBoard = screensFor(session).some((s) => s.path === "/display");

  return (
    <section className="reception">
      <h1>Reception</h1>
      {ownProvider && me.data && (
        <p className="lead" data-testid="own-provider">
          {me.data.displayName} · {fmtLongDate(new Date(), me.data.timeZone)}
          {differsHere(new Date(), me.data.timeZone) ? ` (${zoneLabel(me.data.timeZone)})` : ""}
        </p>
      )}
      {me.error !== undefined && <ErrorBox error={me.error} what="loadOwnProvider" onRetry={me.reload} />}
      {queues.loading && !queues.data && <Loading label="Loading queues…" />}
      {queues.error !== undefined && <ErrorBox error={queues.error} what="loadQueues" onRetry={queues.reload} />}
      {queues.data && (
        <div className="row wrap">
          {list.length > 0 && (
            <label>
              Queue
              <select id="queue" value={queue?.queueId ?? ""} onChange={(e) => setQueueId(e.target.value)}>
                {ownMissing && !queue && <option value="">Your queue (not created yet)</option>}
                {list.map((q) => (
                  <option key={q.queueId} value={q.queueId}>
                    {q.displayName} ({q.prefix}){q.queueId === own?.queueId ? " · yours" : ""}
                  </option>
                ))}
              </select>
            </label>
          )}
          {queue && showsBoard && (
            <a className="button" href={`/display?queue=${encodeURIComponent(queue.queueId)}`} target="_blank" rel="noreferrer">
              Open the display board
            </a>
          )}
          {ownProvider && queue && own && queue !== own && (
            <button type="button" onClick={() => setQueueId(own.queueId)}>
              Back to your queue
            </button>
          )}
          {can(session, QueueService.method.createQueue) && (
            <CreateQueue onCreated={(id) => (setQueueId(id), queues.reload())} first={list.length === 0 && !ownProvider} />
          )}
        </div>
      )}
      {queues.data && !queues.data.complete && <p className="muted small">Only the first {list.length} queues are listed.</p>}
      {ownMissing && !queue && (
        <p className="notice" data-testid="own-queue-missing">
          {ownQueue.data
            ? `Your queue “${me.data?.displayName ?? "your name"}” does not exist yet: it is created when the first of your patients is checked in. Then their tickets wait there for you.`
            : "Your queue could not be worked out in this browser: choose it in the list."}
        </p>
      )}
      {queue && watch.error !== undefined && !watch.connected && (
        <>
          <ErrorBox error={watch.error} what="liveQueue" />
          <p className="muted small">Reconnecting automatically…</p>
        </>
      )}
      <div className="grid">
        {queue && can(session, QueueService.method.callNext) && <Counter key={queue.queueId} queueId={queue.queueId} timeZone={queue.timeZone} watch={watch} />}
        {queue && can(session, QueueService.method.issueTicket) && <WalkIn session={session} queueId={queue.queueId} />}
        {can(session, SchedulingService.method.listAppointments) && (queues.data || queues.error !== undefined) && (
          <TodayAppointments
            session={session}
            own={ownProvider ? me.data : undefined}
            ownPending={Boolean(ownProvider) && !me.data}
            queueId={queue?.queueId ?? ""}
            ownQueueId={ownQueue.data}
            onShowQueue={(id) => {
              setQueueId(id);
              queues.reload();
            }}
            onCheckedIn={() => queues.reload()}
          />
        )}
        {queue && <Waiting session={session} watch={watch} />}
      </div>
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
          <button type="button" id="open-counter" disabled={act.pending} onClick={() => void act.run("open")}>
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

function WalkIn({ session, queueId }: { session: Session; queueId: string }) {
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
      <PatientField session={session} id="walkin-patient" value={patientId} onChange={setPatientId} error={patientError} optional />
      <form
        className="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          void issue.run();
        }}
      >
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

/** Day is today's appointments of the providers shown. */
interface Day {
  rows: Row[];
  /** complete is false when a provider's day had more pages than listAll reads. */
  complete: boolean;
  /** next is the provider's next appointment after today, when one provider is shown and today is empty. */
  next?: Row;
}

/** pollFor spaces the refreshes of today's list by the calls one refresh makes, so a clinic of many providers stays inside the rate limit. */
function pollFor(calls: number): number {
  return Math.max(10_000, calls * 400);
}

/** dayOf reads one provider's appointments of today in their zone, every page. */
async function dayOf(p: Provider, signal: AbortSignal): Promise<{ rows: Row[]; complete: boolean; calls: number }> {
  const read = await listAll((pageToken) =>
    api.scheduling
      .listAppointments(
        {
          providerId: p.providerId,
          startTime: ts(zoneMidnight(p.timeZone, 0)),
          endTime: ts(zoneMidnight(p.timeZone, 1)),
          statuses: [AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.NOSHOW],
          pageSize: 500,
          pageToken,
        },
        { signal },
      )
      .then((r) => ({ items: r.appointments, nextPageToken: r.nextPageToken })),
  );
  return { rows: read.items.map((a) => ({ a, provider: p })), complete: read.complete, calls: read.calls };
}

function TodayAppointments({
  session,
  own,
  ownPending,
  queueId,
  ownQueueId,
  onShowQueue,
  onCheckedIn,
}: {
  session: Session;
  own?: Provider;
  ownPending: boolean;
  queueId: string;
  ownQueueId?: string;
  onShowQueue(queueId: string): void;
  onCheckedIn(): void;
}) {
  // Staff see every provider (all pages) and may narrow to one; a doctor sees their own day only.
  const providers = useAsync(
    async (signal): Promise<{ items: Provider[]; complete: boolean }> =>
      own
        ? { items: [own], complete: true }
        : listAll((pageToken) => api.scheduling.listProviders({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.providers, nextPageToken: r.nextPageToken }))),
    [own],
    { enabled: !ownPending },
  );
  const [filter, setFilter] = useState("");
  const [pollMs, setPollMs] = useState(10_000);
  const list = providers.data?.items ?? [];
  const appts = useAsync(
    async (signal): Promise<Day> => {
      const chosen = filter ? list.filter((p) => p.providerId === filter) : list;
      const days = await mapLimit(chosen, 6, (p) => dayOf(p, signal));
      setPollMs(pollFor(days.reduce((n, d) => n + d.calls, 0)));
      const rows = days.flatMap((d) => d.rows).sort((a, b) => (toDate(a.a.startTime)?.getTime() ?? 0) - (toDate(b.a.startTime)?.getTime() ?? 0));
      const day: Day = { rows, complete: days.every((d) => d.complete) };
      if (chosen.length === 1 && rows.length === 0) {
        const p = chosen[0];
        const ahead = await api.scheduling.listAppointments(
          { providerId: p.providerId, startTime: ts(zoneMidnight(p.timeZone, 1)), statuses: [AppointmentStatus.BOOKED], pageSize: 1 },
          { signal },
        );
        if (ahead.appointments[0]) day.next = { a: ahead.appointments[0], provider: p };
      }
      return day;
    },
    [providers.data, filter],
    { pollMs, enabled: Boolean(providers.data) },
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
    onCheckedIn();
    const ticket = res.ticket;
    if (!ticket) return;
    const name = await api.queue.getQueue({ queueId: ticket.queueId }).then(
      (q) => q.queue?.displayName ?? ticket.queueId,
      () => ticket.queueId,
    );
    setSent({
      text: ticket.queueId === ownQueueId ? messages.notices.checkedInToYours({ number: ticket.number }) : messages.notices.checkedIn({ number: ticket.number, queue: name }),
      queueId: ticket.queueId,
    });
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
  const mayCheckIn = can(session, SchedulingService.method.checkInAppointment);
  const mayMarkNoShow = can(session, SchedulingService.method.markNoShow);
  const now = Date.now();
  const actedContext = acted ? { appointmentTime: fmtTimeInZone(toDate(acted.a.startTime), acted.provider?.timeZone) } : {};
  const rows = appts.data?.rows ?? [];
  const pages = usePages(rows, ROWS_SHOWN, filter);
  // Whose each appointment is: the names of the page shown, read once per patient for this screen.
  const names = usePatientNames(session, pages.items.map((r) => r.a.patientId));
  return (
    <section className="panel" aria-labelledby="today-h">
      <h2 id="today-h">{own ? `Today · ${own.displayName}` : "Today's appointments"}</h2>
      {providers.error !== undefined && <ErrorBox error={providers.error} what="loadProviders" onRetry={providers.reload} />}
      {!own && list.length > 1 && (
        <label>
          Provider
          <select id="today-provider" value={filter} onChange={(e) => setFilter(e.target.value)}>
            <option value="">All providers ({list.length})</option>
            {list.map((p) => (
              <option key={p.providerId} value={p.providerId}>
                {p.displayName}
              </option>
            ))}
          </select>
        </label>
      )}
      {providers.data && !providers.data.complete && <p className="muted small">Only the first {list.length} providers are listed.</p>}
      {(providers.loading || appts.loading) && !appts.data && <Loading />}
      {appts.error !== undefined && <ErrorBox error={appts.error} what="loadToday" onRetry={appts.reload} />}
      {appts.data && rows.length === 0 && (
        <p className="muted" data-testid="today-empty">
          No appointments today.
          {appts.data.next && ` Next: ${fmtInZone(toDate(appts.data.next.a.startTime), appts.data.next.provider?.timeZone)}.`}
        </p>
      )}
      {appts.data && rows.length > 0 && (
        <p className="muted small" data-testid="today-count">
          {rows.length} {rows.length === 1 ? "appointment" : "appointments"}
          {appts.data.complete ? "" : " (the first pages only: choose one provider to see all of theirs)"}
        </p>
      )}
      <ul className="cards" data-testid="today">
        {pages.items.map(({ a, provider }) => (
          <li key={a.appointmentId} className="card" data-appointment={a.appointmentId}>
            <span>
              <strong>{fmtTimeInZone(toDate(a.startTime), provider?.timeZone)}</strong> {own ? "" : (provider?.displayName ?? a.providerId)}
              <br />
              <PatientName names={names} patientId={a.patientId} />
            </span>
            {a.status === AppointmentStatus.BOOKED ? (
              <span className="row">
                {mayCheckIn && (
                  <button type="button" disabled={checkIn.pending || noShow.pending} onClick={() => void checkIn.run({ a, provider })}>
                    Check in
                  </button>
                )}
                {mayMarkNoShow && (toDate(a.startTime)?.getTime() ?? Infinity) <= now && (
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
      <Pager id="today" label="today's appointments" list={pages} />
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

/** PatientName shows a patient's name once known, else their id (a lookup that failed or was refused never hides the row). */
function PatientName({ names, patientId }: { names: PatientNames; patientId: string }) {
  const name = names.name(patientId);
  if (!patientId) return <span className="muted small">walk-in</span>;
  return name ? (
    <span className="small" data-testid="patient-name" data-patient={patientId}>
      {name}
    </span>
  ) : (
    <span className="muted small" data-patient={patientId}>
      patient {patientId}
    </span>
  );
}

function Waiting({ session, watch }: { session: Session; watch: QueueWatch }) {
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
  const names = usePatientNames(session, tickets.map((t) => t.patientId));
  const mayCancel = can(session, QueueService.method.cancelTicket);
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
              {t.patientId && (
                <>
                  {" "}
                  <PatientName names={names} patientId={t.patientId} />
                </>
              )}
            </span>
            {t.status === TicketStatus.WAITING && mayCancel && (
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
