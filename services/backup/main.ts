// The BackupService as its own process: `node dist/services/backup/main.js` or `npm run serve -- backup`.
import { serveService } from "../runtime/serve-service.js";
import { backupModule } from "./backup.module.js";

await serveService(backupModule);
