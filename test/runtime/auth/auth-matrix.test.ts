// Auth: for every RPC and every role, allowed/denied matches DESIGN.md section 5's table (copied here
// verbatim, so the code's ROLE_TABLE is checked against the design, not against itself), in both
// directions; "own" means allowed for the caller's own records and denied for another's.
import t from "tap";
import type { DescService, JsonObject } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT } from "jose";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { Health } from "../../../gen/health/v1/health_pb.js";
import { ROLES, type Role } from "../../../services/runtime/auth/role-table.js";
import { fixtureFor } from "../../fixtures/valid-requests.js";
import { callConnect, callGrpcJs } from "../../helpers/clients.js";
import { startTestSystem, TEST_SECRET } from "../../helpers/system.js";

// DESIGN.md section 5, "Who may call what" (columns: patient, receptionist, doctor, display, admin, service),
// with section 7's additions: CheckInAppointment is patient own too; locations, visit types, holds and series;
// PatientService (patients their own record, staff within their locations, the service role only
// ResolvePatient and the contact read) and the merge's ReassignPatient (service only).
const DESIGN_TABLE = `
| provider/resource/slot reads | yes | yes | yes | – | yes | yes |
| CreateProvider, CreateResource | – | yes | – | – | yes | yes |
| SetAvailability | – | yes | own | – | yes | yes |
| Book/Cancel/Reschedule/JoinWaitlist/AcceptOffer | own | yes | – | – | yes | yes |
| Get/List/WatchAppointments | own | yes | own | – | yes | yes |
| CheckInAppointment | own | yes | own | – | yes | yes |
| MarkNoShow, CompleteAppointment | – | yes | own | – | yes | yes |
| IssueTicket | own | yes | – | – | yes | yes |
| GetTicket | own | yes | yes | – | yes | yes |
| ListTickets, WatchQueue (patient ids hidden from patient and display) | yes | yes | yes | yes | yes | yes |
| CreateQueue, Open/CloseCounter, CallNext, Recall/Skip/Transfer/Complete/CancelTicket | – | yes | yes | – | yes | yes |
| Acquire/Release/Extend, ListLocks | – | – | – | – | yes | yes |
| ForceRelease | – | – | – | – | yes | – |
| AdvanceEpoch | – | – | – | – | – | yes |
| Get/ListBackups, StartBackup, VerifyBackup, PruneBackups | – | – | – | – | yes | yes |
| RestoreBackup | – | – | – | – | yes | – |
| location, visit type and slot search reads | yes | yes | yes | – | yes | yes |
| Create/UpdateLocation | – | – | – | – | yes | – |
| Create/UpdateVisitType | – | yes | – | – | yes | – |
| HoldSlot/BookSeries/CancelSeries | own | yes | – | – | yes | yes |
| CreatePatient | – | yes | yes | – | yes | – |
| Get/UpdatePatient | own | yes | yes | – | yes | – |
| SearchPatients | – | yes | yes | – | yes | – |
| MergePatients | – | yes | – | – | yes | – |
| ResolvePatient, GetContactDetails | – | – | – | – | – | yes |
| ReassignPatient (scheduling, queue) | – | – | – | – | – | yes |
`;

