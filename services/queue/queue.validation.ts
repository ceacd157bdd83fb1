import type {
  CallNextRequest,
  CancelTicketRequest,
  CloseCounterRequest,
  CompleteTicketRequest,
  CreateQueueRequest,
  GetQueueRequest,
  GetTicketRequest,
  IssueTicketRequest,
  ListQueuesRequest,
  ListTicketsRequest,
  OpenCounterRequest,
  RecallTicketRequest,
  MarkTicketNoShowRequest,
  SkipTicketRequest,
  TransferTicketRequest,
  WatchQueueRequest,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { TicketPriority, TicketPrioritySchema, TicketStatus, TicketStatusSchema } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { DEFAULT_LOCATION_ID } from "../runtime/auth/location-scope.js";
import { validate, type RequestValidator } from "../runtime/request/validation.js";

const PREFIX = /^[A-Z]{1,3}$/;
/** Free-text reasons, at most this many characters. */
const MAX_REASON = 500;
/** Page size of ListQueues when the request leaves it 0. */
const DEFAULT_QUEUE_PAGE_SIZE = 50;
/** Page size of ListTickets when the request leaves it 0. */
const DEFAULT_TICKET_PAGE_SIZE = 100;

/** ValidPage is a validated page request. */
export interface ValidPage {
  /** pageSize is the number of items wanted, the default applied when the request said 0. */
  pageSize: number;
  /** pageToken from a previous response, "" for the first page. */
  pageToken: string;
}

/** ValidCreateQueue is a validated CreateQueueRequest. */
export interface ValidCreateQueue {
  /** displayName, trimmed, 1-200 characters. */
  displayName: string;
  /** prefix is 1-3 capital letters A-Z. */
  prefix: string;
  /** timeZone is a known IANA zone, in its canonical spelling. */
  timeZone: string;
  /** queueId is the client-chosen id, undefined when the server is to generate one. */
  queueId: string | undefined;
  /** locationId is the scheduling service's location of the queue (`default` when the request left it empty). */
  locationId: string;
}

/** ValidListQueues is a validated ListQueuesRequest. */
export interface ValidListQueues extends ValidPage {
  /** locationId restricts the list to one location's queues; undefined: every location's. */
  locationId: string | undefined;
}

/** ValidCounterRef is a validated queueId + counterId pair (OpenCounter, CloseCounter, CallNext). */
export interface ValidCounterRef {
  /** queueId is the queue. */
  queueId: string;
  /** counterId is the counter on it. */
  counterId: string;
}

/** ValidTicketAtCounter is a validated ticketId + counterId pair (RecallTicket, SkipTicket, CompleteTicket). */
export interface ValidTicketAtCounter {
  /** ticketId is the ticket. */
  ticketId: string;
  /** counterId is the counter that called it. */
  counterId: string;
}

/** ValidIssueTicket is a validated IssueTicketRequest. */
export interface ValidIssueTicket {
  /** requestId is the idempotency key. */
  requestId: string;
  /** queueId is the queue. */
  queueId: string;
  /** patientId is the patient, undefined for an anonymous walk-in. */
  patientId: string | undefined;
  /** priority is the class, ROUTINE when the request left it unspecified. */
  priority: TicketPriority;
  /** appointmentId is the appointment checked in; set for APPOINTMENT tickets only. */
  appointmentId: string | undefined;
  /** appointmentTime is the booked start of that appointment; set for APPOINTMENT tickets only. */
  appointmentTime: Date | undefined;
}

/** ValidTransferTicket is a validated TransferTicketRequest. */
export interface ValidTransferTicket {
  /** ticketId is the ticket moved. */
  ticketId: string;
  /** toQueueId is the target queue. */
  toQueueId: string;
  /** counterId is the transferring counter, when the ticket is CALLED. */
  counterId: string | undefined;
  /** priority in the target queue; undefined keeps the ticket's own. */
  priority: TicketPriority | undefined;
}

/** ValidListTickets is a validated ListTicketsRequest. */
export interface ValidListTickets extends ValidPage {
  /** queueId is the queue. */
  queueId: string;
  /** statuses wanted, distinct; WAITING and CALLED when the request named none. */
  statuses: TicketStatus[];
}

/** validateCreateQueue checks a CreateQueueRequest. */
export function validateCreateQueue(req: CreateQueueRequest): ValidCreateQueue {
  return validate((v) => {
    v.string("displayName", req.displayName);
    if (req.prefix === "") v.add("prefix", "is required: 1-3 capital letters A-Z, e.g. \"A\"", "REQUIRED");
    else if (!PREFIX.test(req.prefix)) v.add("prefix", "must be 1-3 capital letters A-Z, e.g. \"A\"", "INVALID_PREFIX");
    const timeZone = v.timeZone("timeZone", req.timeZone);
    v.id("queueId", req.queueId, { optional: true });
    v.id("locationId", req.locationId, { optional: true });
    return {
      displayName: req.displayName.trim(),
      prefix: req.prefix,
      timeZone: timeZone ?? req.timeZone,
      queueId: req.queueId === "" ? undefined : req.queueId,
      locationId: req.locationId === "" ? DEFAULT_LOCATION_ID : req.locationId,
    };
  });
}

/** validateGetQueue checks a GetQueueRequest. */
export function validateGetQueue(req: GetQueueRequest): { queueId: string } {
  return validate((v) => {
    v.id("queueId", req.queueId);
    return { queueId: req.queueId };
  });
}

/** validateListQueues checks a ListQueuesRequest. */
export function validateListQueues(req: ListQueuesRequest): ValidListQueues {
  return validate((v) => {
    v.id("locationId", req.locationId, { optional: true });
    return { ...page(v, req.pageSize, req.pageToken, DEFAULT_QUEUE_PAGE_SIZE), locationId: req.locationId === "" ? undefined : req.locationId };
  });
}

/** validateOpenCounter checks an OpenCounterRequest. */
export function validateOpenCounter(req: OpenCounterRequest): ValidCounterRef {
  return validate((v) => counterRef(v, req));
}

/** validateCloseCounter checks a CloseCounterRequest. */
export function validateCloseCounter(req: CloseCounterRequest): ValidCounterRef {
  return validate((v) => counterRef(v, req));
}

/**
 * validateIssueTicket checks an IssueTicketRequest: an APPOINTMENT ticket names its appointment and
 * that appointment's booked time (its rank); any other class names neither.
 */
export function validateIssueTicket(req: IssueTicketRequest): ValidIssueTicket {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("queueId", req.queueId);
    v.id("patientId", req.patientId, { optional: true });
    v.enumValue("priority", req.priority, TicketPrioritySchema, { optional: true });
    const forAppointment = req.priority === TicketPriority.APPOINTMENT;
    if (forAppointment && req.appointmentId === "") {
      v.add("appointmentId", "is required for APPOINTMENT tickets", "REQUIRED");
    } else if (!forAppointment && req.appointmentId !== "") {
      v.add("appointmentId", "names an appointment, which only an APPOINTMENT ticket (a check-in) does", "NOT_AN_APPOINTMENT_TICKET");
    } else {
      v.id("appointmentId", req.appointmentId, { optional: true });
    }
    let appointmentTime: Date | undefined;
    if (forAppointment && req.appointmentTime === undefined) {
      v.add("appointmentTime", "is required for APPOINTMENT tickets: the appointment's booked start ranks the ticket", "REQUIRED");
    } else if (!forAppointment && req.appointmentTime !== undefined) {
      v.add("appointmentTime", "is an appointment's time, which only an APPOINTMENT ticket (a check-in) has", "NOT_AN_APPOINTMENT_TICKET");
    } else {
      appointmentTime = v.timestamp("appointmentTime", req.appointmentTime, { optional: true });
    }
    return {
      requestId: req.requestId,
      queueId: req.queueId,
      patientId: req.patientId === "" ? undefined : req.patientId,
      priority: req.priority === TicketPriority.UNSPECIFIED ? TicketPriority.ROUTINE : req.priority,
      appointmentId: req.appointmentId === "" ? undefined : req.appointmentId,
      appointmentTime,
    };
  });
}

