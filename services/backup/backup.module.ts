import { fileURLToPath } from "node:url";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { BackupServiceImpl } from "./backup-service.js";

/**
 * backupModule mounts the BackupService: its schema, migrations and class (store under BACKUP_DIR,
 * schedules from BACKUP_SCHEDULE_*, retention from BACKUP_KEEP_*).
 */
export const backupModule: ServiceModule = {
  name: "backup",
  defaultPort: 8084,
  schema: "backup",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [BackupService],
  privateDirs: (config) => ({ BACKUP_DIR: config.backupDir }),
  create: (deps) => {
    const impl = new BackupServiceImpl({
      db: deps.db,
      clock: deps.clock,
      logger: deps.logger,
      config: deps.config,
      peers: deps.peers,
      database: deps.database,
      pageTokens: deps.pageTokens,
    });
    return [{ service: BackupService, impl, close: () => impl.close() }];
  },
};
