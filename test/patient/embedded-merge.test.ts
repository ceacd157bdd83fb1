// The merge on the embedded path (`npm start`: PGlite, one database session, every service in one
// process): MergePatients, its first reassignment through scheduling and queue in-process, and the
// patient check of a new booking all run without waiting on each other's transactions.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { seedPatient } from "../helpers/seed-patients.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const HOUR = 3_600_000;
const sys = await startTestSystem(t, { embedded: true, env: { PATIENT_CHECK: "on" } });
const db = await systemDb(sys);
const reception = await schedulingClient(sys, "receptionist", "rec-1");
const queue = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, await sys.token(["receptionist"], "rec-1")));
const patients = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(["admin"], "adm-1")));
const providerId = await setUpProvider(reception, { providerId: "dr-embedded" });
await queue.createQueue({ queueId: "emb-desk", displayName: "Desk", prefix: "ED", timeZone: "UTC" });
const at = (hours: number) => timestampFromDate(new Date(Math.ceil(Date.now() / (24 * HOUR)) * 24 * HOUR + 24 * HOUR + hours * HOUR));

t.test("merge, reassignment and the patient check on PGlite", async (t) => {
  await seedPatient(db, sys.runtime.config, "pat-e-keep");
  await seedPatient(db, sys.runtime.config, "pat-e-dup");
  const a = (await reception.bookAppointment({ requestId: "e-a", providerId, patientId: "pat-e-dup", startTime: at(9), duration: { seconds: 900n } })).appointment!;
  const tk = (await queue.issueTicket({ requestId: "e-t", queueId: "emb-desk", patientId: "pat-e-dup", priority: TicketPriority.ROUTINE })).ticket!;
  const merged = await patients.mergePatients({ requestId: "e-m", survivorPatientId: "pat-e-keep", mergedPatientId: "pat-e-dup" });
  t.equal(merged.patient?.patientId, "pat-e-keep");
  t.equal((await reception.getAppointment({ appointmentId: a.appointmentId })).appointment?.patientId, "pat-e-keep", "the appointment moved before MergePatients answered");
  t.equal((await queue.getTicket({ ticketId: tk.ticketId })).ticket?.patientId, "pat-e-keep", "the ticket too");
  t.equal((await patients.getPatient({ patientId: "pat-e-dup" })).patient?.mergedIntoPatientId, "pat-e-keep");
  const refused = await rpcErrorInfoOf(reception.bookAppointment({ requestId: "e-b", providerId, patientId: "pat-e-dup", startTime: at(10), duration: { seconds: 900n } }));
  t.match(refused, { code: Code.FailedPrecondition, reason: "PATIENT_MERGED", metadata: { survivorPatientId: "pat-e-keep" } });
});
