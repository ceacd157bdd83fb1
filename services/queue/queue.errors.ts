// The queue service's domain errors. Each has a stable reason (google.rpc.ErrorInfo.reason), a message
// that reception staff can act on (ticket numbers such as "A-042", queue names and counter names as
// staff see them, times on the queue's clock; no RPC names, no internal ids), and the metadata a client
// needs to say it in its own words and language.
import { Code } from "@connectrpc/connect";
import { AbortedError, AlreadyExistsError, DomainError, FailedPreconditionError, PermissionDeniedError, UnavailableError } from "../runtime/errors.js";
import type { QueueRow } from "./db/queue.table.js";
import type { TicketPriorityName, TicketRow, TicketStatusName } from "./db/ticket.table.js";
import { localDay, localTimeOfDay } from "./local-time.js";

/** TicketRef is what an error says about a ticket: its number and state. */
type TicketRef = Pick<TicketRow, "number" | "status">;

/** What a ticket's state means to staff, after its number ("A-042 was cancelled"). */
const STATE_WORDS: Record<TicketStatusName, string> = {
  WAITING: "is waiting and has not been called",
  CALLED: "is called",
  COMPLETED: "is already completed",
  NO_SHOW: "was already marked a no-show",
  CANCELLED: "was cancelled",
  TRANSFERRED: "was moved to another queue",
};

/** QueueNotFoundError is a queue that does not exist (NOT_FOUND). */
export class QueueNotFoundError extends DomainError {
  constructor(queueId: string) {
    super(Code.NotFound, "QUEUE_NOT_FOUND", "this queue does not exist (it may have been removed); choose a queue from the list", { metadata: { queueId } });
  }
}

/** TicketNotFoundError is a ticket that does not exist (NOT_FOUND). */
export class TicketNotFoundError extends DomainError {
  constructor(ticketId: string) {
    super(Code.NotFound, "TICKET_NOT_FOUND", "this ticket does not exist; refresh the list of tickets", { metadata: { ticketId } });
  }
}

/** CounterNotFoundError is closing a counter that was never opened on the queue (NOT_FOUND). */
export class CounterNotFoundError extends DomainError {
  constructor(counterId: string, queue: QueueRow) {
    super(Code.NotFound, "COUNTER_NOT_FOUND", `counter ${JSON.stringify(counterId)} has never been opened at ${queue.display_name}`, {
      metadata: { counterId, queueId: queue.queue_id, queueName: queue.display_name },
    });
  }
}

/** CounterNotOpenError is calling patients to a counter that is not open on the queue. */
export class CounterNotOpenError extends FailedPreconditionError {
  constructor(counterId: string, queue: QueueRow) {
    super("COUNTER_NOT_OPEN", `counter ${JSON.stringify(counterId)} is not open at ${queue.display_name}: open the counter, then call the next patient`, {
      metadata: { counterId, queueId: queue.queue_id, queueName: queue.display_name },
    });
  }
}

/** CounterBusyError is closing a counter that still serves a called ticket. */
export class CounterBusyError extends FailedPreconditionError {
  constructor(counterId: string, held: TicketRef) {
    super(
      "COUNTER_BUSY",
      `counter ${JSON.stringify(counterId)} is still serving ${held.number}: complete it, mark it a no-show or let it wait again, then close the counter`,
      { metadata: { counterId, ticketNumber: held.number } },
    );
  }
}

/** TicketNotCalledError is a counter action (complete, recall, skip, no-show) on a ticket that is not CALLED. */
export class TicketNotCalledError extends FailedPreconditionError {
  constructor(ticket: TicketRef, counterId: string) {
    const hint = ticket.status === "WAITING" ? ": call it to your counter first" : "";
    super("TICKET_NOT_CALLED", `${ticket.number} ${STATE_WORDS[ticket.status]}${hint}`, {
      metadata: { ticketNumber: ticket.number, status: ticket.status, counterId },
    });
  }
}

/** TicketNotCalledHereError is a counter action on a ticket that another counter has called. */
export class TicketNotCalledHereError extends FailedPreconditionError {
  constructor(ticket: TicketRef & Pick<TicketRow, "counter_id">, counterId: string) {
    const there = ticket.counter_id ?? "";
    super("TICKET_NOT_CALLED_HERE", `${ticket.number} is called to counter ${JSON.stringify(there)}, not ${JSON.stringify(counterId)}: only that counter can act on it`, {
      metadata: { ticketNumber: ticket.number, counterId, calledAtCounterId: there },
    });
  }
}

