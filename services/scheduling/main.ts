// The SchedulingService as its own process: `node dist/services/scheduling/main.js` or `npm run serve -- scheduling`.
import { serveService } from "../runtime/process/serve-service.js";
import { schedulingModule } from "./scheduling.module.js";

await serveService(schedulingModule);
