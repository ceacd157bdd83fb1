import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  QueueService,
  type CallNextRequest,
  type CallNextResponseSchema,
  type CancelTicketRequest,
  type ReassignPatientRequest,
  type ReassignPatientResponseSchema,
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
  type IssueTicketResponseSchema,
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
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { listScope, requireLocation } from "../runtime/auth/location-scope.js";
import type { Peers } from "../runtime/clients/peers.js";
import type { PatientDirectory } from "../runtime/clients/patient-directory.js";
import { validateReassignPatient } from "../runtime/request/patient-reassign.validation.js";
import { reassignPatient } from "./patient-reassign.js";
import { TicketPatientCheck } from "./ticket-patient.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import { AfterCommit } from "./after-commit.js";
import { callNext, completeTicket, markTicketNoShow, recallTicket, skipTicket } from "./counter-calls.js";
import type { Database } from "./db/database.js";
import { toCounter, toQueue } from "./mappers/queue.mapper.js";
import { toTicketInit } from "./mappers/ticket.mapper.js";
import { queueCallerOf } from "./queue-caller.js";
import type { QueueContext } from "./queue-context.js";
import { QueueLocations } from "./queue-locations.js";
import { reportQueueLengthOf } from "./queue.metrics.js";
import { DEFAULT_QUEUE_OPTIONS, type QueueOptions } from "./queue-options.js";
import { closeCounter, createQueue, openCounter, readQueue } from "./queues-and-counters.js";
import { QueueWatch, type WatchResponse } from "./queue-watch.js";
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
import { listQueues } from "./repositories/queue.repository.js";
import { checkTicketRequest, issueTicket } from "./ticket-issuing.js";
import { cancelTicket, transferTicket } from "./ticket-moves.js";
import { getTicket, listTickets } from "./ticket-reads.js";
import { WaitEstimates } from "./wait-estimates.js";

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
  /** peers give the SchedulingService client that confirms a queue's location (without: only the default location). */
  peers?: Peers;
  /** patients check a new ticket's patientId (PATIENT_CHECK; none: no check): ticket-patient.ts. */
  patients?: PatientDirectory;
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

/** QUEUES_PAGE is ListQueues' page token: the queues after (display name, id). */
export const QUEUES_PAGE = definePageKind(QueueService.method.listQueues, { displayName: "text", queueId: "text" });
/** TICKETS_PAGE is ListTickets' page token: an offset into the queue's order, bound to the queue and statuses. */
export const TICKETS_PAGE = definePageKind(QueueService.method.listTickets, { offset: "offset" });

/**
 * QueueServiceImpl serves medschedule.queue.v1.QueueService: each handler validates, takes the caller
 * and hands over to the file that holds its part of the domain: queues-and-counters.ts,
 * ticket-issuing.ts (fair priorities in ranking.ts), counter-calls.ts (atomic CallNext),
 * ticket-moves.ts, ticket-reads.ts and queue-watch.ts (live WatchQueue streams), with wait estimates
 * in wait-estimates.ts and what follows every commit in after-commit.ts. All state is in Postgres;
 * replicas share it.
 */
export class QueueServiceImpl implements ServiceImpl<typeof QueueService> {
  private readonly q: QueueContext;
  private readonly locations: QueueLocations;
  private readonly patients: TicketPatientCheck;
  private readonly pageTokens: PageTokens;
  private readonly watch: QueueWatch;
  private readonly unregisterMetrics: () => void;

