/**
 * The caller of a queue call as the queue's domain sees it: the runtime's caller (runtime/caller.ts)
 * with the two things the queue decides from it (whose patients it may see, whether it may issue
 * appointment tickets), and how it is named in the audit log.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { auditEntries, type NewAuditLogRow } from "../runtime/audit.js";
import { callerOf, isTrustedCaller, type Caller } from "../runtime/caller.js";
import type { TicketRow } from "./db/ticket.table.js";
import type { AuditActor } from "./repositories/ticket.repository.js";

/** QueueCaller is the caller of a call as the queue service uses it. */
export interface QueueCaller extends Caller {
  /** hidesPatients: patients and displays see no other patient's ids. */
  hidesPatients: boolean;
  /**
   * trusted: the service role (another service, e.g. scheduling's check-in), or a call with no
   * principal (in-process, without the auth interceptor). Only it issues tickets for appointments.
   */
  trusted: boolean;
}

/** queueCallerOf is the caller of a call (callerOf) with what the queue decides from it. */
export function queueCallerOf(ctx: HandlerContext): QueueCaller {
  const caller = callerOf(ctx);
  return { ...caller, hidesPatients: caller.role === "patient" || caller.role === "display", trusted: isTrustedCaller(caller) };
}

/** hides tells whether a ticket's patient is hidden from the caller (a patient or a display, someone else's ticket). */
export function hides(caller: QueueCaller, row: TicketRow): boolean {
  return caller.hidesPatients && row.patient_id !== caller.subject;
}

/** auditActor is who the audit entries a repository statement writes name, for `action`. */
export function auditActor(caller: QueueCaller, action: string): AuditActor {
  return { actor: caller.subject, role: caller.role, action, onBehalfOf: caller.onBehalfOf ?? null };
}

/** ticketAudit builds one audit entry per patient ticket read or changed (anonymous tickets carry no PHI). */
export function ticketAudit(caller: QueueCaller, action: string, rows: readonly TicketRow[], at: Date): NewAuditLogRow[] {
  return auditEntries(caller, action, at, "ticket", rows.filter((r) => r.patient_id !== null).map((r) => r.ticket_id));
}
