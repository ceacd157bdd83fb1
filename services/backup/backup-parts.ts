import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { Database } from "./db/database.js";
import type { BackupEngines } from "./engines/backup-engine.port.js";
import type { BackupStore } from "./store/backup-store.port.js";

/** BackupParts are what the backup domain works with; BackupServiceImpl builds them once from its dependencies. */
export interface BackupParts {
  /** db holds the backup catalog and its audit log. */
  db: Kysely<Database>;
  /** clock dates catalog entries and audit rows, and tells a backup's age. */
  clock: Clock;
  /** logger reports background work. */
  logger?: Logger;
  /** store holds the backup files. */
  store: BackupStore;
  /** engines dump the targets, restore files into scratch copies and over the live data. */
  engines: BackupEngines;
}
