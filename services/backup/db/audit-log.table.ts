import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** AuditLogTable is a row of backup.audit_log: restores, prunes and other operator actions. */
export interface AuditLogTable {
  /** id orders the log (int8: a string when read). */
  id: Generated<ColumnType<string, never, never>>;
  /** at is when. */
  at: Date;
  /** actor is the token's subject. */
  actor: string | null;
  /** role is the role the call was allowed under. */
  role: string | null;
  /** action is e.g. "RestoreBackup". */
  action: string;
  /** resource is the backup id. */
  resource: string | null;
  /** detail is json. */
  detail: ColumnType<unknown, string | null, string | null>;
}

/** AuditLogRow is an audit entry as read. */
export type AuditLogRow = Selectable<AuditLogTable>;
/** NewAuditLogRow is an audit entry to insert. */
export type NewAuditLogRow = Insertable<AuditLogTable>;