  constructor(deps: QueueServiceDeps, options: QueueServiceOptions = {}) {
    const db = deps.db as Kysely<Database>;
    const clock = deps.clock ?? systemClock;
    const settings: QueueOptions = { ...DEFAULT_QUEUE_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    const estimates = new WaitEstimates(clock, settings);
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.watch = new QueueWatch({
      db,
      clock,
      options: settings,
      estimates,
      logger: deps.logger,
      listenUrl: options.listen === false ? undefined : deps.config?.databaseUrl,
      pollIntervalMs: options.pollIntervalMs,
    });
    const afterCommit = new AfterCommit({
      db,
      clock,
      options: settings,
      wake: (queueId) => this.watch.wake(queueId),
      logger: deps.logger,
      sweepIntervalMs: options.sweepIntervalMs ?? options.pollIntervalMs,
      stampAfterCommit: options.stampAfterCommit,
    });
    this.q = { db, clock, options: settings, estimates, afterCommit };
    this.locations = new QueueLocations(db, deps.peers);
    this.patients = new TicketPatientCheck(db, deps.patients);
    this.unregisterMetrics = reportQueueLengthOf(db);
  }

  /** close stops WatchQueue's listener and the change sequencer and ends open streams (the database stays open). */
  async close(): Promise<void> {
    this.unregisterMetrics();
    await this.q.afterCommit.close();
    await this.watch.close();
  }

  /** settleChanges stamps a queue's committed changes now (tests; the sweep and the writers do it otherwise). */
  async settleChanges(queueId?: string): Promise<void> {
    await this.q.afterCommit.settle(queueId);
  }

  /** pruneRetained deletes change-log rows and requestIds older than their retention; returns the counts. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    return this.q.afterCommit.pruneRetained();
  }

  /** createQueue adds a queue at a location the scheduling service confirms; with a client-chosen id, a retry returns the existing queue (queues-and-counters.ts). */
  async createQueue(req: CreateQueueRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CreateQueueResponseSchema>> {
    const v = validateCreateQueue(req);
    requireLocation(ctx, v.locationId);
    await this.locations.requireExists(ctx, v.locationId);
    return { queue: toQueue(await createQueue(this.q, v)) };
  }

  /** getQueue reads a queue with its counters and the number of waiting tickets. */
  async getQueue(req: GetQueueRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetQueueResponseSchema>> {
    const v = validateGetQueue(req);
    await this.locations.requireQueue(ctx, v.queueId);
    const { queue, counters, waitingCount } = await readQueue(this.q, v.queueId);
    return { queue: toQueue(queue), counters: counters.map((c) => toCounter(c.counter, c.heldTicketId)), waitingCount };
  }

  /** listQueues pages through queues by display name: of one location, or of every location the caller works at. */
  async listQueues(req: ListQueuesRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListQueuesResponseSchema>> {
    const v = validateListQueues(req);
    const locationIds = listScope(ctx, v.locationId);
    // A token continues only the query it came from.
    const query = v.locationId ?? null;
    const rows = await listQueues(this.q.db, this.pageTokens.open(QUEUES_PAGE, v.pageToken, query), v.pageSize + 1, locationIds);
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      queues: page.map(toQueue),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(QUEUES_PAGE, { displayName: last.display_name, queueId: last.queue_id }, query) : "",
    };
  }

  /** openCounter opens a counter on a queue, creating it on first use; opening an open counter changes nothing. */
  async openCounter(req: OpenCounterRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof OpenCounterResponseSchema>> {
    const v = validateOpenCounter(req);
    await this.locations.requireQueue(ctx, v.queueId);
    const { counter, heldTicketId } = await openCounter(this.q, v);
    return { counter: toCounter(counter, heldTicketId) };
  }

  /** closeCounter closes a counter; FAILED_PRECONDITION while it holds a called ticket. */
  async closeCounter(req: CloseCounterRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CloseCounterResponseSchema>> {
    const v = validateCloseCounter(req);
    await this.locations.requireQueue(ctx, v.queueId);
    return { counter: toCounter(await closeCounter(this.q, v), undefined) };
  }

  /**
   * issueTicket puts a patient in the queue (none -> WAITING); idempotent by requestId per caller. Who
   * may name an appointment or a class is checked before validation (ticket-issuing.ts).
   */
  async issueTicket(req: IssueTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof IssueTicketResponseSchema>> {
    const caller = queueCallerOf(ctx);
    checkTicketRequest(req, caller);
    const v = validateIssueTicket(req);
    await this.locations.requireQueue(ctx, v.queueId);
    const location = await this.patients.check(ctx, v);
    const res = await issueTicket(this.q, caller, v);
    await this.patients.served(ctx, v.patientId, location);
    return res;
  }

  /** callNext calls the highest-ranked waiting ticket to an open counter (WAITING -> CALLED), atomically; no ticket when nobody waits. */
  async callNext(req: CallNextRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CallNextResponseSchema>> {
    const v = validateCallNext(req);
    await this.locations.requireQueue(ctx, v.queueId);
    const called = await callNext(this.q, queueCallerOf(ctx), v);
    return called ? { ticket: toTicketInit(called) } : {};
  }

  /** recallTicket calls a CALLED ticket again at its counter (counted). */
  async recallTicket(req: RecallTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof RecallTicketResponseSchema>> {
    const v = validateRecallTicket(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    return { ticket: toTicketInit(await recallTicket(this.q, queueCallerOf(ctx), v)) };
  }

  /** skipTicket passes over a CALLED ticket whose patient is not here yet: back to WAITING behind the next one, or NO_SHOW. */
  async skipTicket(req: SkipTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SkipTicketResponseSchema>> {
    const v = validateSkipTicket(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    return { ticket: toTicketInit(await skipTicket(this.q, queueCallerOf(ctx), v)) };
  }

  /** markTicketNoShow records that a CALLED ticket's patient did not come: CALLED -> NO_SHOW at once, freeing its counter. */
  async markTicketNoShow(req: MarkTicketNoShowRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof MarkTicketNoShowResponseSchema>> {
    const v = validateMarkTicketNoShow(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    return { ticket: toTicketInit(await markTicketNoShow(this.q, queueCallerOf(ctx), v)) };
  }

  /** completeTicket ends a served ticket: CALLED -> COMPLETED, freeing its counter. */
  async completeTicket(req: CompleteTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CompleteTicketResponseSchema>> {
    const v = validateCompleteTicket(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    return { ticket: toTicketInit(await completeTicket(this.q, queueCallerOf(ctx), v)) };
  }

  /** reassignPatient moves a merged patient record's tickets to its survivor (PatientService's MergePatients): patient-reassign.ts. */
  async reassignPatient(req: ReassignPatientRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ReassignPatientResponseSchema>> {
    return reassignPatient(this.q, queueCallerOf(ctx), validateReassignPatient(req));
  }

  /** cancelTicket withdraws a WAITING or CALLED ticket: -> CANCELLED. */
  async cancelTicket(req: CancelTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CancelTicketResponseSchema>> {
    const v = validateCancelTicket(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    return { ticket: toTicketInit(await cancelTicket(this.q, queueCallerOf(ctx), v.ticketId)) };
  }

  /** transferTicket moves a WAITING or CALLED ticket to another queue, keeping its arrival time (ticket-moves.ts). */
  async transferTicket(req: TransferTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof TransferTicketResponseSchema>> {
    const v = validateTransferTicket(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    await this.locations.requireQueue(ctx, v.toQueueId);
    const { previous, inserted, position, estimate } = await transferTicket(this.q, queueCallerOf(ctx), v);
    return { ticket: toTicketInit(inserted, { position, estimate }), previousTicket: toTicketInit(previous) };
  }

  /** getTicket reads a ticket with its live position and estimates; patients only their own (audited). */
  async getTicket(req: GetTicketRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetTicketResponseSchema>> {
    const v = validateGetTicket(req);
    await this.locations.requireTicket(ctx, v.ticketId);
    return { ticket: await getTicket(this.q, queueCallerOf(ctx), v.ticketId) };
  }

  /** listTickets pages through a queue's tickets: called first, then waiting in call order, then ended ones. */
  async listTickets(req: ListTicketsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ListTicketsResponseSchema>> {
    const v = validateListTickets(req);
    await this.locations.requireQueue(ctx, v.queueId);
    const caller = queueCallerOf(ctx);
    // A token continues only the query it came from.
    const query = [v.queueId, v.statuses];
    const offset = this.pageTokens.open(TICKETS_PAGE, v.pageToken, query)?.offset ?? 0;
    const { tickets, more } = await listTickets(this.q, caller, v, offset);
    return { tickets, nextPageToken: more ? this.pageTokens.seal(TICKETS_PAGE, { offset: offset + v.pageSize }, query) : "" };
  }

  /** watchQueue streams a queue: a snapshot, then each change with its sequence (queue-watch.ts). */
  async *watchQueue(req: WatchQueueRequest, ctx: HandlerContext): AsyncGenerator<WatchResponse> {
    const v = validateWatchQueue(req);
    await this.locations.requireQueue(ctx, v.queueId);
    yield* this.watch.watch(v, queueCallerOf(ctx), ctx.signal);
  }
}
