// The PatientService as its own process: `node dist/services/patient/main.js` or `npm run serve -- patient`.
import { serveService } from "../runtime/process/serve-service.js";
import { patientModule } from "./patient.module.js";

await serveService(patientModule);
