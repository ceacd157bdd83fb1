import { fileURLToPath } from "node:url";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { patientDirectoryFrom } from "../runtime/clients/patient-directory.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { loadSchedulingOptions } from "./scheduling-options.js";
import { SchedulingServiceImpl } from "./scheduling-service.js";

/** schedulingModule mounts the SchedulingService: its schema, migrations and class (settings from SCHEDULING_* env vars; the patient check from PATIENT_CHECK). */
export const schedulingModule: ServiceModule = {
  name: "scheduling",
  defaultPort: 8081,
  schema: "scheduling",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [SchedulingService],
  create: (deps) => {
    const impl = new SchedulingServiceImpl({ ...deps, patients: patientDirectoryFrom(deps.config, deps.peers) }, loadSchedulingOptions(process.env));
    return [{ service: SchedulingService, impl, close: () => impl.close() }];
  },
};