/** TicketEndedError is cancelling or transferring a ticket that has already ended. */
export class TicketEndedError extends FailedPreconditionError {
  constructor(ticket: TicketRef, action: "cancelled" | "moved to another queue") {
    super("TICKET_ENDED", `${ticket.number} ${STATE_WORDS[ticket.status]}; only a waiting or called ticket can be ${action}`, {
      metadata: { ticketNumber: ticket.number, status: ticket.status },
    });
  }
}

/** NoAppointmentError is making a ticket without an appointment an APPOINTMENT ticket. */
export class NoAppointmentError extends FailedPreconditionError {
  constructor(ticket: TicketRef) {
    super("NO_APPOINTMENT", `${ticket.number} is not for an appointment, so it cannot get the appointment priority`, {
      metadata: { ticketNumber: ticket.number },
    });
  }
}

/** CheckInNotOpenError is an appointment check-in before its window opens; the time is the queue's local time. */
export class CheckInNotOpenError extends FailedPreconditionError {
  constructor(opensAt: Date, now: Date, timeZone: string) {
    const localTime = localTimeOfDay(opensAt, timeZone);
    const localDate = localDay(opensAt, timeZone);
    const when = localDate === localDay(now, timeZone) ? localTime : `${localTime} on ${localDate}`;
    super("CHECK_IN_NOT_OPEN", `check-in for this appointment opens at ${when} (${timeZone}); ask the patient to come back then`, {
      metadata: { localTime, localDate, timeZone, opensAt: opensAt.toISOString() },
    });
  }
}

/** PatientPriorityError is a patient asking for a ticket of any class but ROUTINE (PERMISSION_DENIED). */
export class PatientPriorityError extends PermissionDeniedError {
  constructor(priority: string) {
    super("patients take routine tickets; reception gives a higher priority to those who need it", "PRIORITY_NOT_ALLOWED", { metadata: { priority } });
  }
}

/** AppointmentTicketField is what names an appointment on a ticket request. */
export type AppointmentTicketField = "priority" | "appointmentId" | "appointmentTime";

/**
 * AppointmentTicketNotAllowedError is a patient or a member of staff naming an appointment (its id, its
 * time, or the APPOINTMENT class) on a ticket (PERMISSION_DENIED): such a ticket comes only from the
 * appointment's check-in, which reads the appointment and ranks the ticket by its booked time.
 */
export class AppointmentTicketNotAllowedError extends PermissionDeniedError {
  constructor(field: AppointmentTicketField, who: "patient" | "staff") {
    const message =
      who === "patient"
        ? "a ticket for an appointment comes from checking in for that appointment, not from taking a ticket"
        : "a ticket for an appointment comes from checking the patient in from their appointment, which ranks it by the booked time; a walk-in ticket is routine, priority or urgent";
    super(message, "APPOINTMENT_TICKET_NOT_ALLOWED", { metadata: { field } });
  }
}

/** QueueExistsError is CreateQueue with a client-chosen id that names a queue with other details. */
export class QueueExistsError extends AlreadyExistsError {
  constructor(queueId: string) {
    super("QUEUE_EXISTS", `a queue with the id ${JSON.stringify(queueId)} already exists with another name, prefix, time zone or location`, { metadata: { queueId } });
  }
}

/**
 * PrefixInUseError is CreateQueue with a ticket prefix that another queue uses (FAILED_PRECONDITION,
 * as a slot already taken): both queues would call the same numbers.
 */
export class PrefixInUseError extends FailedPreconditionError {
  constructor(prefix: string, holder: Pick<QueueRow, "queue_id" | "display_name"> | undefined, options?: { cause?: unknown }) {
    const by = holder ? `by ${holder.display_name}` : "by another queue";
    super("PREFIX_IN_USE", `the prefix ${JSON.stringify(prefix)} is already used ${by}: two queues with one prefix would both call ${prefix}-001; choose another prefix`, {
      ...options,
      metadata: { prefix, ...(holder ? { queueId: holder.queue_id, queueName: holder.display_name } : {}) },
    });
  }
}

/** What a priority class is called after a ticket number ("D-005 (urgent, waiting)"). */
const PRIORITY_WORDS: Record<TicketPriorityName, string> = { URGENT: "urgent", APPOINTMENT: "appointment", PRIORITY: "priority", ROUTINE: "routine" };