const S = "medschedule.scheduling.v1.SchedulingService/";
const Q = "medschedule.queue.v1.QueueService/";
const L = "medschedule.lock.v1.LockService/";
const B = "medschedule.backup.v1.BackupService/";
const P = "medschedule.patient.v1.PatientService/";
// Which RPCs each row of the table names. GetAvailability is a slot read; GetQueue and ListQueues
// are queue reads, added to the ListTickets row.
const ROW_RPCS: Record<string, string[]> = {
  "provider/resource/slot reads": [S + "GetProvider", S + "ListProviders", S + "ListResources", S + "GetAvailability", S + "ListAvailableSlots"],
  "CreateProvider, CreateResource": [S + "CreateProvider", S + "CreateResource"],
  SetAvailability: [S + "SetAvailability"],
  "Book/Cancel/Reschedule/JoinWaitlist/AcceptOffer": [S + "BookAppointment", S + "CancelAppointment", S + "RescheduleAppointment", S + "JoinWaitlist", S + "AcceptOffer"],
  "Get/List/WatchAppointments": [S + "GetAppointment", S + "ListAppointments", S + "WatchAppointments"],
  CheckInAppointment: [S + "CheckInAppointment"],
  "MarkNoShow, CompleteAppointment": [S + "MarkNoShow", S + "CompleteAppointment"],
  IssueTicket: [Q + "IssueTicket"],
  GetTicket: [Q + "GetTicket"],
  "ListTickets, WatchQueue (patient ids hidden from patient and display)": [Q + "ListTickets", Q + "WatchQueue", Q + "GetQueue", Q + "ListQueues"],
  "CreateQueue, Open/CloseCounter, CallNext, Recall/Skip/Transfer/Complete/CancelTicket": [
    Q + "CreateQueue", Q + "OpenCounter", Q + "CloseCounter", Q + "CallNext", Q + "RecallTicket", Q + "SkipTicket", Q + "MarkTicketNoShow", Q + "TransferTicket", Q + "CompleteTicket", Q + "CancelTicket",
  ],
  "Acquire/Release/Extend, ListLocks": [L + "Acquire", L + "Release", L + "Extend", L + "ListLocks"],
  ForceRelease: [L + "ForceRelease"],
  AdvanceEpoch: [L + "AdvanceEpoch"],
  "Get/ListBackups, StartBackup, VerifyBackup, PruneBackups": [B + "GetBackup", B + "ListBackups", B + "StartBackup", B + "VerifyBackup", B + "PruneBackups"],
  RestoreBackup: [B + "RestoreBackup"],
  "location, visit type and slot search reads": [S + "GetLocation", S + "ListLocations", S + "GetVisitType", S + "ListVisitTypes", S + "SearchSlots"],
  "Create/UpdateLocation": [S + "CreateLocation", S + "UpdateLocation"],
  "Create/UpdateVisitType": [S + "CreateVisitType", S + "UpdateVisitType"],
  "HoldSlot/BookSeries/CancelSeries": [S + "HoldSlot", S + "BookSeries", S + "CancelSeries"],
  CreatePatient: [P + "CreatePatient"],
  "Get/UpdatePatient": [P + "GetPatient", P + "UpdatePatient"],
  SearchPatients: [P + "SearchPatients"],
  MergePatients: [P + "MergePatients"],
  "ResolvePatient, GetContactDetails": [P + "ResolvePatient", P + "GetContactDetails"],
  "ReassignPatient (scheduling, queue)": [S + "ReassignPatient", Q + "ReassignPatient"],
};

type Cell = "yes" | "own" | "–";
const expected = new Map<string, Record<Role, Cell>>();
for (const line of DESIGN_TABLE.trim().split("\n")) {
  const cells = line.split("|").slice(1, -1).map((c) => c.trim());
  const [label, ...grants] = cells;
  const rpcs = ROW_RPCS[label];
  if (!rpcs) throw new Error(`no RPCs mapped for table row ${label}`);
  const row = Object.fromEntries(ROLES.map((r, i) => [r, grants[i] as Cell])) as Record<Role, Cell>;
  for (const rpc of rpcs) expected.set(rpc, row);
}

const SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService];
const sys = await startTestSystem(t);
const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${sys.connect.port}`, httpVersion: "1.1" });
const SUBJECT: Record<Role, string> = { patient: "pat-self", receptionist: "rec-1", doctor: "doc-self", display: "disp-1", admin: "adm-1", service: "svc-1" };
const OWNER_FIELD: Partial<Record<Role, string>> = { patient: "patientId", doctor: "providerId" };

t.test("every RPC is in the table", async (t) => {
  for (const s of SERVICES) for (const m of s.methods) t.ok(expected.has(`${s.typeName}/${m.name}`), `${s.typeName}/${m.name}`);
});

for (const service of SERVICES) {
  t.test(`${service.typeName}: every role`, async (t) => {
    for (const method of service.methods) {
      const procedure = `${service.typeName}/${method.name}`;
      const row = expected.get(procedure);
      if (!row) continue;
      for (const role of ROLES) {
        const token = await sys.token([role], SUBJECT[role]);
        const headers = { authorization: `Bearer ${token}` };
        const ownerField = OWNER_FIELD[role];
        const hasOwnerField = ownerField !== undefined && method.input.fields.some((f) => f.localName === ownerField);
        const own: JsonObject = fixtureFor(procedure);
        if (hasOwnerField) own[ownerField] = SUBJECT[role];
        // UpdatePatient names the record in patient.patientId (the handler checks it is the caller's).
        const record = role === "patient" && own.patient && typeof own.patient === "object" ? (own.patient as JsonObject) : undefined;
        if (record) own.patient = { ...record, patientId: SUBJECT[role] };
        const outcome = await callConnect(transport, service, method, own, headers);
        const cell = row[role];
        if (cell === "–") {
          t.equal(outcome.code, Code.PermissionDenied, `${role} ${method.name}: denied (${outcome.message})`);
        } else {
          t.not(outcome.code, Code.PermissionDenied, `${role} ${method.name}: allowed (${outcome.message})`);
          t.not(outcome.code, Code.Unauthenticated, `${role} ${method.name}: authenticated`);
        }
        if (cell === "own" && record) {
          const o2 = await callConnect(transport, service, method, { ...own, patient: { ...record, patientId: "someone-else" } }, headers);
          t.equal(o2.code, Code.PermissionDenied, `${role} ${method.name} for someone else's record: denied`);
        }
        if (cell === "own" && hasOwnerField) {
          const other = { ...own, [ownerField]: "someone-else" };
          const o2 = await callConnect(transport, service, method, other, headers);
          t.equal(o2.code, Code.PermissionDenied, `${role} ${method.name} for someone else: denied`);
        }
      }
    }
  });
}

t.test("bad tokens are UNAUTHENTICATED on both servers; health and reflection need none", async (t) => {
  const method = SchedulingService.method.listProviders;
  const expired = await sys.token(["admin"], "adm-1", { ttlSeconds: -60 });
  const forged = await new SignJWT({ roles: ["admin"] })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("adm-1")
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(TEST_SECRET + "-but-not-quite"));
  const cases: [string, Record<string, string>][] = [
    ["missing", {}],
    ["expired", { authorization: `Bearer ${expired}` }],
    ["wrongly signed", { authorization: `Bearer ${forged}` }],
    ["not a JWT", { authorization: "Bearer not.a.jwt" }],
    ["not Bearer", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }],
  ];
  for (const [label, headers] of cases) {
    const viaConnect = await callConnect(transport, SchedulingService, method, {}, headers);
    const viaGrpc = await callGrpcJs(`127.0.0.1:${sys.grpc.port}`, SchedulingService, method, {}, headers);
    t.equal(viaConnect.code, Code.Unauthenticated, `${label}: connect server (${viaConnect.message})`);
    t.same(viaGrpc, viaConnect, `${label}: grpc-js server answers the same`);
  }
  const health = await callConnect(createGrpcTransport({ baseUrl: `http://127.0.0.1:${sys.grpc.port}` }), Health, Health.method.check, {}, {});
  t.equal(health.code, 0, "health without a token");
});

t.test("a token accepted once is refused once it expires (verified tokens are cached only until exp)", async (t) => {
  const method = SchedulingService.method.listProviders;
  const shortLived = await sys.token(["admin"], "adm-1", { ttlSeconds: 2 });
  const headers = { authorization: `Bearer ${shortLived}` };
  t.equal((await callConnect(transport, SchedulingService, method, {}, headers)).code, 0, "accepted while valid");
  t.equal((await callConnect(transport, SchedulingService, method, {}, headers)).code, 0, "accepted again (from the cache)");
  // exp has whole-second precision: wait past it.
  await new Promise((r) => setTimeout(r, 3_100));
  const after = await callConnect(transport, SchedulingService, method, {}, headers);
  t.equal(after.code, Code.Unauthenticated, `refused after expiry (${after.message})`);
});
