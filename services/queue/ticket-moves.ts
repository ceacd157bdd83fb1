/**
 * A ticket taken out of its queue: CancelTicket (WAITING or CALLED -> CANCELLED) and TransferTicket
 * (-> TRANSFERRED, with a new WAITING ticket in the other queue that keeps the arrival time; one place
 * per patient in the target queue).
 */
import { randomUUID } from "node:crypto";
import { AbortedError, InvalidArgumentError } from "../runtime/errors.js";
import { notCalledHere } from "./counter-calls.js";
import type { NewTicketRow, TicketRow } from "./db/ticket.table.js";
import type { Estimate } from "./estimator.js";
import { localDay } from "./local-time.js";
import { priorityName } from "./mappers/ticket.mapper.js";
import { ticketAudit, type QueueCaller } from "./queue-caller.js";
import type { QueueContext } from "./queue-context.js";
import { NoAppointmentError, PatientInQueueError, PatientWalkInTakenError, TicketChangedError, TicketEndedError, TicketNotFoundError } from "./queue.errors.js";
import { queueTransfers } from "./queue.metrics.js";
import type { ValidTransferTicket } from "./queue.validation.js";
import { rankTime } from "./ranking.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import { appendChange } from "./repositories/change.repository.js";
import { findQueue, requireQueue } from "./repositories/queue.repository.js";
import { nextDayNumber } from "./repositories/ticket-day.repository.js";
import { findActiveOfPatient, findTicket, insertTicket, updateTicketIf } from "./repositories/ticket.repository.js";
import { formatNumber, NEW_TICKET_SEQ } from "./ticket-issuing.js";

/** Transfer is what TransferTicket did: the ended ticket, the new one, and the new one's place and wait. */
export interface Transfer {
  /** previous is the ticket moved (now TRANSFERRED). */
  previous: TicketRow;
  /** inserted is the new WAITING ticket in the other queue. */
  inserted: TicketRow;
  /** position is the new ticket's place in line. */
  position: number;
  /** estimate is the new ticket's estimated wait. */
  estimate: Estimate;
}

function withoutSeq(row: TicketRow): NewTicketRow {
  const { seq: _seq, ...rest } = row;
  return rest;
}

/** cancelTicket withdraws a WAITING or CALLED ticket: -> CANCELLED. */
export async function cancelTicket(q: QueueContext, caller: QueueCaller, ticketId: string): Promise<TicketRow> {
  const now = q.clock.now();
  const row = await q.db.transaction().execute(async (trx) => {
    const current = await findTicket(trx, ticketId);
    if (!current) throw new TicketNotFoundError(ticketId);
    const updated = await updateTicketIf(trx, ticketId, ["WAITING", "CALLED"], { status: "CANCELLED", ended_at: now, updated_at: now });
    if (!updated) throw new TicketEndedError((await findTicket(trx, ticketId)) ?? current, "cancelled");
    await appendChange(trx, { queueId: updated.queue_id, at: now, kind: "ticket", ticketId: updated.ticket_id });
    await AUDIT_LOG.append(trx, ticketAudit(caller, "CancelTicket", [updated], now));
    return updated;
  });
  q.afterCommit.afterChange(row.queue_id);
  return row;
}

/**
 * transferTicket moves a WAITING or CALLED ticket to another queue: it becomes TRANSFERRED and a new
 * WAITING ticket there keeps its arrival time (so its fairness clock keeps running). Staff may give
 * it another class there (triage escalates to URGENT), but APPOINTMENT only to an appointment's
 * ticket; a patient who already holds a ticket in the target queue is not moved there
 * (PATIENT_ALREADY_IN_QUEUE: one place per queue).
 */
export async function transferTicket(q: QueueContext, caller: QueueCaller, v: ValidTransferTicket): Promise<Transfer> {
  const now = q.clock.now();
  const result = await q.db
    .transaction()
    .execute(async (trx) => {
      const current = await findTicket(trx, v.ticketId, { forUpdate: true });
      if (!current) throw new TicketNotFoundError(v.ticketId);
      if (current.queue_id === v.toQueueId) {
        throw new InvalidArgumentError([{ field: "toQueueId", description: "must be another queue than the ticket's own", reason: "SAME_QUEUE" }]);
      }
      const target = await requireQueue(trx, v.toQueueId);
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
        rank_at: rankTime({ priority, arrivedAt: current.arrived_at, appointmentTime: current.appointment_time }, q.options),
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
      const { position, raw, estimate } = await q.estimates.estimateNew(trx, target, row, now);
      const inserted = await insertTicket(trx, { ...withoutSeq(row), issue_estimate_ms: Math.round(raw.p50Ms) });
      await appendChange(trx, { queueId: previous.queue_id, ticketId: previous.ticket_id, at: now, kind: "ticket" });
      await appendChange(trx, { queueId: inserted.queue_id, ticketId: inserted.ticket_id, at: now, kind: "ticket" });
      await AUDIT_LOG.append(trx, ticketAudit(caller, "TransferTicket", [previous, inserted], now));
      return { previous, inserted, position, estimate };
    })
    .catch(async (err: unknown) => {
      throw err instanceof PatientWalkInTakenError ? await transferRefusal(q, v.ticketId, v.toQueueId) : err;
    });
  queueTransfers.inc();
  q.afterCommit.afterChange(result.previous.queue_id, result.inserted.queue_id);
  return result;
}

/**
 * transferRefusal explains a transfer that lost a race for the patient's one place in the target
 * queue: the patient got a walk-in ticket there meanwhile (PATIENT_ALREADY_IN_QUEUE naming it).
 */
async function transferRefusal(q: QueueContext, ticketId: string, toQueueId: string): Promise<Error> {
  const [ticket, target] = await Promise.all([findTicket(q.db, ticketId), findQueue(q.db, toQueueId)]);
  const held = ticket?.patient_id && target ? await findActiveOfPatient(q.db, target.queue_id, ticket.patient_id) : undefined;
  if (held && target) return new PatientInQueueError(held, target, "transfer");
  return new AbortedError("TRANSFER_CONFLICT", "the ticket or the patient's place in the other queue changed meanwhile; try again");
}
