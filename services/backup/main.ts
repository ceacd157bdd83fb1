// The BackupService as its own process: `node dist/services/backup/main.js` or `npm run serve -- backup`.
import { ConfigError, loadConfig } from "../runtime/config.js";
import { exitOnStartupError } from "../runtime/host.js";
import { serveService } from "../runtime/serve-service.js";
import { CronError, parseCron } from "./cron.js";
import { backupModule } from "./backup.module.js";

// The BACKUP_SCHEDULE_* cron expressions are checked before anything starts: a bad one exits 2 with one line.
try {
  const config = loadConfig(process.env, { port: backupModule.defaultPort });
  for (const [name, expr] of [["BACKUP_SCHEDULE_POSTGRES", config.backupSchedulePostgres], ["BACKUP_SCHEDULE_REDIS", config.backupScheduleRedis]]) {
    if (!expr) continue;
    try {
      parseCron(expr);
    } catch (err) {
      throw err instanceof CronError ? new ConfigError(`${name}: ${err.message}`) : err;
    }
  }
} catch (err) {
  exitOnStartupError(backupModule.name, err);
}
await serveService(backupModule);
