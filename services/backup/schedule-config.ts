import { ConfigError, type Config } from "../runtime/config.js";
import { CronError, parseCron } from "./cron.js";

/**
 * checkBackupSchedules parses BACKUP_SCHEDULE_POSTGRES and BACKUP_SCHEDULE_REDIS (empty: no
 * schedule). A bad one is a ConfigError naming it, so every process that runs the schedule (the
 * backup service, npm start) refuses to start with one line and exit 2 instead of serving without it.
 */
export function checkBackupSchedules(config: Pick<Config, "backupSchedulePostgres" | "backupScheduleRedis">): void {
  for (const [name, expr] of [["BACKUP_SCHEDULE_POSTGRES", config.backupSchedulePostgres], ["BACKUP_SCHEDULE_REDIS", config.backupScheduleRedis]]) {
    if (!expr) continue;
    try {
      parseCron(expr);
    } catch (err) {
      throw err instanceof CronError ? new ConfigError(`${name}: ${err.message}`) : err;
    }
  }
}
