/**
 * IssueTicket's path: who may ask for what (checkTicketRequest), requestId replay, appointment tickets
 * (one active ticket per appointment), one place per patient in a queue, the day's ticket number, and
 * the insert with its change, audit entry and stored response in one statement.
 */
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { TicketPriority, TicketPrioritySchema } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { IssueTicketResponseSchema, type IssueTicketRequest, type IssueTicketResponse } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { replayStored, requestHash, RequestInProgressError } from "../runtime/idempotency.js";
import type { QueueRow } from "./db/queue.table.js";
import type { NewTicketRow, TicketPriorityName, TicketRow } from "./db/ticket.table.js";
import { localDay } from "./local-time.js";
import { priorityName, toTicketInit } from "./mappers/ticket.mapper.js";
import { auditActor, hides, ticketAudit, type QueueCaller } from "./queue-caller.js";
import type { QueueContext } from "./queue-context.js";
import {
  AppointmentTicketNotAllowedError,
  AppointmentTicketTakenError,
  CheckInNotOpenError,
  PatientInQueueError,
  PatientPriorityError,
  PatientWalkInTakenError,
  QueueNotFoundError,
} from "./queue.errors.js";
import type { ValidIssueTicket } from "./queue.validation.js";
import { checkInTiming, rankTime } from "./ranking.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import { insertRequestKey, REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { findActiveForAppointment, findActiveOfPatient, insertIssuedTicket, takeDayNumber } from "./repositories/ticket.repository.js";

/** NEW_TICKET_SEQ ranks a ticket not inserted yet after every inserted one among equals. */
export const NEW_TICKET_SEQ = "9223372036854775807";

/** IssueKey is the requestId an IssueTicket stores its response under, with its parameters' hash. */
type IssueKey = { caller: string; rpc: string; requestId: string; hash: string };

/** formatNumber is a ticket's number as staff and screens show it, e.g. "A-042". */
export function formatNumber(prefix: string, n: number): string {
  return `${prefix}-${String(n).padStart(3, "0")}`;
}

/**
 * checkTicketRequest refuses what a caller could use to get ahead of others (PERMISSION_DENIED). A
 * ticket that names an appointment (its id, its time, or the APPOINTMENT class, which ranks by that
 * time) comes only from the service role: scheduling's CheckInAppointment, which reads the appointment
 * (it exists, it is BOOKED, it is inside its check-in window) and passes its booked start. Staff check
 * the patient in from the appointment; they issue URGENT, PRIORITY and ROUTINE walk-ins. Patients take
 * ROUTINE tickets only. An unknown priority is left to validation (INVALID_ARGUMENT).
 */
