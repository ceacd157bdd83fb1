import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { AppointmentAccess } from "./appointment-access.js";
import type { Database } from "./db/database.js";
import type { ProviderLock } from "./provider-lock.js";
import type { ReasonVault } from "./reason-vault.js";
import type { SchedulingOptions } from "./scheduling-options.js";
import type { WriteTransactions } from "./write-transaction.js";

/** SchedulingContext is what the scheduling service's parts (booking, lifecycle, waitlist, watch) share, built once by the service. */
export interface SchedulingContext {
  /** db is the service database, migrated. */
  db: Kysely<Database>;
  /** clock tells the time. */
  clock: Clock;
  /** logger reports background trouble. */
  logger: Logger | undefined;
  /** options are the service's settings. */
  options: SchedulingOptions;
  /** writes is the one way to write (write-transaction.ts). */
  writes: WriteTransactions;
  /** lock is the provider's lock and the fenced requestId claim (provider-lock.ts). */
  lock: ProviderLock;
  /** reasons seal and open the free text kept about a patient's visit (SCHEDULING_ENCRYPTION_KEYS). */
  reasons: ReasonVault;
  /** access reads what a call works on, as the caller may see it (appointment-access.ts). */
  access: AppointmentAccess;
}
