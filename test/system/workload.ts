// A seeded clinic day driven through the gateway over gRPC: providers with weekly schedules,
// patients booking, cancelling and rescheduling their own appointments, walk-ins taking tickets,
// counters calling the next ticket and completing it, display boards watching WatchQueue. Every
// attempt of every request is recorded with its outcome (code, ids, timestamps) for the checker.
// Each actor draws from its own generator derived from the seed, so a run's decisions are the same
// every time (only their interleaving depends on timing).
import { durationFromMs, timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { DayOfWeek, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createGrpcJsTransport, type GrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { codeName } from "../../services/runtime/observability/metrics.js";
import { createRng as createSeededRng } from "../../services/queue/estimator.js";

/** Rng is a seeded generator of floats in [0, 1). */
export type Rng = () => number;

/** createRng returns the estimator's mulberry32 seeded from `seed` and `stream` (an actor name), so every actor has its own sequence. */
export function createRng(seed: number, stream = ""): Rng {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x85ebca6b) >>> 0;
  return createSeededRng(h);
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const between = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** RequestRecord is one attempt of one request and its outcome. */
export interface RequestRecord {
  /** seq orders the records by completion. */
  seq: number;
  /** actor that sent it ("patient-3", "counter-q1-c2", "setup", "probe", "fault"). */
  actor: string;
  /** rpc is "Service/Method" ("SchedulingService/BookAppointment"). */
  rpc: string;
  /** requestId sent, when the RPC has one. */
  requestId?: string;
  /** attempt is 1 for the first try, 2.. for retries with the same requestId. */
  attempt: number;
  /** start and end are epoch ms. */
  start: number;
  end: number;
  /** code is the canonical code name ("OK", "ABORTED", ...). */
  code: string;
  /** message of the error ("" on success). */
  message: string;
  providerId?: string;
  patientId?: string;
  appointmentId?: string;
  /** previousAppointmentId is the appointment a reschedule cancelled (or the one targeted). */
  previousAppointmentId?: string;
  /** slotStart is the appointment's start (epoch ms) in the response. */
  slotStart?: number;
  /** status of the appointment or ticket in the response (enum number). */
  status?: number;
  /** fencingToken of the response's appointment or lease (decimal string). */
  fencingToken?: string;
  queueId?: string;
  ticketId?: string;
  /** number is the ticket number ("A-042"). */
  number?: string;
  counterId?: string;
  /** resource and leaseId of a lock call. */
  resource?: string;
  leaseId?: string;
  /** empty is true for a CallNext that found the queue empty. */
  empty?: boolean;
  /** messages counts the messages a stream delivered (streams only). */
  messages?: number;
}

/** RequestLog collects the records of a run, plus anomalies seen by the clients themselves. */
export class RequestLog {
  /** records in completion order. */
  readonly records: RequestRecord[] = [];
  /** anomalies are client-side observations that break a contract (e.g. a stream sequence going back). */
  readonly anomalies: string[] = [];
  private seq = 0;

  /** add appends a record. */
  add(r: Omit<RequestRecord, "seq">): RequestRecord {
    const rec = { ...r, seq: this.seq++ };
    this.records.push(rec);
    return rec;
  }
}

/** RETRYABLE are the codes on which the workload's clients retry (with the same requestId). */
export const RETRYABLE: ReadonlySet<string> = new Set(["UNAVAILABLE", "ABORTED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"]);

/** WorkloadOptions size the clinic. */
export interface WorkloadOptions {
  /** gatewayAddress is "host:port" of the gateway (gRPC, h2c). */
  gatewayAddress: string;
  /** secret signs the actors' tokens. */
  secret: string;
  /** seed makes every decision reproducible. */
  seed: number;
  /** providers to create (default 6). */
  providers?: number;
  /** patients booking concurrently (default 10). */
  patients?: number;
  /** queues (default 2), each with `countersPerQueue` counters (default 2) and one display board. */
  queues?: number;
  countersPerQueue?: number;
  /** walkInDesks issuing tickets concurrently (default 2). */
  walkInDesks?: number;
  /** lockers take turns, two to a lock, on shared locks through the gateway, holding each a moment (default 2). */
  lockers?: number;
  /** days of the booking horizon (default 14), starting tomorrow (UTC). */
  days?: number;
  /** timeoutMs is every call's deadline (default 15 s). */
  timeoutMs?: number;
  /** thinkMs is the pause between one actor's operations, [min, max] (default [100, 500]). */
  thinkMs?: [number, number];
}

/** Clinic is what setup created. */
export interface Clinic {
  providerIds: string[];
  queueIds: string[];
  /** counters per queue id. */
  counters: Map<string, string[]>;
  /** probeProviderId and probeQueueId are kept for the recovery probes (no workload traffic). */
  probeProviderId: string;
  probeQueueId: string;
  /** firstDay is the start (epoch ms, UTC midnight) of the booking horizon. */
  firstDay: number;
}

/** Workload is a running workload. */
export interface Workload {
  log: RequestLog;
  clinic: Clinic;
  /** stop ends the actors (no new operations; in-flight calls finish) and resolves when all have. */
  stop(): Promise<void>;
  /** probe runs one round of recovery probes; resolves with the code of each kind. */
  probe(): Promise<{ book: string; issueTicket: string; callNext: string }>;
  /** lock is a LockService client through the gateway as admin, for the lock faults. */
  lock: Client<typeof LockService>;
  /** adminHeaders are the headers of an admin caller. */
  adminHeaders: Record<string, string>;
  /** close closes the transport (after stop). */
  close(): void;
}

type Clients = { scheduling: Client<typeof SchedulingService>; queue: Client<typeof QueueService>; lock: Client<typeof LockService> };

const DAY_MS = 86_400_000;
const SLOT_MS = 15 * 60_000;
const ZONES = ["UTC", "Europe/Istanbul", "America/New_York", "Asia/Tokyo", "Europe/Berlin"];
const ms = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : undefined);

/** Caller sends requests as one actor and records every attempt. */
class Caller {
  constructor(
    private readonly log: RequestLog,
    readonly actor: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number,
    private readonly stopped: () => boolean,
  ) {}

  /** once makes one attempt and records it. */
  async once<T>(base: Partial<RequestRecord> & { rpc: string }, attempt: number, fn: (o: CallOptions) => Promise<T>, fill: (res: T) => Partial<RequestRecord>): Promise<{ res?: T; code: string }> {
    const start = Date.now();
    try {
      const res = await fn({ headers: this.headers, timeoutMs: this.timeoutMs });
      this.log.add({ actor: this.actor, attempt, start, end: Date.now(), code: "OK", message: "", ...base, ...fill(res) });
      return { res, code: "OK" };
    } catch (err) {
      const ce = ConnectError.from(err);
      const code = codeName(ce.code);
      this.log.add({ actor: this.actor, attempt, start, end: Date.now(), code, message: ce.rawMessage.slice(0, 300), ...base });
      return { code };
    }
  }

  /** call retries on RETRYABLE codes with backoff (same request, so the same requestId), up to `tries` attempts, until stopped. */
  async call<T>(base: Partial<RequestRecord> & { rpc: string }, fn: (o: CallOptions) => Promise<T>, fill: (res: T) => Partial<RequestRecord> = () => ({}), tries = 8): Promise<{ res?: T; code: string }> {
    let out: { res?: T; code: string } = { code: "UNKNOWN" };
    for (let attempt = 1; attempt <= tries; attempt++) {
      out = await this.once(base, attempt, fn, fill);
      if (!RETRYABLE.has(out.code) || attempt === tries || (this.stopped() && attempt >= 2)) return out;
      await sleep(Math.min(150 * 2 ** (attempt - 1), 2_000));
    }
    return out;
  }
}

const apptFields = (a: Appointment | undefined): Partial<RequestRecord> =>
  a
    ? { appointmentId: a.appointmentId, providerId: a.providerId, patientId: a.patientId, slotStart: ms(a.startTime), status: a.status, fencingToken: a.fencingToken.toString() }
    : {};

/** startWorkload sets the clinic up (through the gateway, as admin) and starts every actor. */
export async function startWorkload(opts: WorkloadOptions): Promise<Workload> {
  const nProviders = opts.providers ?? 6;
  const nPatients = opts.patients ?? 10;
  const nQueues = opts.queues ?? 2;
  const nCounters = opts.countersPerQueue ?? 2;
  const nDesks = opts.walkInDesks ?? 2;
  const nLockers = opts.lockers ?? 2;
  const days = opts.days ?? 14;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const [thinkMin, thinkMax] = opts.thinkMs ?? [100, 500];
  const seed = opts.seed;
  const log = new RequestLog();
  const transport: GrpcJsTransport = createGrpcJsTransport({ addresses: [opts.gatewayAddress] });
  const clients: Clients = { scheduling: createClient(SchedulingService, transport), queue: createClient(QueueService, transport), lock: createClient(LockService, transport) };
  let stopped = false;
  const isStopped = () => stopped;
  const bearer = async (subject: string, roles: Role[]) => ({ authorization: `Bearer ${await signToken(opts.secret, subject, roles, { ttlSeconds: 7 * 86_400 })}` });
  const adminHeaders = await bearer(`admin-${seed}`, ["admin"]);
  const receptionHeaders = await bearer(`reception-${seed}`, ["receptionist"]);
  const displayHeaders = await bearer(`display-${seed}`, ["display"]);
  const setup = new Caller(log, "setup", adminHeaders, timeoutMs, () => false);
  const must = async <T>(what: string, r: Promise<{ res?: T; code: string }>): Promise<T> => {
    const out = await r;
    if (out.res === undefined) throw new Error(`workload setup: ${what} failed with ${out.code}`);
    return out.res;
  };

  // The clinic: providers with weekly hours and a lunch break, queues with counters.
  const now = Date.now();
  const firstDay = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  const allDays = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY, DayOfWeek.SATURDAY, DayOfWeek.SUNDAY];
  const setupRng = createRng(seed, "setup");
  const providerIds: string[] = [];
  for (let i = 0; i <= nProviders; i++) {
    const providerId = i === nProviders ? `probe-provider-${seed}` : `provider-${seed}-${i}`;
    const timeZone = i === nProviders ? "UTC" : pick(setupRng, ZONES);
    await must(
      "CreateProvider",
      setup.call({ rpc: "SchedulingService/CreateProvider", providerId }, (o) => clients.scheduling.createProvider({ providerId, displayName: `Dr ${i}`, timeZone, specialty: "general" }, o)),
    );
    const start = between(setupRng, 7, 9);
    await must(
      "SetAvailability",
      setup.call({ rpc: "SchedulingService/SetAvailability", providerId }, (o) =>
        clients.scheduling.setAvailability(
          {
            providerId,
            weeklyHours: allDays.map((d) => ({ dayOfWeek: d, startTime: `0${start}:00`, endTime: "18:00" })),
            breaks: allDays.map((d) => ({ dayOfWeek: d, startTime: "12:00", endTime: "13:00" })),
            slotDuration: durationFromMs(SLOT_MS),
            buffer: durationFromMs(0),
          },
          o,
        ),
      ),
    );
    if (i < nProviders) providerIds.push(providerId);
  }
  const queueIds: string[] = [];
  const counters = new Map<string, string[]>();
  for (let i = 0; i <= nQueues; i++) {
    const queueId = i === nQueues ? `probe-queue-${seed}` : `queue-${seed}-${i}`;
    const prefix = i === nQueues ? "P" : String.fromCharCode(65 + i);
    await must("CreateQueue", setup.call({ rpc: "QueueService/CreateQueue", queueId }, (o) => clients.queue.createQueue({ queueId, displayName: `Queue ${prefix}`, prefix, timeZone: "UTC" }, o)));
    const ids = i === nQueues ? ["probe"] : Array.from({ length: nCounters }, (_, c) => `c${c + 1}`);
    for (const counterId of ids) {
      await must("OpenCounter", setup.call({ rpc: "QueueService/OpenCounter", queueId, counterId }, (o) => clients.queue.openCounter({ queueId, counterId }, o)));
    }
    if (i < nQueues) {
      queueIds.push(queueId);
      counters.set(queueId, ids);
    }
  }
  const clinic: Clinic = { providerIds, queueIds, counters, probeProviderId: `probe-provider-${seed}`, probeQueueId: `probe-queue-${seed}`, firstDay };

  /** freeSlots lists a provider's free slots on one day of the horizon. */
  const freeSlots = async (c: Caller, providerId: string, day: number) => {
    const startTime = timestampFromMs(firstDay + day * DAY_MS);
    const endTime = timestampFromMs(firstDay + (day + 1) * DAY_MS);
    const out = await c.call({ rpc: "SchedulingService/ListAvailableSlots", providerId }, (o) => clients.scheduling.listAvailableSlots({ providerId, startTime, endTime, duration: durationFromMs(SLOT_MS) }, o), () => ({}), 3);
    return (out.res?.slots ?? []).map((s) => ms(s.startTime)!);
  };

  // A patient books, cancels, reschedules and reads their own appointments, as themselves.
  const patient = async (i: number) => {
    const patientId = `patient-${seed}-${i}`;
    const actor = `patient-${i}`;
    const rng = createRng(seed, actor);
    const c = new Caller(log, actor, await bearer(patientId, ["patient"]), timeoutMs, isStopped);
    const mine: { appointmentId: string; providerId: string }[] = [];
    let n = 0;
    while (!stopped) {
      const r = rng();
      if (r < 0.55 || mine.length === 0) {
        const providerId = pick(rng, providerIds);
        const slots = await freeSlots(c, providerId, between(rng, 0, days - 1));
        if (slots.length > 0) {
          // Often the earliest slot: patients compete for it, as in a morning rush.
          const slot = rng() < 0.4 ? slots[0] : pick(rng, slots);
          const requestId = `${actor}-book-${n++}`;
          const out = await c.call({ rpc: "SchedulingService/BookAppointment", requestId, providerId, patientId }, (o) =>
            clients.scheduling.bookAppointment({ requestId, providerId, patientId, startTime: timestampFromMs(slot), duration: durationFromMs(SLOT_MS), reason: "checkup" }, o),
            (res) => apptFields(res.appointment),
          );
          if (out.res?.appointment) mine.push({ appointmentId: out.res.appointment.appointmentId, providerId });
        }
      } else if (r < 0.7) {
        const [target] = mine.splice(Math.floor(rng() * mine.length), 1);
        const requestId = `${actor}-cancel-${n++}`;
        await c.call({ rpc: "SchedulingService/CancelAppointment", requestId, previousAppointmentId: target.appointmentId, providerId: target.providerId }, (o) =>
          clients.scheduling.cancelAppointment({ appointmentId: target.appointmentId, requestId, reason: "cannot come" }, o),
          (res) => apptFields(res.appointment),
        );
      } else if (r < 0.85) {
        const idx = Math.floor(rng() * mine.length);
        const target = mine[idx];
        const slots = await freeSlots(c, target.providerId, between(rng, 0, days - 1));
        if (slots.length > 0) {
          const requestId = `${actor}-reschedule-${n++}`;
          const newStart = pick(rng, slots);
          const out = await c.call({ rpc: "SchedulingService/RescheduleAppointment", requestId, previousAppointmentId: target.appointmentId, providerId: target.providerId }, (o) =>
            clients.scheduling.rescheduleAppointment({ appointmentId: target.appointmentId, requestId, newStartTime: timestampFromMs(newStart) }, o),
            (res) => apptFields(res.appointment),
          );
          // Whatever the outcome, a failed reschedule may have happened (unknown): forget it unless acknowledged.
          if (out.res?.appointment) mine[idx] = { appointmentId: out.res.appointment.appointmentId, providerId: target.providerId };
          else if (out.code !== "FAILED_PRECONDITION") mine.splice(idx, 1);
        }
      } else {
        await c.call({ rpc: "SchedulingService/ListAppointments", patientId }, (o) => clients.scheduling.listAppointments({ patientId, pageSize: 50 }, o), () => ({}), 2);
      }
      await sleep(between(rng, thinkMin, thinkMax));
    }
  };

  // A reception desk issues tickets to walk-ins.
  const desk = async (i: number) => {
    const actor = `desk-${i}`;
    const rng = createRng(seed, actor);
    const c = new Caller(log, actor, receptionHeaders, timeoutMs, isStopped);
    let n = 0;
    while (!stopped) {
      const queueId = pick(rng, queueIds);
      const p = rng();
      const priority = p < 0.05 ? TicketPriority.URGENT : p < 0.25 ? TicketPriority.PRIORITY : TicketPriority.ROUTINE;
      const requestId = `${actor}-ticket-${n}`;
      const patientId = `walkin-${seed}-${i}-${n++}`;
      await c.call({ rpc: "QueueService/IssueTicket", requestId, queueId, patientId }, (o) => clients.queue.issueTicket({ requestId, queueId, patientId, priority }, o), (res) => ({
        ticketId: res.ticket?.ticketId,
        number: res.ticket?.number,
        status: res.ticket?.status,
      }));
      await sleep(between(rng, thinkMin * 2, thinkMax * 2));
    }
  };

  // A counter calls the next ticket, serves it a moment, completes it.
  const counter = async (queueId: string, counterId: string) => {
    const actor = `counter-${queueId}-${counterId}`;
    const rng = createRng(seed, actor);
    const c = new Caller(log, actor, receptionHeaders, timeoutMs, isStopped);
    while (!stopped) {
      const out = await c.call({ rpc: "QueueService/CallNext", queueId, counterId }, (o) => clients.queue.callNext({ queueId, counterId }, o), (res) => ({
        ticketId: res.ticket?.ticketId,
        number: res.ticket?.number,
        status: res.ticket?.status,
        empty: res.ticket === undefined,
      }));
      const ticket = out.res?.ticket;
      if (!ticket) {
        await sleep(between(rng, thinkMin, thinkMax));
        continue;
      }
      await sleep(between(rng, thinkMin, thinkMax));
      // Completing always, even when stopping: a counter does not walk away from a called ticket.
      const done = await c.call({ rpc: "QueueService/CompleteTicket", queueId, counterId, ticketId: ticket.ticketId }, (o) => clients.queue.completeTicket({ ticketId: ticket.ticketId, counterId }, o), (res) => ({
        status: res.ticket?.status,
      }), 20);
      if (done.code !== "OK" && done.code !== "FAILED_PRECONDITION") await sleep(1_000);
    }
  };

  // A locker takes the lock it shares with one other locker (waiting up to 2 s), holds it a moment and gives it back:
  // the lock wait a client sees, under faults too. No retries: a refused acquire is the datum.
  const locker = async (i: number) => {
    const actor = `locker-${i}`;
    const rng = createRng(seed, actor);
    const c = new Caller(log, actor, adminHeaders, timeoutMs, isStopped);
    const resource = `workload-${seed}-shared-${Math.floor(i / 2)}`;
    while (!stopped) {
      const got = await c.once({ rpc: "LockService/Acquire", resource }, 1, (o) => clients.lock.acquire({ resource, owner: actor, ttl: durationFromMs(3_000), waitTimeout: durationFromMs(2_000) }, o), (res) => ({
        leaseId: res.lease?.leaseId,
        fencingToken: res.lease?.fencingToken.toString(),
      }));
      const leaseId = got.res?.lease?.leaseId;
      if (leaseId) {
        await sleep(between(rng, 20, 60));
        await c.once({ rpc: "LockService/Release", resource, leaseId }, 1, (o) => clients.lock.release({ resource, leaseId }, o), () => ({}));
      }
      await sleep(between(rng, thinkMin / 2, thinkMax / 2));
    }
  };

  // A display board watches a queue, resuming after its last sequence when the stream breaks.
  const display = async (queueId: string, signal: AbortSignal) => {
    const actor = `display-${queueId}`;
    let after = 0n;
    while (!stopped) {
      const start = Date.now();
      let messages = 0;
      let code = "OK";
      let message = "";
      try {
        for await (const m of clients.queue.watchQueue({ queueId, afterSequence: after }, { headers: displayHeaders, signal })) {
          messages++;
          if (!m.snapshot && m.sequence <= after) log.anomalies.push(`${actor}: sequence ${m.sequence} after ${after} without a snapshot`);
          if (m.sequence > after || m.snapshot) after = m.sequence;
          for (const t of m.tickets) if (t.patientId !== "") log.anomalies.push(`${actor}: a display saw patient id of ticket ${t.ticketId}`);
        }
      } catch (err) {
        const ce = ConnectError.from(err);
        code = signal.aborted ? "CANCELLED_BY_CLIENT" : codeName(ce.code);
        message = ce.rawMessage.slice(0, 300);
      }
      log.add({ actor, rpc: "QueueService/WatchQueue", attempt: 1, start, end: Date.now(), code, message, queueId, messages });
      if (!stopped) await sleep(500);
    }
  };

  const streams = new AbortController();
  const running: Promise<void>[] = [];
  for (let i = 0; i < nPatients; i++) running.push(patient(i));
  for (let i = 0; i < nDesks; i++) running.push(desk(i));
  for (let i = 0; i < nLockers; i++) running.push(locker(i));
  for (const q of queueIds) for (const cid of counters.get(q)!) running.push(counter(q, cid));
  for (const q of queueIds) running.push(display(q, streams.signal));
  const all = Promise.all(running.map((p) => p.catch((err) => log.anomalies.push(`actor crashed: ${(err as Error).stack ?? err}`))));

  // The recovery probes: a booking on the probe provider, a ticket on the probe queue and a call at its counter.
  const probeRng = createRng(seed, "probe");
  let probeN = 0;
  const prober = new Caller(log, "probe", receptionHeaders, 5_000, () => true);
  const probe = async () => {
    const n = probeN++;
    const bookP = (async () => {
      const day = between(probeRng, 0, days - 1);
      const slots = await freeSlots(prober, clinic.probeProviderId, day);
      if (slots.length === 0) return "OK";
      const requestId = `probe-book-${n}`;
      const out = await prober.once({ rpc: "SchedulingService/BookAppointment", requestId, providerId: clinic.probeProviderId, patientId: "probe-patient" }, 1, (o) =>
        clients.scheduling.bookAppointment({ requestId, providerId: clinic.probeProviderId, patientId: "probe-patient", startTime: timestampFromMs(pick(probeRng, slots)), duration: durationFromMs(SLOT_MS) }, o),
        (res) => apptFields(res.appointment),
      );
      return out.code;
    })();
    const ticketP = (async () => {
      const requestId = `probe-ticket-${n}`;
      const out = await prober.once({ rpc: "QueueService/IssueTicket", requestId, queueId: clinic.probeQueueId, patientId: "probe-patient" }, 1, (o) =>
        clients.queue.issueTicket({ requestId, queueId: clinic.probeQueueId, patientId: "probe-patient", priority: TicketPriority.ROUTINE }, o),
        (res) => ({ ticketId: res.ticket?.ticketId, number: res.ticket?.number }),
      );
      return out.code;
    })();
    const callP = (async () => {
      const out = await prober.once({ rpc: "QueueService/CallNext", queueId: clinic.probeQueueId, counterId: "probe" }, 1, (o) => clients.queue.callNext({ queueId: clinic.probeQueueId, counterId: "probe" }, o), (res) => ({
        ticketId: res.ticket?.ticketId,
        number: res.ticket?.number,
        empty: res.ticket === undefined,
      }));
      if (out.res?.ticket) {
        const ticketId = out.res.ticket.ticketId;
        await prober.once({ rpc: "QueueService/CompleteTicket", queueId: clinic.probeQueueId, counterId: "probe", ticketId }, 1, (o) => clients.queue.completeTicket({ ticketId, counterId: "probe" }, o), () => ({}));
      }
      return out.code;
    })();
    const [book, issueTicket, callNext] = await Promise.all([bookP, ticketP, callP]);
    return { book, issueTicket, callNext };
  };

  return {
    log,
    clinic,
    lock: clients.lock,
    adminHeaders,
    probe,
    async stop() {
      stopped = true;
      streams.abort();
      await all;
    },
    close: () => transport.close(),
  };
}

/** isAnswered tells whether a code means the system served the request (a business answer, not a fault). */
export function isAnswered(code: string): boolean {
  return code === "OK" || code === "FAILED_PRECONDITION" || code === "ALREADY_EXISTS";
}
