import { fileURLToPath } from "node:url";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { LockServiceImpl } from "./lock-service.js";

/** lockModule mounts the LockService: its schema, migrations and class. */
export const lockModule: ServiceModule = {
  name: "lock",
  defaultPort: 8083,
  schema: "lock",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [LockService],
  create: (deps) => {
    const impl = new LockServiceImpl(deps);
    return [{ service: LockService, impl, close: () => impl.close() }];
  },
};