/**
 * PatientInQueueError is giving a patient a second place in a queue where they already hold an active
 * ticket (FAILED_PRECONDITION): a walk-in of another class than the one they hold, or a transfer into
 * that queue. A walk-in of the class they hold is not an error: IssueTicket answers with that ticket.
 */
export class PatientInQueueError extends FailedPreconditionError {
  constructor(held: TicketRef & Pick<TicketRow, "ticket_id" | "priority" | "counter_id">, queue: Pick<QueueRow, "queue_id" | "display_name">, asked: { issue: TicketPriorityName } | "transfer") {
    const state = held.status === "CALLED" && held.counter_id ? `called to counter ${JSON.stringify(held.counter_id)}` : held.status === "CALLED" ? "called" : "waiting";
    const holds = `this patient already holds ${held.number} (${PRIORITY_WORDS[held.priority]}, ${state}) at ${queue.display_name}, and a patient has one place in a queue`;
    const todo =
      asked === "transfer"
        ? "cancel one of the two tickets, then move this one if it is still needed"
        : `cancel ${held.number} first to give them ${/^[aeiou]/.test(PRIORITY_WORDS[asked.issue]) ? "an" : "a"} ${PRIORITY_WORDS[asked.issue]} ticket instead`;
    super("PATIENT_ALREADY_IN_QUEUE", `${holds}: ${todo}`, {
      metadata: {
        ticketNumber: held.number,
        ticketId: held.ticket_id,
        priority: held.priority,
        status: held.status,
        queueId: queue.queue_id,
        queueName: queue.display_name,
        ...(asked === "transfer" ? {} : { requestedPriority: asked.issue }),
      },
    });
  }
}

/** TicketChangedError is a ticket changed by someone else while being updated (ABORTED, retryable). */
export class TicketChangedError extends AbortedError {
  constructor(ticket: TicketRef, reason = "TICKET_CHANGED") {
    super(reason, `${ticket.number} was changed by someone else meanwhile; try again`, { metadata: { ticketNumber: ticket.number } });
  }
}

/**
 * AppointmentTicketTakenError is a second active ticket for one appointment, refused by the database
 * (ticket.repository.ts: a concurrent check-in of the same appointment won). IssueTicket answers with
 * the winner's ticket; this error reaches the client only when that ticket is gone meanwhile.
 */
export class AppointmentTicketTakenError extends AbortedError {
  constructor(options?: { cause?: unknown }) {
    super("APPOINTMENT_TICKET_CHANGED", "this appointment's ticket changed meanwhile; try again", options);
  }
}

/**
 * PatientWalkInTakenError is a second active walk-in ticket for one patient in a queue, refused by the
 * database (ticket.repository.ts: a concurrent walk-in or transfer won). IssueTicket answers with the
 * winner's ticket and TransferTicket names it; this error reaches the client only when it is gone meanwhile.
 */
export class PatientWalkInTakenError extends AbortedError {
  constructor(options?: { cause?: unknown }) {
    super("PATIENT_TICKET_CHANGED", "this patient's ticket changed meanwhile; try again", options);
  }
}

/**
 * CounterCalledMeanwhileError is a second CALLED ticket at one counter, refused by the database
 * (ticket.repository.ts: a concurrent CallNext at that counter called one after this call's snapshot).
 * CallNext tries again and returns that ticket; the client sees this only after repeated races.
 */
export class CounterCalledMeanwhileError extends AbortedError {
  constructor(counterId: string, options?: { cause?: unknown }) {
    super("CALL_CONFLICT", `counter ${JSON.stringify(counterId)} called a patient at the same moment; call the next patient again`, {
      ...options,
      metadata: { counterId },
    });
  }
}

/** LocationNotFoundError is CreateQueue naming a location the scheduling service does not know (NOT_FOUND). */
export class LocationNotFoundError extends DomainError {
  constructor(locationId: string) {
    super(Code.NotFound, "LOCATION_NOT_FOUND", "this location does not exist (it may have been mistyped); choose a location from the list", { metadata: { locationId } });
  }
}

/**
 * schedulingUnavailableError is CreateQueue when the scheduling service cannot confirm the queue's
 * location (unreachable, or answering anything but the location or NOT_FOUND): UNAVAILABLE, retryable.
 */
export function schedulingUnavailableError(cause: unknown): UnavailableError {
  return new UnavailableError("SCHEDULING_UNAVAILABLE", "the scheduling service cannot confirm the queue's location right now, so the queue was not created; retry shortly", { cause });
}