/** validateCallNext checks a CallNextRequest. */
export function validateCallNext(req: CallNextRequest): ValidCounterRef {
  return validate((v) => counterRef(v, req));
}

/** validateRecallTicket checks a RecallTicketRequest. */
export function validateRecallTicket(req: RecallTicketRequest): ValidTicketAtCounter {
  return validate((v) => ticketAtCounter(v, req));
}

/** validateSkipTicket checks a SkipTicketRequest. */
export function validateSkipTicket(req: SkipTicketRequest): ValidTicketAtCounter {
  return validate((v) => ticketAtCounter(v, req));
}

/** validateMarkTicketNoShow checks a MarkTicketNoShowRequest. */
export function validateMarkTicketNoShow(req: MarkTicketNoShowRequest): ValidTicketAtCounter {
  return validate((v) => ticketAtCounter(v, req));
}

/** validateTransferTicket checks a TransferTicketRequest (that the target is another queue is checked later). */
export function validateTransferTicket(req: TransferTicketRequest): ValidTransferTicket {
  return validate((v) => {
    v.id("ticketId", req.ticketId);
    v.id("toQueueId", req.toQueueId);
    v.id("counterId", req.counterId, { optional: true });
    v.enumValue("priority", req.priority, TicketPrioritySchema, { optional: true });
    return {
      ticketId: req.ticketId,
      toQueueId: req.toQueueId,
      counterId: req.counterId === "" ? undefined : req.counterId,
      priority: req.priority === TicketPriority.UNSPECIFIED ? undefined : req.priority,
    };
  });
}

