import type { Db } from "../db/database.js";

/** AuditEntry is one row of lock.audit_log. */
export interface AuditEntry {
  /** actor is the caller's subject (or "lock-service"). */
  actor: string;
  /** role is the role under which it acted. */
  role: string;
  /** action is e.g. "FORCE_RELEASE", "ADVANCE_EPOCH". */
  action: string;
  /** resource is the lock key concerned, if any. */
  resource: string | null;
  /** detail is extra JSON. */
  detail: Record<string, unknown>;
}

/** writeAudit appends a row to lock.audit_log. */
export async function writeAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db
    .insertInto("lock.audit_log")
    .values({ actor: entry.actor, role: entry.role, action: entry.action, resource: entry.resource, detail: JSON.stringify(entry.detail) })
    .execute();
}
