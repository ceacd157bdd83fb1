import { fileURLToPath } from "node:url";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { loadSchedulingOptions } from "./scheduling-options.js";
import { reasonVaultFromConfig } from "./reason-vault.js";
import { SchedulingServiceImpl } from "./scheduling-service.js";

/** schedulingModule mounts the SchedulingService: its schema, migrations and class (settings from SCHEDULING_* env vars; refuses to start without SCHEDULING_ENCRYPTION_KEYS). */
export const schedulingModule: ServiceModule = {
  name: "scheduling",
  defaultPort: 8081,
  schema: "scheduling",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [SchedulingService],
  create: (deps) => {
    const impl = new SchedulingServiceImpl({ ...deps, reasons: reasonVaultFromConfig(deps.config) }, loadSchedulingOptions(process.env));
    return [{ service: SchedulingService, impl, close: () => impl.close() }];
  },
};
