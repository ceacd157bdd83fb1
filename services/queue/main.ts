// The QueueService as its own process: `node dist/services/queue/main.js` or `npm run serve -- queue`.
import { serveService } from "../runtime/serve-service.js";
import { queueModule } from "./queue.module.js";

await serveService(queueModule);