/** validateCompleteTicket checks a CompleteTicketRequest. */
export function validateCompleteTicket(req: CompleteTicketRequest): ValidTicketAtCounter {
  return validate((v) => ticketAtCounter(v, req));
}

/** validateCancelTicket checks a CancelTicketRequest. */
export function validateCancelTicket(req: CancelTicketRequest): { ticketId: string; reason: string } {
  return validate((v) => {
    v.id("ticketId", req.ticketId);
    freeText(v, "reason", req.reason, MAX_REASON);
    return { ticketId: req.ticketId, reason: req.reason.trim() };
  });
}

/** validateGetTicket checks a GetTicketRequest. */
export function validateGetTicket(req: GetTicketRequest): { ticketId: string } {
  return validate((v) => {
    v.id("ticketId", req.ticketId);
    return { ticketId: req.ticketId };
  });
}

/** validateListTickets checks a ListTicketsRequest. */
export function validateListTickets(req: ListTicketsRequest): ValidListTickets {
  return validate((v) => {
    v.id("queueId", req.queueId);
    req.statuses.forEach((s, i) => v.enumValue(`statuses[${i}]`, s, TicketStatusSchema));
    const statuses = req.statuses.length === 0 ? [TicketStatus.WAITING, TicketStatus.CALLED] : [...new Set(req.statuses)];
    return { queueId: req.queueId, statuses, ...page(v, req.pageSize, req.pageToken, DEFAULT_TICKET_PAGE_SIZE) };
  });
}

/** validateWatchQueue checks a WatchQueueRequest. */
export function validateWatchQueue(req: WatchQueueRequest): { queueId: string; afterSequence: bigint } {
  return validate((v) => {
    v.id("queueId", req.queueId);
    return { queueId: req.queueId, afterSequence: req.afterSequence };
  });
}

// ---- helpers ------------------------------------------------------------------------------------

function counterRef(v: RequestValidator, req: { queueId: string; counterId: string }): ValidCounterRef {
  v.id("queueId", req.queueId);
  v.id("counterId", req.counterId);
  return { queueId: req.queueId, counterId: req.counterId };
}

function ticketAtCounter(v: RequestValidator, req: { ticketId: string; counterId: string }): ValidTicketAtCounter {
  v.id("ticketId", req.ticketId);
  v.id("counterId", req.counterId);
  return { ticketId: req.ticketId, counterId: req.counterId };
}

function page(v: RequestValidator, pageSize: number, pageToken: string, defaultSize: number): ValidPage {
  v.pageSize("pageSize", pageSize);
  v.pageToken("pageToken", pageToken);
  return { pageSize: pageSize === 0 ? defaultSize : pageSize, pageToken };
}

/**
 * freeText checks optional free text such as a reason: at most `max` characters, no control
 * characters other than line breaks and tabs (RequestValidator.string rejects all of them).
 */
function freeText(v: RequestValidator, field: string, value: string, max: number): void {
  if (value.length > max) v.add(field, `must be at most ${max} characters (got ${value.length})`, "TOO_LONG");
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
}
