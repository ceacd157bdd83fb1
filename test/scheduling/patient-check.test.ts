// The patient check (issue 21 item 5): with PATIENT_CHECK on, every new booking (BookAppointment,
// HoldSlot, BookSeries, JoinWaitlist) and ticket (IssueTicket) that names a patientId needs a patient
// record: FAILED_PRECONDITION PATIENT_NOT_FOUND for an id with no record (nothing written, no id in
// the words), PATIENT_MERGED naming the survivor for a merged record (the id is never changed
// silently), UNAVAILABLE PATIENT_SERVICE_UNAVAILABLE while the patient service cannot answer;
// anonymous walk-ins stay allowed; a booking records its location on the record.
import t from "tap";
import { sql } from "kysely";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService, IssueTicketRequestSchema } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { BookAppointmentRequestSchema, SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { RecurrenceFrequency } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { createPeers } from "../../services/runtime/clients/peers.js";
import { PeerPatientDirectory } from "../../services/runtime/clients/patient-directory.js";
import type { DomainError } from "../../services/runtime/errors.js";
import { failure, rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { callerContext } from "../helpers/handler-context.js";
import { directSchedulingService, schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { seedPatient } from "../helpers/seed-patients.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";
import { insertVisitType } from "../helpers/visit-types.js";
import { createTcpProxy } from "../system/tcp-proxy.js";

const HOUR = 3_600_000;
const sys = await startTestSystem(t, { env: { PATIENT_CHECK: "on" } });
const db = await systemDb(sys);
const reception = await schedulingClient(sys, "receptionist", "rec-1");
const queue = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, await sys.token(["receptionist"], "rec-1")));
const providerId = await setUpProvider(reception, { providerId: "dr-check" });
await insertVisitType(db, { visitTypeId: "vt-check", providerIds: [providerId] });
await queue.createQueue({ queueId: "desk", displayName: "Desk", prefix: "DK", timeZone: "UTC" });
const day = Math.ceil(Date.now() / (24 * HOUR)) * 24 * HOUR + 24 * HOUR;
const at = (hours: number) => timestampFromDate(new Date(day + hours * HOUR));

await seedPatient(db, sys.runtime.config, "pat-real");
await seedPatient(db, sys.runtime.config, "pat-survivor");
await seedPatient(db, sys.runtime.config, "pat-old");
await sql`update patient.patients set merged_into = 'pat-survivor' where patient_id = 'pat-old'`.execute(db);

/** newWrites are one call of each RPC the check guards, for `patientId` (`n` keeps requestIds and times apart). */
const newWrites = (patientId: string, n: number): Record<string, () => Promise<unknown>> => ({
  BookAppointment: () => reception.bookAppointment({ requestId: `b-${patientId}-${n}`, providerId, patientId, startTime: at(n), duration: { seconds: 900n } }),
  HoldSlot: () => reception.holdSlot({ requestId: `h-${patientId}-${n}`, visitTypeId: "vt-check", providerId, patientId, startTime: at(n + 0.25) }),
  BookSeries: () =>
    reception.bookSeries({ requestId: `s-${patientId}-${n}`, visitTypeId: "vt-check", providerId, patientId, firstStartTime: at(n + 0.5), recurrence: { frequency: RecurrenceFrequency.WEEKLY, interval: 1, count: 2 } }),
  JoinWaitlist: () => reception.joinWaitlist({ requestId: `w-${patientId}-${n}`, providerId, patientId, windowStartTime: at(n + 100), windowEndTime: at(n + 101) }),
  IssueTicket: () => queue.issueTicket({ requestId: `t-${patientId}-${n}`, queueId: "desk", patientId, priority: TicketPriority.ROUTINE }),
});

t.test("an id with no patient record is refused on every new booking and ticket, and nothing is written", async (t) => {
  for (const [rpc, call] of Object.entries(newWrites("pat-nobody", 1))) {
    const got = await rpcErrorInfoOf(call());
    t.match(got, { code: Code.FailedPrecondition, reason: "PATIENT_NOT_FOUND", message: "there is no patient record with this id; register the patient first" }, rpc);
  }
  const written = await sql<{ n: string }>`select (select count(*) from scheduling.appointments where patient_id = 'pat-nobody')
      + (select count(*) from scheduling.waitlist where patient_id = 'pat-nobody') + (select count(*) from queue.tickets where patient_id = 'pat-nobody') as n`.execute(db);
  t.equal(String(written.rows[0].n), "0", "nothing written");
});

t.test("a merged record is refused with its survivor named, never silently swapped", async (t) => {
  for (const [rpc, call] of Object.entries(newWrites("pat-old", 2))) {
    const got = await rpcErrorInfoOf(call());
    t.match(got, { code: Code.FailedPrecondition, reason: "PATIENT_MERGED", metadata: { survivorPatientId: "pat-survivor" } }, rpc);
    t.notMatch(got.message ?? "", /pat-/, `${rpc}: no ids in the words`);
  }
});

t.test("an existing record books and queues; the location is recorded on the record", async (t) => {
  for (const [rpc, call] of Object.entries(newWrites("pat-real", 3))) t.equal((await rpcErrorInfoOf(call())).code, "OK", rpc);
  const where = await sql<{ location_id: string }>`select location_id from patient.patient_locations where patient_id = 'pat-real'`.execute(db);
  t.same(where.rows.map((r) => r.location_id), ["default"], "served at the default location");
  const audit = await sql<{ n: string }>`select count(*)::text as n from patient.audit_log where action = 'ResolvePatient' and record_id = 'pat-real'`.execute(db);
  t.equal(audit.rows[0].n, "1", "the new location is audited once");
});

t.test("anonymous walk-ins need no patient", async (t) => {
  const walkIn = await queue.issueTicket({ requestId: "walk-in-1", queueId: "desk", priority: TicketPriority.ROUTINE });
  t.equal(walkIn.ticket?.patientId, "");
});

t.test("while the patient service cannot answer, bookings and tickets are UNAVAILABLE and nothing is written", async (t) => {
  const proxy = await createTcpProxy({ port: sys.grpc.port });
  t.teardown(() => proxy.close());
  proxy.setMode({ kind: "down" });
  const token = await sys.token(["service"], "svc-test");
  const peers = createPeers({ upstreams: { scheduling: [], queue: [], lock: [], backup: [], patient: [`127.0.0.1:${proxy.port}`] }, token: () => token });
  t.teardown(() => peers.close());
  const patients = new PeerPatientDirectory(peers);
  const scheduling = directSchedulingService(t, { db, patients });
  const queueSvc = new QueueServiceImpl({ db, patients });
  t.teardown(() => queueSvc.close());
  const book = () =>
    scheduling.bookAppointment(
      create(BookAppointmentRequestSchema, { requestId: "down-b", providerId, patientId: "pat-real", startTime: at(40), duration: { seconds: 900n } }),
      callerContext(SchedulingService.method.bookAppointment, "receptionist"),
    );
  const issue = () =>
    queueSvc.issueTicket(create(IssueTicketRequestSchema, { requestId: "down-t", queueId: "desk", patientId: "pat-real", priority: TicketPriority.ROUTINE }), callerContext(QueueService.method.issueTicket, "receptionist"));
  for (const [rpc, call] of Object.entries({ BookAppointment: book, IssueTicket: issue })) {
    const err = (await failure(call())) as DomainError;
    t.equal(err.code, Code.Unavailable, `${rpc}: UNAVAILABLE`);
    t.equal(err.reason, "PATIENT_SERVICE_UNAVAILABLE", rpc);
  }
  const anonymous = await queueSvc.issueTicket(create(IssueTicketRequestSchema, { requestId: "down-walk-in", queueId: "desk", priority: TicketPriority.ROUTINE }), callerContext(QueueService.method.issueTicket, "receptionist"));
  t.ok(anonymous.ticket, "a walk-in is still issued");
  proxy.setMode({ kind: "pass" });
  const deadline = Date.now() + 60_000;
  let booked: unknown;
  while (Date.now() < deadline) {
    booked = await failure(book());
    if (booked === "the call succeeded") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(booked, "the call succeeded", "books once the patient service answers again");
});

t.test("the check is the patient service's ResolvePatient, for the service role only", async (t) => {
  const asService = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(["service"], "svc-test")));
  t.same(await asService.resolvePatient({ patientId: "pat-old" }), { $typeName: "medschedule.patient.v1.ResolvePatientResponse", exists: true, survivorPatientId: "pat-survivor" });
  t.match(await asService.resolvePatient({ patientId: "pat-nobody" }), { exists: false, survivorPatientId: "" });
  const staff = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(["receptionist"], "rec-1")));
  t.equal((await rpcErrorInfoOf(staff.resolvePatient({ patientId: "pat-real" }))).code, Code.PermissionDenied);
  const bad = await rpcErrorInfoOf(asService.resolvePatient({ patientId: "pat real", locationId: "no/where" }));
  t.equal(bad.code, Code.InvalidArgument);
});
