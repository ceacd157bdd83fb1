import type { DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  QueueService,
  type CreateQueueRequest,
  type CreateQueueResponseSchema,
  type GetQueueRequest,
  type GetQueueResponseSchema,
  type ListQueuesRequest,
  type ListQueuesResponseSchema,
  type OpenCounterRequest,
  type OpenCounterResponseSchema,
  type CloseCounterRequest,
  type CloseCounterResponseSchema,
  type IssueTicketRequest,
  type IssueTicketResponseSchema,
  type CallNextRequest,
  type CallNextResponseSchema,
  type RecallTicketRequest,
  type RecallTicketResponseSchema,
  type SkipTicketRequest,
  type SkipTicketResponseSchema,
  type TransferTicketRequest,
  type TransferTicketResponseSchema,
  type CompleteTicketRequest,
  type CompleteTicketResponseSchema,
  type CancelTicketRequest,
  type CancelTicketResponseSchema,
  type GetTicketRequest,
  type GetTicketResponseSchema,
  type ListTicketsRequest,
  type ListTicketsResponseSchema,
  type WatchQueueRequest,
  type WatchQueueResponseSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { UnimplementedError } from "../runtime/errors.js";
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
  validateOpenCounter,
  validateRecallTicket,
  validateSkipTicket,
  validateTransferTicket,
  validateWatchQueue,
} from "./queue.validation.js";

/** QueueServiceDeps are what the QueueService needs; tests pass fakes. */
export interface QueueServiceDeps {
  /** clock tells the time (default: the system clock). */
  clock?: Clock;
}

const method = QueueService.method;

/** unimplemented names the RPC that a later issue fills in, as "package.Service/Method". */
function unimplemented(m: DescMethod): UnimplementedError {
  return new UnimplementedError(`${m.parent.typeName}/${m.name}`);
}

/**
 * QueueServiceImpl serves medschedule.queue.v1.QueueService. For now every RPC validates its request
 * completely (INVALID_ARGUMENT with all field violations) and then answers UNIMPLEMENTED; the
 * behaviour comes with the queues and tickets issues.
 */
export class QueueServiceImpl implements ServiceImpl<typeof QueueService> {
  private readonly clock: Clock;

  constructor(deps: QueueServiceDeps = {}) {
    this.clock = deps.clock ?? systemClock;
  }

  /** createQueue adds a queue. */
  async createQueue(
    req: CreateQueueRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CreateQueueResponseSchema>> {
    validateCreateQueue(req);
    throw unimplemented(method.createQueue);
  }

  /** getQueue reads a queue with its counters. */
  async getQueue(req: GetQueueRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetQueueResponseSchema>> {
    validateGetQueue(req);
    throw unimplemented(method.getQueue);
  }

  /** listQueues pages through queues. */
  async listQueues(
    req: ListQueuesRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListQueuesResponseSchema>> {
    validateListQueues(req);
    throw unimplemented(method.listQueues);
  }

  /** openCounter opens a counter on a queue. */
  async openCounter(
    req: OpenCounterRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof OpenCounterResponseSchema>> {
    validateOpenCounter(req);
    throw unimplemented(method.openCounter);
  }

  /** closeCounter closes a counter. */
  async closeCounter(
    req: CloseCounterRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CloseCounterResponseSchema>> {
    validateCloseCounter(req);
    throw unimplemented(method.closeCounter);
  }

  /** issueTicket puts a patient in the queue. */
  async issueTicket(
    req: IssueTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof IssueTicketResponseSchema>> {
    validateIssueTicket(req);
    throw unimplemented(method.issueTicket);
  }

  /** callNext calls the highest-ranked waiting ticket to a counter. */
  async callNext(req: CallNextRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CallNextResponseSchema>> {
    validateCallNext(req);
    throw unimplemented(method.callNext);
  }

  /** recallTicket calls a called ticket again. */
  async recallTicket(
    req: RecallTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof RecallTicketResponseSchema>> {
    validateRecallTicket(req);
    throw unimplemented(method.recallTicket);
  }

  /** skipTicket passes over a called ticket that did not answer. */
  async skipTicket(
    req: SkipTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof SkipTicketResponseSchema>> {
    validateSkipTicket(req);
    throw unimplemented(method.skipTicket);
  }

  /** transferTicket moves a ticket to another queue. */
  async transferTicket(
    req: TransferTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof TransferTicketResponseSchema>> {
    validateTransferTicket(req);
    throw unimplemented(method.transferTicket);
  }

  /** completeTicket ends a served ticket. */
  async completeTicket(
    req: CompleteTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CompleteTicketResponseSchema>> {
    validateCompleteTicket(req);
    throw unimplemented(method.completeTicket);
  }

  /** cancelTicket withdraws a ticket. */
  async cancelTicket(
    req: CancelTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof CancelTicketResponseSchema>> {
    validateCancelTicket(req);
    throw unimplemented(method.cancelTicket);
  }

  /** getTicket reads a ticket with its position and estimates. */
  async getTicket(
    req: GetTicketRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof GetTicketResponseSchema>> {
    validateGetTicket(req);
    throw unimplemented(method.getTicket);
  }

  /** listTickets pages through a queue's tickets. */
  async listTickets(
    req: ListTicketsRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListTicketsResponseSchema>> {
    validateListTickets(req);
    throw unimplemented(method.listTickets);
  }

  /** watchQueue streams a queue: a snapshot, then changes. */
  async *watchQueue(
    req: WatchQueueRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchQueueResponseSchema>> {
    validateWatchQueue(req);
    throw unimplemented(method.watchQueue);
  }
}
