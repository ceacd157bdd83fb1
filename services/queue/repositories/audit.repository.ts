import type { NewAuditLogRow } from "../db/audit-log.table.js";
import type { Db } from "../db/database.js";

/** appendAudit appends entries to the audit log (nothing for none). */
export async function appendAudit(db: Db, entries: readonly NewAuditLogRow[]): Promise<void> {
  if (entries.length === 0) return;
  await db.insertInto("queue.audit_log").values([...entries]).execute();
}
