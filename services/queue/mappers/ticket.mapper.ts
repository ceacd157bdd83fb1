import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { TicketPriority, TicketSchema, TicketStatus, type Ticket } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import type { TicketPriorityName, TicketRow, TicketStatusName } from "../db/ticket.table.js";
import type { Estimate } from "../estimator.js";

const PRIORITY_TO_PROTO: Record<TicketPriorityName, TicketPriority> = {
  URGENT: TicketPriority.URGENT,
  APPOINTMENT: TicketPriority.APPOINTMENT,
  PRIORITY: TicketPriority.PRIORITY,
  ROUTINE: TicketPriority.ROUTINE,
};

const STATUS_TO_PROTO: Record<TicketStatusName, TicketStatus> = {
  WAITING: TicketStatus.WAITING,
  CALLED: TicketStatus.CALLED,
  COMPLETED: TicketStatus.COMPLETED,
  NO_SHOW: TicketStatus.NO_SHOW,
  CANCELLED: TicketStatus.CANCELLED,
  TRANSFERRED: TicketStatus.TRANSFERRED,
};

/** priorityName maps a TicketPriority (not UNSPECIFIED) to its stored name. */
export function priorityName(p: TicketPriority): TicketPriorityName {
  const found = (Object.keys(PRIORITY_TO_PROTO) as TicketPriorityName[]).find((k) => PRIORITY_TO_PROTO[k] === p);
  return found ?? "ROUTINE";
}

/** statusName maps a TicketStatus (not UNSPECIFIED) to its stored name. */
export function statusName(s: TicketStatus): TicketStatusName {
  const found = (Object.keys(STATUS_TO_PROTO) as TicketStatusName[]).find((k) => STATUS_TO_PROTO[k] === s);
  if (!found) throw new Error(`no stored name for ticket status ${s}`);
  return found;
}

/** TicketView is what a reader sees beyond the row: live position and estimates, and whether ids are hidden. */
export interface TicketView {
  /** position is the 1-based place among waiting tickets (0 when not waiting). */
  position?: number;
  /** estimate is the wait estimate (waiting tickets only). */
  estimate?: Estimate;
  /** hidePatient drops patient and appointment ids (displays, other patients). */
  hidePatient?: boolean;
}

/** toTicketInit maps a ticket row to its message fields. */
export function toTicketInit(row: TicketRow, view: TicketView = {}): MessageInitShape<typeof TicketSchema> {
  const waiting = row.status === "WAITING";
  return {
    ticketId: row.ticket_id,
    queueId: row.queue_id,
    number: row.number,
    priority: PRIORITY_TO_PROTO[row.priority],
    status: STATUS_TO_PROTO[row.status],
    position: waiting ? (view.position ?? 0) : 0,
    // Whole milliseconds: an estimate is a sum of measured times and may carry fractions, which a
    // Duration's int32 nanos cannot encode.
    estimatedWait: waiting && view.estimate ? durationFromMs(Math.round(view.estimate.p50Ms)) : undefined,
    estimatedWaitP90: waiting && view.estimate ? durationFromMs(Math.round(view.estimate.p90Ms)) : undefined,
    counterId: row.counter_id ?? "",
    patientId: view.hidePatient ? "" : (row.patient_id ?? ""),
    appointmentId: view.hidePatient ? "" : (row.appointment_id ?? ""),
    issueTime: timestampFromDate(row.arrived_at),
    callTime: row.called_at ? timestampFromDate(row.called_at) : undefined,
    endTime: row.ended_at ? timestampFromDate(row.ended_at) : undefined,
    recallCount: row.recall_count,
    transferredFromId: row.transferred_from_id ?? "",
  };
}

/** toTicket maps a ticket row to a Ticket message. */
export function toTicket(row: TicketRow, view: TicketView = {}): Ticket {
  return create(TicketSchema, toTicketInit(row, view));
}
