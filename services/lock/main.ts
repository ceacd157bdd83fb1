// The LockService as its own process: `node dist/services/lock/main.js` or `npm run serve -- lock`.
import { serveService } from "../runtime/process/serve-service.js";
import { lockModule } from "./lock.module.js";

await serveService(lockModule);
