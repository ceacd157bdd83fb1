// The QueueService as its own process: `node dist/services/queue/main.js` or `npm run serve -- queue`.
import { exitOnStartupError } from "../runtime/host.js";
import { serveService } from "../runtime/process/serve-service.js";
import { loadQueueOptions } from "./queue-options.js";
import { queueModule } from "./queue.module.js";

// The QUEUE_* settings are checked before anything starts: a bad one exits 2 with one line.
try {
  loadQueueOptions(process.env);
} catch (err) {
  exitOnStartupError(queueModule.name, err);
}
await serveService(queueModule);