export function checkTicketRequest(req: IssueTicketRequest, caller: QueueCaller): void {
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

/**
 * issueTicket puts a patient in the queue (none -> WAITING); idempotent by requestId per caller.
 * Three round trips: one read (queue state for the rank and estimate, the requestId, and the
 * appointment's active ticket), the day's number (takeDayNumber: no flush wait under the lock), and
 * one statement that inserts the ticket, its change, its audit entry and the requestId with the
 * response. No queue-wide lock is held through a commit.
 *
 * Only the service role names an appointment (checkTicketRequest, before validation). An appointment
 * has at most one active ticket (the database guarantees it): issuing another returns that one, also
 * when two check-ins race. A patient has one place in a queue: a walk-in for a patient who holds an
 * active ticket there answers with that ticket (issueHeld), and the database keeps racing walk-ins to one.
 */
export async function issueTicket(q: QueueContext, caller: QueueCaller, v: ValidIssueTicket): Promise<IssueTicketResponse> {
  const priority = priorityName(v.priority);
  const hash = requestHash([v.queueId, v.patientId ?? "", priority, v.appointmentId ?? "", v.appointmentTime?.toISOString() ?? ""]);
  const now = q.clock.now();
  const keyId = { caller: caller.subject, rpc: "IssueTicket", requestId: v.requestId };
  const key = { ...keyId, hash };
  const { state, requestKey, appointmentTicket } = await q.estimates.queueState(q.db, v.queueId, keyId, v.appointmentId);
  if (requestKey) return replayStored(IssueTicketResponseSchema, keyId, hash, requestKey, "a different ticket");
  if (!state) throw new QueueNotFoundError(v.queueId);
  if (appointmentTicket) return issueExisting(q, appointmentTicket, caller, key, now);
  const held = v.patientId !== undefined && priority !== "APPOINTMENT" ? heldBy(state.active, v.patientId) : undefined;
  if (held) return issueHeld(q, held, state.queue, priority, caller, key, now);
  if (priority === "APPOINTMENT" && v.appointmentTime && checkInTiming(now, v.appointmentTime, q.options) === "early") {
    throw new CheckInNotOpenError(new Date(v.appointmentTime.getTime() - q.options.appointmentEarlyMs), now, state.queue.time_zone);
  }
  // Rank and estimate before writing: the simulation is CPU work that holds nothing. Under
  // concurrent issues the position may be off by the ones racing.
  const rankAt = rankTime({ priority, arrivedAt: now, appointmentTime: v.appointmentTime }, q.options);
  const probe = { ticket_id: "", seq: NEW_TICKET_SEQ, priority, arrived_at: now, rank_at: rankAt } as TicketRow;
  const estimated = q.estimates.estimateNewFrom(state, probe, now);
  const queue = state.queue;
  const day = localDay(now, queue.time_zone);
  const n = await takeDayNumber(q.db, queue.queue_id, day);
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
    await insertIssuedTicket(q.db, row, { ...key, at: now, response: toBinary(IssueTicketResponseSchema, response) }, auditActor(caller, "IssueTicket"));
  } catch (err) {
    if (v.appointmentId && err instanceof AppointmentTicketTakenError) {
      // A concurrent check-in of the same appointment won (this number is left unused): its ticket.
      const winner = await findActiveForAppointment(q.db, v.appointmentId);
      if (!winner) throw new AppointmentTicketTakenError();
      return issueExisting(q, winner, caller, key, now);
    }
    if (v.patientId !== undefined && !v.appointmentId && err instanceof PatientWalkInTakenError) {
      // A concurrent walk-in for the same patient won (this number is left unused): their ticket.
      const winner = await findActiveOfPatient(q.db, queue.queue_id, v.patientId);
      if (!winner) throw new PatientWalkInTakenError();
      return issueHeld(q, winner, queue, priority, caller, key, now);
    }
    // The same requestId, first used concurrently: that one won (its number is left unused).
    if (!(err instanceof RequestInProgressError)) throw err;
    return replayConcurrent(q, key);
  }
  q.afterCommit.afterChange(v.queueId);
  return response;
}

/**
 * issueHeld answers a walk-in IssueTicket for a patient who already holds an active ticket in the
 * queue: that ticket (issueExisting). Staff asking another class than it has are refused
 * (PATIENT_ALREADY_IN_QUEUE, naming it) rather than answered with a class they did not ask for; a
 * patient (who asks ROUTINE) gets what they hold, whatever its class.
 */
async function issueHeld(
  q: QueueContext,
  held: TicketRow,
  queue: QueueRow,
  priority: TicketPriorityName,
  caller: QueueCaller,
  key: IssueKey,
  now: Date,
): Promise<IssueTicketResponse> {
  if (caller.role !== "patient" && held.priority !== priority) throw new PatientInQueueError(held, queue, { issue: priority });
  return issueExisting(q, held, caller, key, now);
}

/**
 * issueExisting answers IssueTicket for an appointment or a patient that already has an active ticket: that
 * ticket, live (position and estimate), remembered under this requestId and audited as read.
 */
async function issueExisting(q: QueueContext, row: TicketRow, caller: QueueCaller, key: IssueKey, now: Date): Promise<IssueTicketResponse> {
  const view = { hidePatient: hides(caller, row), ...(await q.estimates.live(q.db, row, now)) };
  const response = create(IssueTicketResponseSchema, { ticket: toTicketInit(row, view) });
  const stored = await q.db.transaction().execute(async (trx) => {
    if (!(await insertRequestKey(trx, { ...key, at: now, response: toBinary(IssueTicketResponseSchema, response) }))) return false;
    await AUDIT_LOG.append(trx, ticketAudit(caller, "IssueTicket", [row], now));
    return true;
  });
  // The same requestId, first used concurrently: answer as that one did.
  return stored ? response : replayConcurrent(q, key);
}

/** replayConcurrent answers as the concurrent first call with this requestId did (REQUEST_IN_PROGRESS while it runs). */
async function replayConcurrent(q: QueueContext, key: IssueKey): Promise<IssueTicketResponse> {
  const existing = await REQUEST_KEYS.find(q.db, key);
  if (!existing) throw new RequestInProgressError();
  return replayStored(IssueTicketResponseSchema, key, key.hash, existing, "a different ticket");
}
