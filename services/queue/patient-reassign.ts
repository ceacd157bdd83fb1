/**
 * ReassignPatient: after PatientService's MergePatients, every ticket of the merged record moves to the
 * survivor in one transaction, each with a change event (WatchQueue sees it after the change sequencer
 * stamps it, as every other write) and an audit entry (ReassignPatient). A patient stands in a queue
 * once (one active walk-in ticket per patient and queue): when both records hold an active walk-in
 * ticket in the same queue, the one only WAITING is withdrawn (CANCELLED, the survivor's when the merged
 * one was already CALLED, else the merged one's), audited too. Idempotent by effect: a repeat finds no
 * ticket with the merged id (reassigned 0), so no requestId replay is stored.
 */
import { sql } from "kysely";
import type { ValidReassignPatient } from "../runtime/request/patient-reassign.validation.js";
import type { Db } from "./db/database.js";
import type { TicketRow } from "./db/ticket.table.js";
import { ticketAudit, type QueueCaller } from "./queue-caller.js";
import type { QueueContext } from "./queue-context.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import { appendChange } from "./repositories/change.repository.js";

/** reassignPatient moves the merged record's tickets to the survivor (see the file comment); answers how many tickets moved. */
export async function reassignPatient(q: QueueContext, caller: QueueCaller, v: ValidReassignPatient): Promise<{ reassigned: number }> {
  const now = q.clock.now();
  const { moved, withdrawn } = await q.db.transaction().execute(async (trx) => {
    const withdrawn = [...(await withdrawDuplicate(trx, v.fromPatientId, v.toPatientId, "CALLED", now)), ...(await withdrawDuplicate(trx, v.toPatientId, v.fromPatientId, "WAITING', 'CALLED", now))];
    const moved = await trx
      .updateTable("queue.tickets")
      .set({ patient_id: v.toPatientId, updated_at: now })
      .where("patient_id", "=", v.fromPatientId)
      .returningAll()
      .execute();
    const changed = [...withdrawn, ...moved].sort((a, b) => (a.ticket_id < b.ticket_id ? -1 : 1));
    for (const t of changed) await appendChange(trx, { queueId: t.queue_id, at: now, kind: "ticket", ticketId: t.ticket_id });
    await AUDIT_LOG.append(trx, ticketAudit(caller, "ReassignPatient", changed, now));
    return { moved, withdrawn };
  });
  q.afterCommit.afterChange(...new Set([...moved, ...withdrawn].map((t) => t.queue_id)));
  return { reassigned: moved.length };
}

/**
 * withdrawDuplicate withdraws the active walk-in tickets of `drop` (WAITING, or the statuses listed)
 * in the queues where `keep` holds an active walk-in ticket in `keepStatuses`.
 */
async function withdrawDuplicate(trx: Db, keep: string, drop: string, keepStatuses: string, now: Date): Promise<TicketRow[]> {
  const dropStatuses = keepStatuses === "CALLED" ? "WAITING" : "WAITING', 'CALLED";
  const { rows } = await sql<TicketRow>`
    update queue.tickets d set status = 'CANCELLED', ended_at = ${now}, updated_at = ${now}
    where d.patient_id = ${drop} and d.appointment_id is null and d.status in ('${sql.raw(dropStatuses)}')
      and exists (select 1 from queue.tickets k where k.queue_id = d.queue_id and k.patient_id = ${keep}
        and k.appointment_id is null and k.status in ('${sql.raw(keepStatuses)}'))
    returning d.*`.execute(trx);
  return rows;
}
