import type { NewOperatorAuditLogRow } from "../../runtime/db/operator-audit-log.table.js";
import type { Db } from "../db/database.js";

/** AuditEntry is one row of the backup audit trail; detail is any JSON value. */
export type AuditEntry = Omit<NewOperatorAuditLogRow, "detail"> & { detail: unknown };

/** appendAudit writes one row of the backup audit trail. */
export async function appendAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db
    .insertInto("backup.audit_log")
    .values({ ...entry, detail: JSON.stringify(entry.detail ?? null) })
    .execute();
}
