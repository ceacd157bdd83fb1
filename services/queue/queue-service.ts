import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { TicketPriority, TicketPrioritySchema, type CounterSchema } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  IssueTicketResponseSchema,
  QueueService,
  type CallNextRequest,
  type CallNextResponseSchema,
  type CancelTicketRequest,
  type CancelTicketResponseSchema,
  type CloseCounterRequest,
  type CloseCounterResponseSchema,
  type CompleteTicketRequest,
  type CompleteTicketResponseSchema,
  type CreateQueueRequest,
  type CreateQueueResponseSchema,
  type GetQueueRequest,
  type GetQueueResponseSchema,
  type GetTicketRequest,
  type GetTicketResponseSchema,
  type IssueTicketRequest,
  type IssueTicketResponse,
  type ListQueuesRequest,
  type ListQueuesResponseSchema,
  type ListTicketsRequest,
  type ListTicketsResponseSchema,
  type MarkTicketNoShowRequest,
  type MarkTicketNoShowResponseSchema,
  type OpenCounterRequest,
  type OpenCounterResponseSchema,
  type RecallTicketRequest,
  type RecallTicketResponseSchema,
  type SkipTicketRequest,
  type SkipTicketResponseSchema,
  type TransferTicketRequest,
  type TransferTicketResponseSchema,
  type WatchQueueRequest,
  type WatchQueueResponseSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { ChangeFeed, type FeedItem } from "../runtime/change-feed.js";
import { createNotifier, type Notifier } from "../runtime/notifier.js";
import { auditBase, auditEntries, type NewAuditLogRow } from "../runtime/audit.js";
import { callerOf as runtimeCallerOf, isTrustedCaller, type Caller as RuntimeCaller } from "../runtime/caller.js";
import { replayStored, requestHash, RequestInProgressError } from "../runtime/idempotency.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { AbortedError, InvalidArgumentError } from "../runtime/errors.js";
import { isUniqueViolation } from "../runtime/db/pg-errors.js";
import type { Logger } from "../runtime/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { ChangeRow } from "./db/change.table.js";
import type { CounterRow } from "./db/counter.table.js";
import type { Database, Db } from "./db/database.js";
import type { QueueRow } from "./db/queue.table.js";
import type { NewTicketRow, TicketPriorityName, TicketRow, TicketStatusName, TicketUpdate } from "./db/ticket.table.js";
import { createChangeSequencer, type ChangeSequencer } from "./change-sequencer.js";
import { calibrate, calibrationFloorMs, simulateWaits, type Estimate } from "./estimator.js";
import { localDay } from "./local-time.js";
import { toCounter, toQueue } from "./mappers/queue.mapper.js";
import { priorityName, statusName, toTicketInit, type TicketView } from "./mappers/ticket.mapper.js";
import { queueNoShows, queueTransfers, queueWait, reportQueueLengthOf } from "./queue.metrics.js";
import { DEFAULT_QUEUE_OPTIONS, type QueueOptions } from "./queue-options.js";
import {
  AppointmentTicketNotAllowedError,
  CheckInNotOpenError,
  CounterBusyError,
  CounterNotFoundError,
  CounterNotOpenError,
  NoAppointmentError,
  PatientInQueueError,
  PatientPriorityError,
  PrefixInUseError,
  QueueExistsError,
  QueueNotFoundError,
  TicketChangedError,
  TicketEndedError,
  TicketNotCalledError,
  TicketNotCalledHereError,
  TicketNotFoundError,
} from "./queue.errors.js";
import { checkInTiming, rankTickets, rankTime } from "./ranking.js";
import { appendChange, changesAfter, pruneChanges, QUEUE_CHANGES_CHANNEL, retainedRange } from "./repositories/change.repository.js";
import { readQueueState, type QueueState } from "./repositories/queue-state.repository.js";
import { closeCounterRow, findCounter, listCounters, openCounterRow } from "./repositories/counter.repository.js";
import { findPrefixOwner, findQueue, findQueues, insertQueue, listQueues } from "./repositories/queue.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { insertRequestKey, REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { nextDayNumber } from "./repositories/ticket-day.repository.js";
import {
  callNextAtomic,
  findActiveForAppointment,
  findActiveOfPatient,
  findCalledAt,
  findTicket,
  findTickets,
  insertIssuedTicket,
  insertTicket,
  listActive,
  listEnded,
  nextWaiting,
  takeDayNumber,
  updateCalledTicket,
  updateTicketIf,
  type AuditActor,
} from "./repositories/ticket.repository.js";
import {
  validateCallNext,
  validateCancelTicket,
  validateCloseCounter,
  validateCompleteTicket,
  validateCreateQueue,
  validateGetQueue,
  validateGetTicket,
  validateIssueTicket,
  validateListQueues,
  validateListTickets,
  validateMarkTicketNoShow,
  validateOpenCounter,
  validateRecallTicket,
  validateSkipTicket,
  validateTransferTicket,
  validateWatchQueue,
} from "./queue.validation.js";

/** QueueServiceDeps are what the QueueService needs from its process; tests pass a fake clock. */
export interface QueueServiceDeps {
  /** db is the service database (Postgres or PGlite), migrated. */
  db: Kysely<any>;
  /** clock tells the time (default: the system clock). */
  clock?: Clock;
  /** logger reports background trouble (WatchQueue's listener). */
  logger?: Logger;
  /** config gives the database URL, for a LISTEN connection on real Postgres. */
  config?: { databaseUrl?: string };
  /** pageTokens seal the List RPCs' page tokens (default: a random key of this process). */
  pageTokens?: PageTokens;
}

/** QueueServiceOptions tune the service; defaults in DEFAULT_QUEUE_OPTIONS. */
export interface QueueServiceOptions extends Partial<QueueOptions> {
  /** pollIntervalMs is WatchQueue's safety-net poll of the change log (default 1000 ms). */
  pollIntervalMs?: number;
  /** listen turns the Postgres LISTEN connection off with false (default: on when a database URL is known). */
  listen?: boolean;
  /** sweepIntervalMs is how often pending changes (left by a process that died) are stamped (default 1000 ms; 0: never). */
  sweepIntervalMs?: number;
  /** stampAfterCommit false leaves stamping to the sweep (tests: a process that dies after its commit). */
  stampAfterCommit?: boolean;
}

