import type { Kysely, Transaction } from "kysely";
import type { OperatorAuditLogTable } from "../../runtime/db/operator-audit-log.table.js";
import type { FencingEpochTable } from "./fencing-epoch.table.js";
import type { LeaseTable } from "./lease.table.js";

/** Database is the lock service's schema as Kysely sees it (tables qualified with "lock."). */
export interface Database {
  /** lock.fencing_epoch: the one row holding the fencing epoch. */
  "lock.fencing_epoch": FencingEpochTable;
  /** lock.audit_log: append-only audit trail of ForceRelease, AdvanceEpoch and epoch bumps. */
  "lock.audit_log": OperatorAuditLogTable;
  /** lock.leases: the Postgres backend's leases and fencing counters. */
  "lock.leases": LeaseTable;
}

/** Db is a handle repositories accept: the database or a transaction, as the caller decides. */
export type Db = Kysely<Database> | Transaction<Database>;
