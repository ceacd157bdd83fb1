// A booking that is refused must not widen who may read the patient: the patient check asks only
// whether the record exists before the booking is written, and the booking's location is recorded
// as a place the patient is served only once the booking is written (scheduling/patient-check.ts).
// Found by an independent tester: a receptionist of "default" could read a patient of another
// location without an accessReason by sending a BookAppointment that fails (a time in the past).
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { seedPatient } from "../helpers/seed-patients.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const sys = await startTestSystem(t, { env: { PATIENT_CHECK: "on" } });
const db = await systemDb(sys);
const admin = await schedulingClient(sys, "admin", "adm-1");
const providerId = await setUpProvider(admin, { providerId: "dr-probe" });
await seedPatient(db, sys.runtime.config, "pat-north", { locationId: "north" });

const token = await sys.token(["receptionist"], "rec-default", { locations: ["default"] });
const patients = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, token));
const scheduling = createClient(SchedulingService, tokenGrpcTransport(sys.grpc.port, token));

t.test("a refused booking does not let staff of its location read the patient", async (t) => {
  const before = await rpcErrorInfoOf(patients.getPatient({ patientId: "pat-north" }));
  t.equal(before.code, Code.PermissionDenied, "refused before: the patient is not at default");
  const booking = await rpcErrorInfoOf(
    scheduling.bookAppointment({ requestId: "probe-past", providerId, patientId: "pat-north", startTime: timestampFromDate(new Date("2020-01-01T08:00:00Z")), duration: { seconds: 900n } }),
  );
  t.not(booking.code, "OK", "the booking is refused");
  const after = await rpcErrorInfoOf(patients.getPatient({ patientId: "pat-north" }));
  t.equal(after.code, Code.PermissionDenied, "still refused after a booking that did not happen");
});
