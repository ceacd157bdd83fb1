import { fileURLToPath } from "node:url";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { patientDirectoryFrom } from "../runtime/clients/patient-directory.js";
import type { ServiceModule } from "../runtime/service-module.js";
import { loadQueueOptions } from "./queue-options.js";
import { QueueServiceImpl } from "./queue-service.js";

/** queueModule mounts the QueueService: its schema, migrations and class (settings from QUEUE_* env vars; the patient check from PATIENT_CHECK). */
export const queueModule: ServiceModule = {
  name: "queue",
  defaultPort: 8082,
  schema: "queue",
  migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
  services: [QueueService],
  create: (deps) => {
    const impl = new QueueServiceImpl({ ...deps, patients: patientDirectoryFrom(deps.config, deps.peers, deps.logger) }, loadQueueOptions(process.env));
    // Without close the change sequencer's sweep and WatchQueue's poll outlive the database.
    return [{ service: QueueService, impl, close: () => impl.close() }];
  },
};
