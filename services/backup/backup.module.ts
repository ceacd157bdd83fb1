import { fileURLToPath } from "node:url";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { BackupServiceImpl } from "./backup-service.js";

/** backupModule mounts the BackupService: its schema, migrations and class. */
export const backupModule: ServiceModule = {
  name: "backup",
  defaultPort: 8084,
  schema: "backup",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [BackupService],
  create: (deps) => [{ service: BackupService, impl: new BackupServiceImpl(deps) }],
};
