import type { Kysely, Transaction } from "kysely";
import type { AuditLogTable } from "../../runtime/audit.js";
import type { RequestKeyTable } from "../../runtime/idempotency.js";
import type { ChangeTable } from "./change.table.js";
import type { CounterTable } from "./counter.table.js";
import type { QueueTable } from "./queue.table.js";
import type { TicketDayTable } from "./ticket-day.table.js";
import type { TicketTable } from "./ticket.table.js";

/** Database is the queue service's schema as Kysely sees it (tables qualified with "queue."). */
export interface Database {
  /** queue.queues: queues. */
  "queue.queues": QueueTable;
  /** queue.counters: counters per queue. */
  "queue.counters": CounterTable;
  /** queue.ticket_days: last ticket number per queue and local day. */
  "queue.ticket_days": TicketDayTable;
  /** queue.tickets: tickets. */
  "queue.tickets": TicketTable;
  /** queue.changes: the WatchQueue change log. */
  "queue.changes": ChangeTable;
  /** queue.request_keys: requestId replay store (runtime/idempotency.ts). */
  "queue.request_keys": RequestKeyTable;
  /** queue.audit_log: append-only audit trail (runtime/audit.ts). */
  "queue.audit_log": AuditLogTable;
}

/** Db is a handle repositories accept: the database or a transaction, as the caller decides. */
export type Db = Kysely<Database> | Transaction<Database>;
