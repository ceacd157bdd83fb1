// Reception: today's appointments with check-in, walk-in tickets, and a counter (call next, recall,
// no-show, complete).
import { useState } from "react";
import { TicketPriority, TicketStatus, type Ticket } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import { AppointmentStatus } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { api, fmtTime, newRequestId, toDate, ts, type Session } from "./api.js";
import { ErrorBox, Loading, Notice, useAction, useAsync } from "./ui.js";

const QUEUE_KEY = "medschedule.queue";
const COUNTER_KEY = "medschedule.counter";

function todayRange(): { start: Date; end: Date } {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  return { start, end: new Date(start.getTime() + 86_400_000) };
}

/** ReceptionScreen is the front desk. */
export function ReceptionScreen({ session }: { session: Session }) {
  const queues = useAsync((signal) => api.queue.listQueues({ pageSize: 100 }, { signal }), []);
  const [queueId, setQueueIdState] = useState(localStorage.getItem(QUEUE_KEY) ?? "");
  const setQueueId = (id: string) => {
    localStorage.setItem(QUEUE_KEY, id);
    setQueueIdState(id);
  };
  const list = queues.data?.queues ?? [];
  const queue = list.find((q) => q.queueId === queueId) ?? list[0];

  return (
    <section className="reception">
      <h1>Reception</h1>
      {queues.loading && !queues.data && <Loading label="Loading queues…" />}
      {queues.error !== undefined && <ErrorBox error={queues.error} what="Loading the queues" onRetry={queues.reload} />}
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
      {queue && (
        <div className="grid">
          <Counter queueId={queue.queueId} />
          <WalkIn queueId={queue.queueId} />
          <TodayAppointments queueId={queue.queueId} session={session} />
          <Waiting queueId={queue.queueId} />
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
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        Prefix
        <input value={prefix} onChange={(e) => setPrefix(e.target.value)} required maxLength={3} size={3} />
      </label>
      <button type="submit" disabled={create.pending}>
        Create queue
      </button>
      {create.error !== undefined && <ErrorBox error={create.error} what="Creating the queue" />}
    </form>
  );
}

function Counter({ queueId }: { queueId: string }) {
  const [counterId, setCounterIdState] = useState(localStorage.getItem(COUNTER_KEY) ?? "1");
  const setCounterId = (id: string) => {
    localStorage.setItem(COUNTER_KEY, id);
    setCounterIdState(id);
  };
  const [current, setCurrent] = useState<Ticket | undefined>();
  const [message, setMessage] = useState("");
  const act = useAction(async (what: "open" | "next" | "recall" | "skip" | "complete") => {
    setMessage("");
    switch (what) {
      case "open":
        await api.queue.openCounter({ queueId, counterId });
        setMessage(`Counter ${counterId} is open.`);
        return;
      case "next": {
        const res = await api.queue.callNext({ queueId, counterId });
        setCurrent(res.ticket);
        setMessage(res.ticket ? `Calling ${res.ticket.number} to counter ${counterId}.` : "Nobody is waiting.");
        return;
      }
      case "recall":
        setCurrent((await api.queue.recallTicket({ ticketId: current!.ticketId, counterId })).ticket);
        setMessage(`Recalled ${current!.number}.`);
        return;
      case "skip": {
        const t = (await api.queue.skipTicket({ ticketId: current!.ticketId, counterId })).ticket;
        setMessage(t?.status === TicketStatus.NO_SHOW ? `${current!.number} marked no-show.` : `${current!.number} skipped; it waits again.`);
        setCurrent(undefined);
        return;
      }
      case "complete":
        await api.queue.completeTicket({ ticketId: current!.ticketId, counterId });
        setMessage(`${current!.number} completed.`);
        setCurrent(undefined);
        return;
    }
  });
  return (
    <section className="panel counter" aria-labelledby="counter-h">
      <h2 id="counter-h">Counter</h2>
      <div className="row wrap">
        <label>
          Counter id
          <input id="counter" value={counterId} onChange={(e) => setCounterId(e.target.value)} size={6} />
        </label>
        <button type="button" disabled={act.pending} onClick={() => void act.run("open")}>
          Open counter
        </button>
      </div>
      <p className="current" aria-live="polite" data-testid="current-ticket">
        {current ? current.number : "—"}
      </p>
      <div className="row wrap">
        <button type="button" className="primary" id="call-next" disabled={act.pending} onClick={() => void act.run("next")}>
          Call next
        </button>
        <button type="button" disabled={act.pending || !current} onClick={() => void act.run("recall")}>
          Recall
        </button>
        <button type="button" disabled={act.pending || !current} onClick={() => void act.run("skip")}>
          No-show
        </button>
        <button type="button" disabled={act.pending || !current} onClick={() => void act.run("complete")}>
          Complete
        </button>
      </div>
      {act.error !== undefined && <ErrorBox error={act.error} what="The counter action" />}
      {message && !act.error && <Notice>{message}</Notice>}
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
          Patient id
          <input id="walkin-patient" value={patientId} onChange={(e) => setPatientId(e.target.value)} required placeholder="e.g. p-1234" />
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
      {issue.error !== undefined && <ErrorBox error={issue.error} what="Issuing the ticket" />}
      {issue.result && (
        <Notice>
          Ticket <strong data-testid="issued-number">{issue.result.number}</strong> issued
          {issue.result.position ? `, position ${issue.result.position}` : ""}.
        </Notice>
      )}
    </section>
  );
}

function TodayAppointments({ queueId, session }: { queueId: string; session: Session }) {
  const { start, end } = todayRange();
  // A doctor sees their own list only (their token's subject is their providerId).
  const ownOnly = session.roles.includes("doctor") && !session.roles.some((r) => r === "receptionist" || r === "admin");
  // ListAppointments is per provider: today's list is every provider's, merged by start time.
  const appts = useAsync(
    async (signal) => {
      const all = (await api.scheduling.listProviders({ pageSize: 100 }, { signal })).providers;
      const providers = ownOnly ? all.filter((p) => p.providerId === session.subject) : all;
      const lists = await Promise.all(
        providers.map((p) =>
          api.scheduling.listAppointments(
            { providerId: p.providerId, startTime: ts(start), endTime: ts(end), statuses: [AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN], pageSize: 100 },
            { signal },
          ),
        ),
      );
      const names = new Map(providers.map((p) => [p.providerId, p.displayName]));
      return lists
        .flatMap((l) => l.appointments)
        .sort((a, b) => (toDate(a.startTime)?.getTime() ?? 0) - (toDate(b.startTime)?.getTime() ?? 0))
        .map((a) => ({ a, provider: names.get(a.providerId) ?? a.providerId }));
    },
    [start.getTime(), ownOnly, session.subject],
    { pollMs: 10_000 },
  );
  const [notice, setNotice] = useState("");
  const checkIn = useAction(async (appointmentId: string) => {
    const res = await api.scheduling.checkInAppointment({ appointmentId, requestId: newRequestId(), queueId });
    setNotice(res.ticket ? `Checked in: ticket ${res.ticket.number}.` : "Checked in.");
    appts.reload();
  });
  return (
    <section className="panel" aria-labelledby="today-h">
      <h2 id="today-h">Today's appointments</h2>
      {appts.loading && !appts.data && <Loading />}
      {appts.error !== undefined && <ErrorBox error={appts.error} what="Loading today's appointments" onRetry={appts.reload} />}
      {appts.data && appts.data.length === 0 && <p className="muted">No appointments today.</p>}
      <ul className="cards" data-testid="today">
        {appts.data?.map(({ a, provider }) => (
          <li key={a.appointmentId} className="card" data-appointment={a.appointmentId}>
            <span>
              <strong>{fmtTime(toDate(a.startTime))}</strong> {provider}
              <br />
              <span className="muted small">patient {a.patientId}</span>
            </span>
            {a.status === AppointmentStatus.CHECKED_IN ? (
              <span className="badge ok">Checked in</span>
            ) : (
              <button type="button" disabled={checkIn.pending} onClick={() => void checkIn.run(a.appointmentId)}>
                Check in
              </button>
            )}
          </li>
        ))}
      </ul>
      {checkIn.error !== undefined && <ErrorBox error={checkIn.error} what="Check-in" />}
      {notice && !checkIn.error && <Notice>{notice}</Notice>}
    </section>
  );
}

function Waiting({ queueId }: { queueId: string }) {
  const tickets = useAsync(
    (signal) => api.queue.listTickets({ queueId, statuses: [TicketStatus.WAITING, TicketStatus.CALLED], pageSize: 100 }, { signal }),
    [queueId],
    { pollMs: 5_000 },
  );
  return (
    <section className="panel" aria-labelledby="waiting-h">
      <h2 id="waiting-h">In the queue</h2>
      {tickets.loading && !tickets.data && <Loading />}
      {tickets.error !== undefined && <ErrorBox error={tickets.error} what="Loading the queue" onRetry={tickets.reload} />}
      {tickets.data && tickets.data.tickets.length === 0 && <p className="muted">Nobody is waiting.</p>}
      <ol className="tickets">
        {tickets.data?.tickets.map((t) => (
          <li key={t.ticketId} className={t.status === TicketStatus.CALLED ? "called" : ""}>
            <strong>{t.number}</strong>{" "}
            <span className="muted small">
              {t.status === TicketStatus.CALLED ? `called to ${t.counterId}` : `waiting · ${TicketPriority[t.priority]?.toLowerCase() ?? ""}`}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
