// After A is merged into B and B into C, GetPatient(A) answers the surviving record C
// (Patient.merged_into_patient_id: "the surviving record's id"), as ResolvePatient does: merging B
// repoints every record merged into B (patient-merge.ts). Found by an independent tester.
import t from "tap";
import { createClient } from "@connectrpc/connect";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { systemDb } from "../helpers/scheduling.js";
import { seedPatient } from "../helpers/seed-patients.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const sys = await startTestSystem(t, { env: { PATIENT_CHECK: "on" } });
const db = await systemDb(sys);
const patients = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(["admin"], "adm-1")));
const service = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(["service"], "svc-1")));
for (const id of ["pat-a", "pat-b", "pat-c"]) await seedPatient(db, sys.runtime.config, id);

t.test("a record merged into a record merged later points to the final survivor", async (t) => {
  await patients.mergePatients({ requestId: "m-ab", survivorPatientId: "pat-b", mergedPatientId: "pat-a" });
  await patients.mergePatients({ requestId: "m-bc", survivorPatientId: "pat-c", mergedPatientId: "pat-b" });
  t.equal((await service.resolvePatient({ patientId: "pat-a" })).survivorPatientId, "pat-c", "ResolvePatient follows the chain");
  t.equal((await patients.getPatient({ patientId: "pat-a" })).patient?.mergedIntoPatientId, "pat-c", "GetPatient names the survivor, not a merged record");
});
