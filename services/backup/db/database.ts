import type { Kysely, Transaction } from "kysely";
import type { OperatorAuditLogTable } from "../../runtime/db/operator-audit-log.table.js";
import type { BackupTable } from "./backup.table.js";

/** Database is the backup service's schema as Kysely sees it (tables qualified with "backup."). */
export interface Database {
  /** backup.backups: the catalog. */
  "backup.backups": BackupTable;
  /** backup.audit_log: append-only audit trail of restores and prunes. */
  "backup.audit_log": OperatorAuditLogTable;
}

/** Db is a handle repositories accept: the database or a transaction, as the caller decides. */
export type Db = Kysely<Database> | Transaction<Database>;