/** Caller is the caller of a call as the queue service uses it. */
interface Caller extends RuntimeCaller {
  /** hidesPatients: patients and displays see no other patient's ids. */
  hidesPatients: boolean;
  /**
   * trusted: the service role (another service, e.g. scheduling's check-in), or a call with no
   * principal (in-process, without the auth interceptor). Only it issues tickets for appointments.
   */
  trusted: boolean;
}

/** WatchChange is one change as the feed shares it among watchers. */
interface WatchChange {
  ticket?: { row: TicketRow; position: number; estimate?: Estimate };
  counter?: MessageInitShape<typeof CounterSchema>;
}

/** QueueView is a consistent read of a queue's live state with ranks and estimates. */
interface QueueView {
  queue: QueueRow;
  called: TicketRow[];
  waiting: TicketRow[];
  counters: CounterRow[];
  position: Map<string, number>;
  estimate: (row: TicketRow) => Estimate;
}

type WatchResponse = MessageInitShape<typeof WatchQueueResponseSchema>;
/** CounterChange is what a counter action (atCounter) changes on a called ticket. */
type CounterChange = Pick<TicketUpdate, "status" | "recall_count" | "skip_count" | "counter_id" | "ended_at" | "yields_to" | "yields_to_skips">;

const SERVICE_SAMPLE_SIZE = 50;
const CALIBRATION_SAMPLE_SIZE = 400;
/**
 * SAMPLES_MAX_AGE_MS is how long (by the service's clock) a queue's estimator samples (its last 50
 * service times, 400 waits) are reused: reading and sorting them was a fifth of a busy queue's cost
 * per ticket, and the second's few newest samples barely move estimates made of hundreds.
 */
const SAMPLES_MAX_AGE_MS = 1_000;
const CALIBRATION_PER_CLASS = 200;
const PRUNE_INTERVAL_MS = 60_000;
const FINAL_STATES: TicketStatusName[] = ["COMPLETED", "NO_SHOW", "CANCELLED", "TRANSFERRED"];

/** A ticket not inserted yet ranks after every inserted one among equals. */
const NEW_TICKET_SEQ = "9223372036854775807";

function withoutSeq(row: TicketRow): NewTicketRow {
  const { seq: _seq, ...rest } = row;
  return rest;
}

function formatNumber(prefix: string, n: number): string {
  return `${prefix}-${String(n).padStart(3, "0")}`;
}

function callerOf(ctx: HandlerContext): Caller {
  const caller = runtimeCallerOf(ctx);
  return { ...caller, hidesPatients: caller.role === "patient" || caller.role === "display", trusted: isTrustedCaller(caller) };
}

/**
 * checkTicketRequest refuses what a caller could use to get ahead of others (PERMISSION_DENIED). A
 * ticket that names an appointment (its id, its time, or the APPOINTMENT class, which ranks by that
 * time) comes only from the service role: scheduling's CheckInAppointment, which reads the appointment
 * (it exists, it is BOOKED, it is inside its check-in window) and passes its booked start. Staff check
 * the patient in from the appointment; they issue URGENT, PRIORITY and ROUTINE walk-ins. Patients take
 * ROUTINE tickets only. An unknown priority is left to validation (INVALID_ARGUMENT).
 */
function checkTicketRequest(req: IssueTicketRequest, caller: Caller): void {
  if (caller.trusted) return;
  const who = caller.role === "patient" ? "patient" : "staff";
  if (who === "patient") {
    const priority = TicketPrioritySchema.values.find((x) => x.number === req.priority);
    if (priority && req.priority !== TicketPriority.UNSPECIFIED && req.priority !== TicketPriority.ROUTINE) throw new PatientPriorityError(priority.name);
  } else if (req.priority === TicketPriority.APPOINTMENT) {
    throw new AppointmentTicketNotAllowedError("priority", who);
  }
  if (req.appointmentId !== "") throw new AppointmentTicketNotAllowedError("appointmentId", who);
  if (req.appointmentTime !== undefined) throw new AppointmentTicketNotAllowedError("appointmentTime", who);
}

/** heldBy is the active ticket a patient holds among a queue's active ones: their walk-in, else an appointment's. */
function heldBy(active: readonly TicketRow[], patientId: string): TicketRow | undefined {
  const theirs = active.filter((t) => t.patient_id === patientId);
  return theirs.find((t) => t.appointment_id === null) ?? theirs.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1))[0];
}

function hides(caller: Caller, row: TicketRow): boolean {
  return caller.hidesPatients && row.patient_id !== caller.subject;
}

/** QUEUES_PAGE is ListQueues' page token: the queues after (display name, id). */
export const QUEUES_PAGE = definePageKind(QueueService.method.listQueues, { displayName: "text", queueId: "text" });
/** TICKETS_PAGE is ListTickets' page token: an offset into the queue's order, bound to the queue and statuses. */
export const TICKETS_PAGE = definePageKind(QueueService.method.listTickets, { offset: "offset" });

function notCalledHere(row: TicketRow, counterId: string): TicketNotCalledError | TicketNotCalledHereError {
  return row.status !== "CALLED" ? new TicketNotCalledError(row, counterId) : new TicketNotCalledHereError(row, counterId);
}

/**
 * QueueServiceImpl serves medschedule.queue.v1.QueueService: queues and counters, tickets with fair
 * priorities (ranking.ts), atomic CallNext, wait estimates (estimator.ts) and live WatchQueue streams
 * (runtime/change-feed.ts). All state is in Postgres; replicas share it.
 */
