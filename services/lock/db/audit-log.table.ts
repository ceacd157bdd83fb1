import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** AuditLogTable is a row of lock.audit_log: ForceRelease, AdvanceEpoch, epoch bumps and other operator actions. */
export interface AuditLogTable {
  /** id orders the log (int8: a string when read). */
  id: Generated<ColumnType<string, never, never>>;
  /** at is when (the database's now() by default). */
  at: Generated<Date>;
  /** actor is the caller's subject, or "lock-service" for the service's own bumps. */
  actor: string | null;
  /** role is the role under which it acted ("system" for the service's own bumps). */
  role: string | null;
  /** action is e.g. "FORCE_RELEASE", "ADVANCE_EPOCH", "EPOCH_BUMP". */
  action: string;
  /** resource is the lock key concerned, if any. */
  resource: string | null;
  /** detail is extra JSON (written as its text). */
  detail: ColumnType<unknown, string | null, string | null>;
}

/** AuditLogRow is an audit entry as read. */
export type AuditLogRow = Selectable<AuditLogTable>;
/** NewAuditLogRow is an audit entry to insert. */
export type NewAuditLogRow = Insertable<AuditLogTable>;
