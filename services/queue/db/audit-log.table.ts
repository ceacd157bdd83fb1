import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** AuditLogTable is a row of queue.audit_log: who read or changed which patient record, when. */
export interface AuditLogTable {
  /** id orders the log (int8: a string when read). */
  id: Generated<ColumnType<string, never, never>>;
  /** at is when. */
  at: Date;
  /** actor is the token's subject. */
  actor: string;
  /** role is the role the call was allowed under. */
  role: string;
  /** action is the RPC, e.g. "GetTicket". */
  action: string;
  /** record_type is "ticket" or "queue". */
  record_type: string | null;
  /** record_id is the record's id. */
  record_id: string | null;
  /** on_behalf_of is the end user a service acted for. */
  on_behalf_of: string | null;
}

/** AuditLogRow is an audit entry as read. */
export type AuditLogRow = Selectable<AuditLogTable>;
/** NewAuditLogRow is an audit entry to insert. */
export type NewAuditLogRow = Insertable<AuditLogTable>;