export class QueueServiceImpl implements ServiceImpl<typeof QueueService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly pageTokens: PageTokens;
  private readonly options: QueueOptions;
  private readonly feed: ChangeFeed<WatchChange, ChangeRow>;
  private readonly notifier: Notifier;
  /** samples are each queue's latest estimator samples and when (service clock, ms) they were read. */
  private readonly samples = new Map<string, { at: number; serviceTimesMs: number[]; waits: QueueState["waits"] }>();
  private readonly sequencer: ChangeSequencer;
  private readonly stampAfterCommit: boolean;
  private readonly unregisterMetrics: () => void;
  private lastPrune = 0;

  constructor(deps: QueueServiceDeps, options: QueueServiceOptions = {}) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.options = { ...DEFAULT_QUEUE_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.feed = new ChangeFeed<WatchChange, ChangeRow>({
      name: "queue",
      channel: QUEUE_CHANGES_CHANNEL,
      changesAfter: (queueId, after, limit) => changesAfter(this.db, queueId, after, limit),
      latestSequences: async (queueIds) => new Map((await findQueues(this.db, queueIds)).map((q) => [q.queue_id, BigInt(q.last_sequence)])),
      load: (queueId, rows) => this.loadChanges(queueId, rows),
      logger: deps.logger,
      listenUrl: options.listen === false ? undefined : deps.config?.databaseUrl,
      pollIntervalMs: options.pollIntervalMs,
    });
    this.notifier = createNotifier(this.db, QUEUE_CHANGES_CHANNEL, deps.logger);
    // Changes get their sequences after the commit (change-sequencer.ts says why that is safe); once
    // stamped, local watchers are woken and other replicas notified.
    this.sequencer = createChangeSequencer({
      db: this.db,
      logger: deps.logger,
      sweepIntervalMs: options.sweepIntervalMs ?? options.pollIntervalMs,
      stamped: (queueId) => {
        this.feed.poke(queueId);
        this.notifier.notify(queueId);
      },
    });
    this.stampAfterCommit = options.stampAfterCommit !== false;
    this.unregisterMetrics = reportQueueLengthOf(this.db);
  }

  /** close stops WatchQueue's listener and the change sequencer and ends open streams (the database stays open). */
  async close(): Promise<void> {
    this.unregisterMetrics();
    await this.sequencer.close();
    await this.notifier.flush();
    await this.feed.close();
  }

  /** settleChanges stamps a queue's committed changes now (tests; the sweep and the writers do it otherwise). */
  async settleChanges(queueId?: string): Promise<void> {
    if (queueId === undefined) await this.sequencer.sweep();
    else await this.sequencer.settle(queueId);
  }

  // ---- queues and counters ----------------------------------------------------------------------

  /**
   * createQueue adds a queue; with a client-chosen id, a retry returns the existing queue. A ticket
   * prefix belongs to one queue (queues_one_owner_per_prefix): FAILED_PRECONDITION PREFIX_IN_USE,
   * naming the queue that has it, when another queue uses it.
   */
  async createQueue(req: CreateQueueRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreateQueueResponseSchema>> {
    const v = validateCreateQueue(req);
    const queueId = v.queueId ?? `q-${randomUUID()}`;
    let inserted: QueueRow | undefined;
    let prefixTaken = false;
    try {
      inserted = await insertQueue(this.db, {
        queue_id: queueId,
        display_name: v.displayName,
        prefix: v.prefix,
        time_zone: v.timeZone,
        created_at: this.clock.now(),
      });
    } catch (err) {
      // The prefix's owner, or the same id being created concurrently (the id is checked first below).
      if (!isUniqueViolation(err, "queues_one_owner_per_prefix")) throw err;
      prefixTaken = true;
    }
    if (inserted) return { queue: toQueue(inserted) };
    const existing = await findQueue(this.db, queueId);
    if (!existing) {
      if (prefixTaken) throw new PrefixInUseError(v.prefix, await findPrefixOwner(this.db, v.prefix));
      throw new AbortedError("QUEUE_CONFLICT", "the queue was removed while being created; try again", { metadata: { queueId } });
    }
    if (existing.display_name !== v.displayName || existing.prefix !== v.prefix || existing.time_zone !== v.timeZone) {
      throw new QueueExistsError(queueId);
    }
    return { queue: toQueue(existing) };
  }

  /** getQueue reads a queue with its counters and the number of waiting tickets. */
  async getQueue(req: GetQueueRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetQueueResponseSchema>> {
    const v = validateGetQueue(req);
    const queue = await this.requireQueue(this.db, v.queueId);
    const [counters, active] = await Promise.all([listCounters(this.db, v.queueId), listActive(this.db, v.queueId)]);
    const held = new Map(active.filter((t) => t.status === "CALLED").map((t) => [t.counter_id, t.ticket_id]));
    return {
      queue: toQueue(queue),
      counters: counters.map((c) => toCounter(c, held.get(c.counter_id))),
      waitingCount: active.filter((t) => t.status === "WAITING").length,
    };
  }

  /** listQueues pages through queues by display name. */
  async listQueues(req: ListQueuesRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListQueuesResponseSchema>> {
    const v = validateListQueues(req);
    const rows = await listQueues(this.db, this.pageTokens.open(QUEUES_PAGE, v.pageToken), v.pageSize + 1);
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      queues: page.map(toQueue),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(QUEUES_PAGE, { displayName: last.display_name, queueId: last.queue_id }) : "",
    };
  }

  /** openCounter opens a counter on a queue, creating it on first use; opening an open counter changes nothing. */
  async openCounter(req: OpenCounterRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof OpenCounterResponseSchema>> {
    const v = validateOpenCounter(req);
    const now = this.clock.now();
    const { counter, held, changed } = await this.db.transaction().execute(async (trx) => {
      await this.requireQueue(trx, v.queueId);
      const existing = await findCounter(trx, v.queueId, v.counterId, { forUpdate: true });
      if (existing?.is_open) return { counter: existing, held: await findCalledAt(trx, v.queueId, v.counterId), changed: false };
      const opened = await openCounterRow(trx, v.queueId, v.counterId, now);
      await appendChange(trx, { queueId: v.queueId, at: now, kind: "counter", counterId: v.counterId });
      return { counter: opened, held: undefined, changed: true };
    });
    if (changed) this.afterChange(v.queueId);
    return { counter: toCounter(counter, held?.ticket_id) };
  }

  /** closeCounter closes a counter; FAILED_PRECONDITION while it holds a called ticket. */
  async closeCounter(req: CloseCounterRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CloseCounterResponseSchema>> {
    const v = validateCloseCounter(req);
    const now = this.clock.now();
    const { counter, changed } = await this.db.transaction().execute(async (trx) => {
      const queue = await this.requireQueue(trx, v.queueId);
      const existing = await findCounter(trx, v.queueId, v.counterId, { forUpdate: true });
      if (!existing) throw new CounterNotFoundError(v.counterId, queue);
      if (!existing.is_open) return { counter: existing, changed: false };
      const held = await findCalledAt(trx, v.queueId, v.counterId);
      if (held) throw new CounterBusyError(v.counterId, held);
      const closed = await closeCounterRow(trx, v.queueId, v.counterId, now);
      await appendChange(trx, { queueId: v.queueId, at: now, kind: "counter", counterId: v.counterId });
      return { counter: closed, changed: true };
    });
    if (changed) this.afterChange(v.queueId);
    return { counter: toCounter(counter, undefined) };
  }

  // ---- tickets ----------------------------------------------------------------------------------

  /**
   * issueTicket puts a patient in the queue (none -> WAITING); idempotent by requestId per caller.
   * Three round trips: one read (queue state for the rank and estimate, the requestId, and the
   * appointment's active ticket), the day's number (takeDayNumber: no flush wait under the lock), and
   * one statement that inserts the ticket, its change, its audit entry and the requestId with the
   * response. No queue-wide lock is held through a commit.
   *
   * Only the service role names an appointment; patients take ROUTINE tickets only
   * (checkTicketRequest). An appointment has at most one active ticket (the database's
   * tickets_one_active_per_appointment): issuing another returns that one, also when two check-ins
   * race. A patient has one place in a queue: a walk-in for a patient who holds an active ticket
   * there answers with that ticket (issueHeld), and the database's tickets_one_active_walk_in_per_patient
   * keeps racing walk-ins to one.
   */
  async issueTicket(req: IssueTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof IssueTicketResponseSchema>> {
    const caller = callerOf(ctx);
    checkTicketRequest(req, caller);
    const v = validateIssueTicket(req);
    const priority = priorityName(v.priority);
    const hash = requestHash([v.queueId, v.patientId ?? "", priority, v.appointmentId ?? "", v.appointmentTime?.toISOString() ?? ""]);
    const now = this.clock.now();
    const keyId = { caller: caller.subject, rpc: "IssueTicket", requestId: v.requestId };
    const { state, requestKey, appointmentTicket } = await this.queueState(this.db, v.queueId, keyId, v.appointmentId);
    if (requestKey) return replayStored(IssueTicketResponseSchema, keyId, hash, requestKey, "a different ticket");
    if (!state) throw new QueueNotFoundError(v.queueId);
    if (appointmentTicket) return this.issueExisting(appointmentTicket, caller, { ...keyId, hash }, now);
    const held = v.patientId !== undefined && priority !== "APPOINTMENT" ? heldBy(state.active, v.patientId) : undefined;
    if (held) return this.issueHeld(held, state.queue, priority, caller, { ...keyId, hash }, now);
    if (priority === "APPOINTMENT" && v.appointmentTime && checkInTiming(now, v.appointmentTime, this.options) === "early") {
      throw new CheckInNotOpenError(new Date(v.appointmentTime.getTime() - this.options.appointmentEarlyMs), now, state.queue.time_zone);
    }
    // Rank and estimate before writing: the simulation is CPU work that holds nothing. Under
    // concurrent issues the position may be off by the ones racing.
    const rankAt = rankTime({ priority, arrivedAt: now, appointmentTime: v.appointmentTime }, this.options);
    const probe = { ticket_id: "", seq: NEW_TICKET_SEQ, priority, arrived_at: now, rank_at: rankAt } as TicketRow;
    const estimated = this.estimateNewFrom(state, probe, now);
    const queue = state.queue;
    const day = localDay(now, queue.time_zone);
    const n = await takeDayNumber(this.db, queue.queue_id, day);
    const row: NewTicketRow = {
      ticket_id: `t-${randomUUID()}`,
      queue_id: queue.queue_id,
      local_day: day,
      day_number: n,
      number: formatNumber(queue.prefix, n),
      priority,
      status: "WAITING",
      patient_id: v.patientId ?? null,
      appointment_id: v.appointmentId ?? null,
      appointment_time: v.appointmentTime ?? null,
      arrived_at: now,
      enqueued_at: now,
      rank_at: rankAt,
      counter_id: null,
      called_at: null,
      first_called_at: null,
      ended_at: null,
      transferred_from_id: null,
      issue_estimate_ms: Math.round(estimated.raw.p50Ms),
      updated_at: now,
    };
    const asRead = { ...row, seq: NEW_TICKET_SEQ, recall_count: 0, skip_count: 0 } as TicketRow;
    const response = create(IssueTicketResponseSchema, {
      ticket: toTicketInit(asRead, { position: estimated.position, estimate: estimated.estimate }),
    });
    try {
      await insertIssuedTicket(this.db, row, { ...keyId, hash, at: now, response: toBinary(IssueTicketResponseSchema, response) }, this.actor(caller, "IssueTicket"));
    } catch (err) {
      if (v.appointmentId && isUniqueViolation(err, "tickets_one_active_per_appointment")) {
        // A concurrent check-in of the same appointment won (this number is left unused): its ticket.
        const winner = await findActiveForAppointment(this.db, v.appointmentId);
        if (!winner) throw new AbortedError("APPOINTMENT_TICKET_CHANGED", "this appointment's ticket changed meanwhile; try again");
        return this.issueExisting(winner, caller, { ...keyId, hash }, now);
      }
      if (v.patientId !== undefined && !v.appointmentId && isUniqueViolation(err, "tickets_one_active_walk_in_per_patient")) {
        // A concurrent walk-in for the same patient won (this number is left unused): their ticket.
        const winner = await findActiveOfPatient(this.db, queue.queue_id, v.patientId);
        if (!winner) throw new AbortedError("PATIENT_TICKET_CHANGED", "this patient's ticket changed meanwhile; try again");
        return this.issueHeld(winner, queue, priority, caller, { ...keyId, hash }, now);
      }
      // The same requestId, first used concurrently: that one won (its number is left unused).
      if (!isUniqueViolation(err, "request_keys_pkey")) throw err;
      const existing = await REQUEST_KEYS.find(this.db, keyId);
      if (!existing) throw new RequestInProgressError();
      return replayStored(IssueTicketResponseSchema, keyId, hash, existing, "a different ticket");
    }
    this.afterChange(v.queueId);
    return response;
  }

  /**
   * issueHeld answers a walk-in IssueTicket for a patient who already holds an active ticket in the
   * queue: that ticket (issueExisting). Staff asking another class than it has are refused
   * (PATIENT_ALREADY_IN_QUEUE, naming it) rather than answered with a class they did not ask for; a
   * patient (who asks ROUTINE) gets what they hold, whatever its class.
   */
  private async issueHeld(
    held: TicketRow,
    queue: QueueRow,
    priority: TicketPriorityName,
    caller: Caller,
    key: { caller: string; rpc: string; requestId: string; hash: string },
    now: Date,
  ): Promise<IssueTicketResponse> {
    if (caller.role !== "patient" && held.priority !== priority) throw new PatientInQueueError(held, queue, { issue: priority });
    return this.issueExisting(held, caller, key, now);
  }

  /**
   * issueExisting answers IssueTicket for an appointment or a patient that already has an active ticket: that
   * ticket, live (position and estimate), remembered under this requestId and audited as read.
   */
  private async issueExisting(
    row: TicketRow,
    caller: Caller,
    key: { caller: string; rpc: string; requestId: string; hash: string },
    now: Date,
  ): Promise<IssueTicketResponse> {
    let view: TicketView = { hidePatient: hides(caller, row) };
    if (row.status === "WAITING") {
      const queueView = await this.readView(this.db, row.queue_id, now);
      const live = queueView.waiting.find((t) => t.ticket_id === row.ticket_id);
      if (live) view = { ...view, position: queueView.position.get(row.ticket_id), estimate: queueView.estimate(live) };
    }
    const response = create(IssueTicketResponseSchema, { ticket: toTicketInit(row, view) });
    const stored = await this.db.transaction().execute(async (trx) => {
      if (!(await insertRequestKey(trx, { ...key, at: now, response: toBinary(IssueTicketResponseSchema, response) }))) return false;
      await AUDIT_LOG.append(trx, this.audit(caller, "IssueTicket", [row], now));
      return true;
    });
    if (!stored) {
      // The same requestId, first used concurrently: answer as that one did.
      const existing = await REQUEST_KEYS.find(this.db, key);
      if (!existing) throw new RequestInProgressError();
      return replayStored(IssueTicketResponseSchema, key, key.hash, existing, "a different ticket");
    }
    return response;
  }

  /**
   * callNext calls the highest-ranked waiting ticket to an open counter (WAITING -> CALLED), atomically
   * and in one statement (callNextAtomic): the counter row is locked, a counter still holding a called
   * ticket gets it back, and the next ticket is taken with FOR UPDATE SKIP LOCKED, so concurrent
   * counters never call one ticket twice nor wait for each other. No ticket field when nobody waits.
   */
  async callNext(req: CallNextRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CallNextResponseSchema>> {
    const v = validateCallNext(req);
    const caller = callerOf(ctx);
    const now = this.clock.now();
    let result: Awaited<ReturnType<typeof callNextAtomic>> | undefined;
    for (let attempt = 0; !result; attempt++) {
      try {
        result = await callNextAtomic(this.db, v.queueId, v.counterId, now, this.options, this.actor(caller, "CallNext"));
      } catch (err) {
        // A concurrent CallNext at the same counter called a ticket after this statement's snapshot:
        // the database refused a second one; the next attempt sees it and returns it.
        if (attempt >= 2 || !isUniqueViolation(err, "tickets_one_called_per_counter")) throw err;
      }
    }
    if (!result.counterOpen) throw new CounterNotOpenError(v.counterId, await this.requireQueue(this.db, v.queueId));
    if (result.held) return { ticket: toTicketInit(result.held) };
    const called = result.called;
    if (!called) return {};
    this.afterChange(v.queueId);
    if (called.skip_count === 0) {
      // A WAITING ticket never skipped was never called before: its first call ends its wait.
      queueWait.observe({ priority: called.priority }, Math.max(0, now.getTime() - called.enqueued_at.getTime()) / 1000);
    }
    return { ticket: toTicketInit(called) };
  }

  /** recallTicket calls a CALLED ticket again at its counter (counted). */
  async recallTicket(req: RecallTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof RecallTicketResponseSchema>> {
    const v = validateRecallTicket(req);
    const row = await this.atCounter(ctx, "RecallTicket", v.ticketId, v.counterId, (t) => ({ recall_count: (t?.recall_count ?? 0) + 1 }));
    return { ticket: toTicketInit(row) };
  }

  /**
   * skipTicket passes over a CALLED ticket whose patient is not here yet: back to WAITING behind the
   * ticket that is next now (it yields to it, see ranking.ts), so the counter's next call reaches
   * someone else first; or NO_SHOW at the configured number of skips.
   */
  async skipTicket(req: SkipTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SkipTicketResponseSchema>> {
    const v = validateSkipTicket(req);
    const now = this.clock.now();
    const row = await this.atCounter(ctx, "SkipTicket", v.ticketId, v.counterId, async (t) => {
      const skips = (t?.skip_count ?? 0) + 1;
      if (skips >= this.options.noShowAfterSkips) return { status: "NO_SHOW", skip_count: skips, ended_at: now };
      const next = t ? await nextWaiting(this.db, t.queue_id, now, this.options) : undefined;
      return { status: "WAITING", skip_count: skips, counter_id: null, yields_to: next?.ticket_id ?? null, yields_to_skips: next?.skip_count ?? null };
    });
    if (row.status === "NO_SHOW") queueNoShows.inc();
    return { ticket: toTicketInit(row) };
  }

  /** markTicketNoShow records that a CALLED ticket's patient did not come: CALLED -> NO_SHOW at once, freeing its counter. */
  async markTicketNoShow(req: MarkTicketNoShowRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof MarkTicketNoShowResponseSchema>> {
    const v = validateMarkTicketNoShow(req);
    const now = this.clock.now();
    const row = await this.atCounter(ctx, "MarkTicketNoShow", v.ticketId, v.counterId, () => ({ status: "NO_SHOW", ended_at: now }), { blind: true });
    queueNoShows.inc();
    return { ticket: toTicketInit(row) };
  }

  /** completeTicket ends a served ticket: CALLED -> COMPLETED, freeing its counter. */
  async completeTicket(req: CompleteTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CompleteTicketResponseSchema>> {
    const v = validateCompleteTicket(req);
    const now = this.clock.now();
    const row = await this.atCounter(ctx, "CompleteTicket", v.ticketId, v.counterId, () => ({ status: "COMPLETED", ended_at: now }), { blind: true });
    return { ticket: toTicketInit(row) };
  }

  /** cancelTicket withdraws a WAITING or CALLED ticket: -> CANCELLED. */
  async cancelTicket(req: CancelTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CancelTicketResponseSchema>> {
    const v = validateCancelTicket(req);
    const caller = callerOf(ctx);
    const now = this.clock.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const current = await findTicket(trx, v.ticketId);
      if (!current) throw new TicketNotFoundError(v.ticketId);
      const updated = await updateTicketIf(trx, v.ticketId, ["WAITING", "CALLED"], { status: "CANCELLED", ended_at: now, updated_at: now });
      if (!updated) throw new TicketEndedError((await findTicket(trx, v.ticketId)) ?? current, "cancelled");
      await appendChange(trx, { queueId: updated.queue_id, at: now, kind: "ticket", ticketId: updated.ticket_id });
      await AUDIT_LOG.append(trx, this.audit(caller, "CancelTicket", [updated], now));
      return updated;
    });
    this.afterChange(row.queue_id);
    return { ticket: toTicketInit(row) };
  }

  /**
   * transferTicket moves a WAITING or CALLED ticket to another queue: it becomes TRANSFERRED and a new
   * WAITING ticket there keeps its arrival time (so its fairness clock keeps running). Staff may give
   * it another class there (triage escalates to URGENT), but APPOINTMENT only to an appointment's
   * ticket; a patient who already holds a ticket in the target queue is not moved there
   * (PATIENT_ALREADY_IN_QUEUE: one place per queue).
   */
  async transferTicket(req: TransferTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof TransferTicketResponseSchema>> {
    const v = validateTransferTicket(req);
    const caller = callerOf(ctx);
    const now = this.clock.now();
    const result = await this.db.transaction().execute(async (trx) => {
      const current = await findTicket(trx, v.ticketId, { forUpdate: true });
      if (!current) throw new TicketNotFoundError(v.ticketId);
      if (current.queue_id === v.toQueueId) {
        throw new InvalidArgumentError([{ field: "toQueueId", description: "must be another queue than the ticket's own", reason: "SAME_QUEUE" }]);
      }
      const target = await this.requireQueue(trx, v.toQueueId);
      if (current.status !== "WAITING" && current.status !== "CALLED") throw new TicketEndedError(current, "moved to another queue");
      if (current.status === "CALLED" && v.counterId !== undefined && current.counter_id !== v.counterId) throw notCalledHere(current, v.counterId);
      if (current.patient_id !== null) {
        const held = await findActiveOfPatient(trx, target.queue_id, current.patient_id);
        if (held) throw new PatientInQueueError(held, target, "transfer");
      }
      const previous = await updateTicketIf(trx, current.ticket_id, ["WAITING", "CALLED"], { status: "TRANSFERRED", ended_at: now, updated_at: now });
      if (!previous) throw new TicketChangedError(current, "TRANSFER_CONFLICT");
      const priority = v.priority !== undefined ? priorityName(v.priority) : current.priority;
      if (priority === "APPOINTMENT" && !current.appointment_id) throw new NoAppointmentError(current);
      const day = localDay(now, target.time_zone);
      const n = await nextDayNumber(trx, target.queue_id, day);
      const row: TicketRow = {
        ticket_id: `t-${randomUUID()}`,
        seq: NEW_TICKET_SEQ,
        queue_id: target.queue_id,
        local_day: day,
        day_number: n,
        number: formatNumber(target.prefix, n),
        priority,
        status: "WAITING",
        patient_id: current.patient_id,
        appointment_id: current.appointment_id,
        appointment_time: current.appointment_time,
        arrived_at: current.arrived_at,
        enqueued_at: now,
        rank_at: rankTime({ priority, arrivedAt: current.arrived_at, appointmentTime: current.appointment_time }, this.options),
        counter_id: null,
        called_at: null,
        first_called_at: null,
        ended_at: null,
        recall_count: 0,
        skip_count: 0,
        yields_to: null,
        yields_to_skips: null,
        transferred_from_id: current.ticket_id,
        issue_estimate_ms: null,
        updated_at: now,
      };
      const { position, raw, estimate } = await this.estimateNew(trx, target, row, now);
      const inserted = await insertTicket(trx, { ...withoutSeq(row), issue_estimate_ms: Math.round(raw.p50Ms) });
      await appendChange(trx, { queueId: previous.queue_id, ticketId: previous.ticket_id, at: now, kind: "ticket" });
      await appendChange(trx, { queueId: inserted.queue_id, ticketId: inserted.ticket_id, at: now, kind: "ticket" });
      await AUDIT_LOG.append(trx, this.audit(caller, "TransferTicket", [previous, inserted], now));
      return { previous, inserted, position, estimate };
    }).catch(async (err: unknown) => {
      throw isUniqueViolation(err, "tickets_one_active_walk_in_per_patient") ? await this.transferRefusal(v.ticketId, v.toQueueId) : err;
    });
    queueTransfers.inc();
    this.afterChange(result.previous.queue_id);
    this.afterChange(result.inserted.queue_id);
    return {
      ticket: toTicketInit(result.inserted, { position: result.position, estimate: result.estimate }),
      previousTicket: toTicketInit(result.previous),
    };
  }

  /**
   * transferRefusal explains a transfer that lost a race at tickets_one_active_walk_in_per_patient: the
   * patient got a walk-in ticket in the target queue meanwhile (PATIENT_ALREADY_IN_QUEUE naming it).
   */
  private async transferRefusal(ticketId: string, toQueueId: string): Promise<Error> {
    const [ticket, target] = await Promise.all([findTicket(this.db, ticketId), findQueue(this.db, toQueueId)]);
    const held = ticket?.patient_id && target ? await findActiveOfPatient(this.db, target.queue_id, ticket.patient_id) : undefined;
    if (held && target) return new PatientInQueueError(held, target, "transfer");
    return new AbortedError("TRANSFER_CONFLICT", "the ticket or the patient's place in the other queue changed meanwhile; try again");
  }

  /** getTicket reads a ticket with its live position and estimates; patients only their own (audited). */
  async getTicket(req: GetTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetTicketResponseSchema>> {
    const v = validateGetTicket(req);
    const caller = callerOf(ctx);
    const row = await findTicket(this.db, v.ticketId);
    if (row && caller.ownOnly && row.patient_id !== caller.subject) await AUDIT_LOG.append(this.db, this.audit(caller, "DeniedRead", [row], this.clock.now()));
    if (!row || (caller.ownOnly && row.patient_id !== caller.subject)) throw new TicketNotFoundError(v.ticketId);
    const now = this.clock.now();
    let view: { position?: number; estimate?: Estimate } = {};
    if (row.status === "WAITING") {
      const queueView = await this.readView(this.db, row.queue_id, now);
      const live = queueView.waiting.find((t) => t.ticket_id === row.ticket_id);
      if (live) view = { position: queueView.position.get(row.ticket_id), estimate: queueView.estimate(live) };
    }
    await AUDIT_LOG.append(this.db, this.audit(caller, "GetTicket", [row], now));
    return { ticket: toTicketInit(row, { ...view, hidePatient: hides(caller, row) }) };
  }

  /** listTickets pages through a queue's tickets: called first, then waiting in call order, then ended ones. */
  async listTickets(req: ListTicketsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListTicketsResponseSchema>> {
    const v = validateListTickets(req);
    const caller = callerOf(ctx);
    // A token continues only the query it came from.
    const query = [v.queueId, v.statuses];
    const offset = this.pageTokens.open(TICKETS_PAGE, v.pageToken, query)?.offset ?? 0;
    const now = this.clock.now();
    const statuses = v.statuses.map(statusName);
    const view = await this.readView(this.db, v.queueId, now);
    const active = [
      ...(statuses.includes("CALLED") ? view.called : []),
      ...(statuses.includes("WAITING") ? view.waiting : []),
    ];
    const ended = statuses.filter((s) => FINAL_STATES.includes(s));
    const fromActive = active.slice(offset, offset + v.pageSize + 1);
    const fromEnded =
      fromActive.length < v.pageSize + 1
        ? await listEnded(this.db, v.queueId, ended, Math.max(0, offset - active.length), v.pageSize + 1 - fromActive.length)
        : [];
    const rows = [...fromActive, ...fromEnded];
    const page = rows.slice(0, v.pageSize);
    await AUDIT_LOG.append(this.db, this.audit(caller, "ListTickets", page.filter((r) => !hides(caller, r)), now));
    return {
      tickets: page.map((r) =>
        toTicketInit(r, {
          position: view.position.get(r.ticket_id),
          estimate: r.status === "WAITING" ? view.estimate(r) : undefined,
          hidePatient: hides(caller, r),
        }),
      ),
      nextPageToken: rows.length > v.pageSize ? this.pageTokens.seal(TICKETS_PAGE, { offset: offset + v.pageSize }, query) : "",
    };
  }

  /**
   * watchQueue streams a queue: a snapshot (every WAITING and CALLED ticket and the counters), then each
   * change with its sequence. With afterSequence it resumes from the change log; when that point is no
   * longer retained it sends a fresh snapshot with resumeFailed. A watcher more than watchMaxLag changes
   * behind gets a fresh snapshot; nobody waits for a slow watcher.
   */
  async *watchQueue(req: WatchQueueRequest, ctx: HandlerContext): AsyncGenerator<WatchResponse> {
    const v = validateWatchQueue(req);
    const caller = callerOf(ctx);
    await this.requireQueue(this.db, v.queueId);
    const sub = await this.feed.subscribe(v.queueId);
    try {
      let cursor = v.afterSequence;
      let needSnapshot = cursor === 0n;
      let resumeFailed = false;
      if (!needSnapshot && !(await this.retains(v.queueId, cursor))) {
        needSnapshot = true;
        resumeFailed = true;
      }
      await AUDIT_LOG.append(this.db, [{ ...auditBase(caller, "WatchQueue", this.clock.now()), record_type: "queue", record_id: v.queueId }]);
      for (;;) {
        if (needSnapshot) {
          let snap: WatchResponse | undefined = await this.snapshot(v.queueId, caller, resumeFailed);
          cursor = snap.sequence ?? 0n;
          yield snap;
          // A suspended generator keeps what its variables hold: a quiet watcher would keep the snapshot.
          snap = undefined;
          needSnapshot = false;
          resumeFailed = false;
        }
        const next = await sub.next(cursor, ctx.signal);
        if (next.kind === "closed") return;
        const latest = next.kind === "items" ? next.items[next.items.length - 1].sequence : next.latest;
        if (latest - cursor > BigInt(this.options.watchMaxLag)) {
          // Too far behind (a slow reader): a fresh snapshot is cheaper than replaying, and nobody waited.
          needSnapshot = true;
          continue;
        }
        let items: FeedItem<WatchChange>[];
        if (next.kind === "items") {
          items = next.items;
        } else {
          // Behind the shared ring but close: catch up from the change log itself.
          const rows = await changesAfter(this.db, v.queueId, cursor, this.options.watchMaxLag);
          if (rows.length === 0 || BigInt(rows[0].sequence as string) !== cursor + 1n) {
            needSnapshot = true;
            resumeFailed = true;
            continue;
          }
          items = await this.loadChanges(v.queueId, rows);
        }
        for (const item of items) {
          if (item.sequence <= cursor) continue;
          cursor = item.sequence;
          yield this.changeMessage(item, caller);
        }
      }
    } finally {
      sub.close();
    }
  }

  /** pruneRetained deletes change-log rows and requestIds older than their retention; returns the counts. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    const now = this.clock.now().getTime();
    this.lastPrune = now;
    const changes = await pruneChanges(this.db, new Date(now - this.options.changeRetentionMs));
    const requestKeys = await REQUEST_KEYS.prune(this.db, new Date(now - this.options.requestKeyRetentionMs));
    return { changes, requestKeys };
  }

  // ---- internals --------------------------------------------------------------------------------

  private async requireQueue(db: Db, queueId: string): Promise<QueueRow> {
    const queue = await findQueue(db, queueId);
    if (!queue) throw new QueueNotFoundError(queueId);
    return queue;
  }

  /**
   * afterChange runs after a committed change: the sequencer stamps it (coalesced with other changes of
   * the queue), then wakes local watchers and other replicas' (NOTIFY); prune now and then.
   */
  private afterChange(queueId: string): void {
    if (this.stampAfterCommit) this.sequencer.request(queueId);
    if (this.clock.now().getTime() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.pruneRetained().catch(() => undefined);
    }
  }

  /**
   * atCounter runs a counter action on a ticket CALLED at that counter as a compare-and-swap in one
   * statement (updateCalledTicket, with its change and audit entry): FAILED_PRECONDITION when the
   * ticket is not CALLED there (e.g. a double complete). An action whose change depends on the ticket
   * (recall and skip counts) reads it first and swaps only while the counts are still those read;
   * a `blind` one (complete) does not read.
   */
  private async atCounter(
    ctx: HandlerContext,
    action: string,
    ticketId: string,
    counterId: string,
    change: (t: TicketRow | undefined) => CounterChange | Promise<CounterChange>,
    opts: { blind?: boolean } = {},
  ): Promise<TicketRow> {
    const caller = callerOf(ctx);
    const now = this.clock.now();
    let current: TicketRow | undefined;
    if (!opts.blind) {
      current = await findTicket(this.db, ticketId);
      if (!current) throw new TicketNotFoundError(ticketId);
      if (current.status !== "CALLED" || current.counter_id !== counterId) throw notCalledHere(current, counterId);
    }
    const expect = current ? { recall_count: current.recall_count, skip_count: current.skip_count } : {};
    const updated = await updateCalledTicket(this.db, ticketId, counterId, { ...(await change(current)), updated_at: now }, now, this.actor(caller, action), expect);
    if (!updated) {
      const latest = await findTicket(this.db, ticketId);
      if (!latest) throw new TicketNotFoundError(ticketId);
      if (latest.status === "CALLED" && latest.counter_id === counterId) throw new TicketChangedError(latest);
      throw notCalledHere(latest, counterId);
    }
    this.afterChange(updated.queue_id);
    return updated;
  }

  private actor(caller: Caller, action: string): AuditActor {
    return { actor: caller.subject, role: caller.role, action, onBehalfOf: caller.onBehalfOf ?? null };
  }

  /** audit builds one audit entry per patient ticket read or changed (anonymous tickets carry no PHI). */
  private audit(caller: Caller, action: string, rows: readonly TicketRow[], at: Date): NewAuditLogRow[] {
    return auditEntries(caller, action, at, "ticket", rows.filter((r) => r.patient_id !== null).map((r) => r.ticket_id));
  }

  /**
   * queueState reads a queue's state (readQueueState) with the estimator's samples from this
   * process's copy when it is younger than SAMPLES_MAX_AGE_MS, read afresh otherwise.
   */
  private async queueState(
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
  private async readView(db: Db, queueId: string, now: Date): Promise<QueueView> {
    const { state } = await this.queueState(db, queueId);
    if (!state) throw new QueueNotFoundError(queueId);
    return this.buildView(state, now);
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

  /** estimateNewFrom ranks a ticket about to be inserted among a queue's waiting ones and estimates its wait. */
  private estimateNewFrom(state: QueueState, row: TicketRow, now: Date): { position: number; raw: Estimate; estimate: Estimate } {
    const called = state.active.filter((t) => t.status === "CALLED");
    const waiting = this.rank([...state.active.filter((t) => t.status === "WAITING"), row], now);
    const position = waiting.findIndex((t) => t === row) + 1;
    const estimator = this.estimator(state, called, position, now);
    return { position, ...estimator(position, row.priority) };
  }

  /** estimateNew reads a queue's state and estimates a ticket about to be inserted. */
  private async estimateNew(db: Db, queue: QueueRow, row: TicketRow, now: Date): Promise<{ position: number; raw: Estimate; estimate: Estimate }> {
    const { state } = await this.queueState(db, queue.queue_id);
    if (!state) throw new QueueNotFoundError(queue.queue_id);
    return this.estimateNewFrom(state, row, now);
  }

  /** retains tells whether every change after `after` is still in the change log. */
  private async retains(queueId: string, after: bigint): Promise<boolean> {
    const range = await retainedRange(this.db, queueId);
    if (!range || after > range.last) return false;
    if (after === range.last) return true;
    return range.oldest !== undefined && range.oldest <= after + 1n;
  }

  /** snapshot reads the queue's live state and its sequence in one repeatable-read transaction. */
  private async snapshot(queueId: string, caller: Caller, resumeFailed: boolean): Promise<WatchResponse & { sequence: bigint }> {
    const now = this.clock.now();
    const { view } = await this.db
      .transaction()
      .setIsolationLevel("repeatable read")
      .execute(async (trx) => ({ view: await this.readView(trx, queueId, now) }));
    const rows = [...view.called, ...view.waiting];
    const held = new Map(view.called.map((t) => [t.counter_id, t.ticket_id]));
    await AUDIT_LOG.append(this.db, this.audit(caller, "WatchQueue", rows.filter((r) => !hides(caller, r)), now));
    return {
      sequence: BigInt(view.queue.last_sequence),
      snapshot: true,
      resumeFailed,
      tickets: rows.map((r) =>
        toTicketInit(r, {
          position: view.position.get(r.ticket_id),
          estimate: r.status === "WAITING" ? view.estimate(r) : undefined,
          hidePatient: hides(caller, r),
        }),
      ),
      counters: view.counters.map((c) => toCounter(c, held.get(c.counter_id))),
    };
  }

  /** loadChanges turns change-log rows into feed items with the tickets' current state and positions. */
  private async loadChanges(queueId: string, rows: ChangeRow[]): Promise<FeedItem<WatchChange>[]> {
    const now = this.clock.now();
    const ticketIds = [...new Set(rows.filter((r) => r.ticket_id !== null).map((r) => r.ticket_id as string))];
    const [view, tickets] = await Promise.all([this.readView(this.db, queueId, now), findTickets(this.db, ticketIds)]);
    const byId = new Map(tickets.map((t) => [t.ticket_id, t]));
    const counters = new Map(view.counters.map((c) => [c.counter_id, c]));
    const held = new Map(view.called.map((t) => [t.counter_id, t.ticket_id]));
    const items: FeedItem<WatchChange>[] = [];
    for (const r of rows) {
      const sequence = BigInt(r.sequence as string); // changesAfter reads stamped changes only
      if (r.kind === "ticket") {
        const row = byId.get(r.ticket_id ?? "");
        if (!row) {
          // Gone (the queue was deleted meanwhile): keep the sequence without content.
          items.push({ sequence, value: {} });
          continue;
        }
        const position = row.queue_id === queueId ? (view.position.get(row.ticket_id) ?? 0) : 0;
        items.push({ sequence, value: { ticket: { row, position, estimate: position > 0 ? view.estimate(row) : undefined } } });
      } else {
        const c = counters.get(r.counter_id ?? "");
        items.push({ sequence, value: c ? { counter: toCounter(c, held.get(c.counter_id)) } : {} });
      }
    }
    return items;
  }

  private changeMessage(item: FeedItem<WatchChange>, caller: Caller): WatchResponse {
    const t = item.value.ticket;
    return {
      sequence: item.sequence,
      snapshot: false,
      tickets: t ? [toTicketInit(t.row, { position: t.position, estimate: t.estimate, hidePatient: hides(caller, t.row) })] : [],
      counters: item.value.counter ? [item.value.counter] : [],
    };
  }
}
