import type { Kysely, Transaction } from "kysely";
import type { AuditLogTable } from "../../runtime/audit.js";
import type { RequestKeyTable } from "../../runtime/idempotency.js";
import type { AvailabilityTable } from "./availability.table.js";
import type { ChangeTable } from "./change.table.js";
import type { LocationChangeTable } from "./location-change.table.js";
import type { LocationTable } from "./location.table.js";
import type { ProviderTable } from "./provider.table.js";
import type { ResourceTable } from "./resource.table.js";
import type { VisitTypeTable } from "./visit-type.table.js";
import type { WaitlistTable } from "./waitlist.table.js";

/** Database is the scheduling schema as Kysely sees it (appointments are read with SQL: ranges). */
export interface Database {
  /** scheduling.providers. */
  "scheduling.providers": ProviderTable;
  /** scheduling.resources. */
  "scheduling.resources": ResourceTable;
  /** scheduling.availability. */
  "scheduling.availability": AvailabilityTable;
  /** scheduling.request_keys. */
  "scheduling.request_keys": RequestKeyTable;
  /** scheduling.audit_log. */
  "scheduling.audit_log": AuditLogTable;
  /** scheduling.waitlist. */
  "scheduling.waitlist": WaitlistTable;
  /** scheduling.changes. */
  "scheduling.changes": ChangeTable;
  /** scheduling.locations. */
  "scheduling.locations": LocationTable;
  /** scheduling.location_changes. */
  "scheduling.location_changes": LocationChangeTable;
  /** scheduling.visit_types. */
  "scheduling.visit_types": VisitTypeTable;
}

/** Db is the database or a transaction, as the caller decides. */
export type Db = Kysely<Database> | Transaction<Database>;
