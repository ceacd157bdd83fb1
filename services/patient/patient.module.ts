import { fileURLToPath } from "node:url";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { PatientServiceImpl } from "./patient-service.js";
import { reportMergesPendingOf } from "./patient.metrics.js";
import { vaultFromConfig } from "./patient-vault.js";

/** patientModule mounts the PatientService: its schema, migrations and class (keys from PATIENT_ENCRYPTION_KEYS and PATIENT_INDEX_KEY). */
export const patientModule: ServiceModule = {
  name: "patient",
  defaultPort: 8085,
  schema: "patient",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [PatientService],
  create: (deps) => {
    const impl = new PatientServiceImpl({
      db: deps.db,
      vault: vaultFromConfig(deps.config),
      clock: deps.clock,
      logger: deps.logger,
      config: deps.config,
      peers: deps.peers,
      pageTokens: deps.pageTokens,
    });
    const unreport = reportMergesPendingOf(deps.db);
    return [{ service: PatientService, impl, close: () => (unreport(), impl.close()) }];
  },
};
