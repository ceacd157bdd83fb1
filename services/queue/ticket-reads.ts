/**
 * Reading tickets: GetTicket (a patient sees only their own; a refused read is audited) and a page of
 * ListTickets (called first, then waiting in call order, then ended ones), each with live positions and
 * estimates, audited per patient ticket the caller sees.
 */
import type { TicketStatusName } from "./db/ticket.table.js";
import { statusName, toTicketInit, type TicketView } from "./mappers/ticket.mapper.js";
import { hides, ticketAudit, type QueueCaller } from "./queue-caller.js";
import type { QueueContext } from "./queue-context.js";
import { TicketNotFoundError } from "./queue.errors.js";
import type { ValidListTickets } from "./queue.validation.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import { findTicket, listEnded } from "./repositories/ticket.repository.js";
import { inView } from "./wait-estimates.js";

const FINAL_STATES: TicketStatusName[] = ["COMPLETED", "NO_SHOW", "CANCELLED", "TRANSFERRED"];

/** TicketInit is a Ticket message as the mapper builds it. */
type TicketInit = ReturnType<typeof toTicketInit>;

/** getTicket reads a ticket with its live position and estimates; patients only their own (audited). */
export async function getTicket(q: QueueContext, caller: QueueCaller, ticketId: string): Promise<TicketInit> {
  const row = await findTicket(q.db, ticketId);
  if (row && caller.ownOnly && row.patient_id !== caller.subject) await AUDIT_LOG.append(q.db, ticketAudit(caller, "DeniedRead", [row], q.clock.now()));
  if (!row || (caller.ownOnly && row.patient_id !== caller.subject)) throw new TicketNotFoundError(ticketId);
  const now = q.clock.now();
  const view: TicketView = await q.estimates.live(q.db, row, now);
  await AUDIT_LOG.append(q.db, ticketAudit(caller, "GetTicket", [row], now));
  return toTicketInit(row, { ...view, hidePatient: hides(caller, row) });
}

/**
 * listTickets reads the page of a queue's tickets that starts at `offset` in its order: called first,
 * then waiting in call order, then ended ones, most recently ended first. `more` tells whether a
 * ticket follows the page.
 */
export async function listTickets(q: QueueContext, caller: QueueCaller, v: ValidListTickets, offset: number): Promise<{ tickets: TicketInit[]; more: boolean }> {
  const now = q.clock.now();
  const statuses = v.statuses.map(statusName);
  const view = await q.estimates.readView(q.db, v.queueId, now);
  const active = [
    ...(statuses.includes("CALLED") ? view.called : []),
    ...(statuses.includes("WAITING") ? view.waiting : []),
  ];
  const ended = statuses.filter((s) => FINAL_STATES.includes(s));
  const fromActive = active.slice(offset, offset + v.pageSize + 1);
  const fromEnded =
    fromActive.length < v.pageSize + 1
      ? await listEnded(q.db, v.queueId, ended, Math.max(0, offset - active.length), v.pageSize + 1 - fromActive.length)
      : [];
  const rows = [...fromActive, ...fromEnded];
  const page = rows.slice(0, v.pageSize);
  await AUDIT_LOG.append(q.db, ticketAudit(caller, "ListTickets", page.filter((r) => !hides(caller, r)), now));
  return {
    tickets: page.map((r) => toTicketInit(r, { ...inView(view, r), hidePatient: hides(caller, r) })),
    more: rows.length > v.pageSize,
  };
}
