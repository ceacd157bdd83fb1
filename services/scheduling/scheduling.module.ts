import { fileURLToPath } from "node:url";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { patientDirectoryFrom } from "../runtime/clients/patient-directory.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { loadSchedulingOptions } from "./scheduling-options.js";
import { ReasonSealer } from "./reason-sealer.js";
import { reasonVaultFromConfig } from "./reason-vault.js";
import { SchedulingServiceImpl } from "./scheduling-service.js";

/** schedulingModule mounts the SchedulingService: its schema, migrations and class (settings from SCHEDULING_* env vars; the patient check from PATIENT_CHECK; refuses to start without SCHEDULING_ENCRYPTION_KEYS). */
export const schedulingModule: ServiceModule = {
  name: "scheduling",
  defaultPort: 8081,
  schema: "scheduling",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [SchedulingService],
  create: (deps) => {
    const reasons = reasonVaultFromConfig(deps.config);
    const impl = new SchedulingServiceImpl({ ...deps, reasons, patients: patientDirectoryFrom(deps.config, deps.peers, deps.logger) }, loadSchedulingOptions(process.env));
    // Seals what an older version left in plaintext and re-encrypts under a rotated key, once per start.
    const sealer = new ReasonSealer(deps.db, reasons, deps.logger);
    const close = async () => {
      await sealer.close();
      await impl.close();
    };
    return [{ service: SchedulingService, impl, close }];
  },
};
