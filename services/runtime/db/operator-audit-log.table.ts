import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/**
 * OperatorAuditLogTable is a row of a service's operator audit log (lock.audit_log, backup.audit_log):
 * who did what to which resource, with a JSON detail — ForceRelease and AdvanceEpoch, restores and
 * prunes. Each of those services creates the table in its own schema, with the same columns.
 */
export interface OperatorAuditLogTable {
  /** id orders the log (int8: a string when read). */
  id: Generated<ColumnType<string, never, never>>;
  /** at is when (the database's now() unless given). */
  at: Generated<Date>;
  /** actor is the caller's subject, or the service's own name for its own actions. */
  actor: string | null;
  /** role is the role under which it acted ("system" for the service's own actions). */
  role: string | null;
  /** action names what was done, e.g. "FORCE_RELEASE", "RestoreBackup". */
  action: string;
  /** resource is the lock key or backup id concerned, if any. */
  resource: string | null;
  /** detail is extra JSON (written as its text). */
  detail: ColumnType<unknown, string | null, string | null>;
}

/** OperatorAuditLogRow is an operator audit entry as read. */
export type OperatorAuditLogRow = Selectable<OperatorAuditLogTable>;
/** NewOperatorAuditLogRow is an operator audit entry to insert. */
export type NewOperatorAuditLogRow = Insertable<OperatorAuditLogTable>;
