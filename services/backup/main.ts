// The BackupService as its own process: `node dist/services/backup/main.js` or `npm run serve -- backup`.
import { loadConfig } from "../runtime/config.js";
import { exitOnStartupError } from "../runtime/host.js";
import { serveService } from "../runtime/process/serve-service.js";
import { backupModule } from "./backup.module.js";
import { checkBackupSchedules } from "./schedule-config.js";

// The BACKUP_SCHEDULE_* cron expressions are checked before anything starts: a bad one exits 2 with one line.
try {
  checkBackupSchedules(loadConfig(process.env, { port: backupModule.defaultPort }));
} catch (err) {
  exitOnStartupError(backupModule.name, err);
}
await serveService(backupModule);
