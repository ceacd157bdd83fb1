/**
 * The record audit log, the same in every service that holds patient records: one row per record a
 * caller read or changed (`<schema>.audit_log`: scheduling's appointments and waitlist entries, the
 * queue's tickets), append-only (a trigger refuses UPDATE and DELETE). The operators' own actions on
 * locks and backups go to the operator audit log instead (OperatorAuditLog below; its rows in
 * db/operator-audit-log.table.ts).
 */
import type { ColumnType, Generated, Insertable, Kysely } from "kysely";
import type { Caller } from "./caller.js";
import type { NewOperatorAuditLogRow, OperatorAuditLogTable } from "./db/operator-audit-log.table.js";
import type { AnyServiceDb } from "./idempotency.js";

/** AuditLogTable is a row of a service's `<schema>.audit_log`: who read or changed which record, when. */
export interface AuditLogTable {
  /** id orders the log (int8: a string when read). */
  id: Generated<ColumnType<string, never, never>>;
  /** at is when. */
  at: Date;
  /** actor is the token's subject. */
  actor: string;
  /** role is the role the call was allowed under. */
  role: string;
  /** action is the RPC, e.g. "GetTicket", or "DeniedRead". */
  action: string;
  /** record_type is the kind of record, e.g. "appointment", "waitlist", "ticket", "queue". */
  record_type: string | null;
  /** record_id is the record's id. */
  record_id: string | null;
  /** on_behalf_of is the end user a service acted for. */
  on_behalf_of: string | null;
}

/** NewAuditLogRow is an audit entry to insert. */
export type NewAuditLogRow = Insertable<AuditLogTable>;

/** AuditBase is an audit entry without its record: who, what, when. */
export type AuditBase = Omit<NewAuditLogRow, "record_type" | "record_id">;

/** auditBase is who did `action` at `at`, for entries of several records. */
export function auditBase(caller: Caller, action: string, at: Date): AuditBase {
  return { at, actor: caller.subject, role: caller.role, action, on_behalf_of: caller.onBehalfOf ?? null };
}

/** auditEntries are one entry per record of `type` with the given ids. */
export function auditEntries(caller: Caller, action: string, at: Date, type: string, ids: readonly string[]): NewAuditLogRow[] {
  const base = auditBase(caller, action, at);
  return ids.map((id) => ({ ...base, record_type: type, record_id: id }));
}

/** AuditLog appends to one service's `<schema>.audit_log`. */
export class AuditLog<T extends `${string}.audit_log`> {
  constructor(private readonly table: T) {}

  /** append adds entries (nothing for none), in the caller's transaction when given one. */
  async append(db: AnyServiceDb, entries: readonly NewAuditLogRow[]): Promise<void> {
    if (entries.length === 0) return;
    const d = db as Kysely<{ a: AuditLogTable }>;
    await d.insertInto(this.table as unknown as "a").values([...entries]).execute();
  }
}

/** OperatorAuditEntry is one entry of an operator audit log; detail is any JSON value. */
export type OperatorAuditEntry = Omit<NewOperatorAuditLogRow, "detail"> & { detail: unknown };

/** OperatorAuditLog appends to one service's operator audit log (lock.audit_log, backup.audit_log). */
export class OperatorAuditLog<T extends `${string}.audit_log`> {
  constructor(private readonly table: T) {}

  /** append adds an entry (detail written as its JSON text), in the caller's transaction when given one. */
  async append(db: AnyServiceDb, entry: OperatorAuditEntry): Promise<void> {
    const d = db as Kysely<{ o: OperatorAuditLogTable }>;
    await d.insertInto(this.table as unknown as "o").values({ ...entry, detail: JSON.stringify(entry.detail ?? null) }).execute();
  }
}
