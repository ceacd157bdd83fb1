// Existence cannot be probed (issue 18, hardening): a patient or doctor naming an appointment or a
// ticket that is not theirs gets exactly what an id that does not exist gets: NOT_FOUND, the same
// reason, the same message and metadata (with the id in it). Before, someone else's record answered
// PERMISSION_DENIED and a made-up id NOT_FOUND, so anyone with a patient token could tell which ids
// exist. The refused attempt is still audited (DeniedRead), in both services.
import t from "tap";
import { sql } from "kysely";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import type { Role } from "../../../services/runtime/auth/role-table.js";
import { schedulingClient, setUpProvider, systemDb } from "../../helpers/scheduling.js";
import { startTestSystem } from "../../helpers/system.js";
import { tokenGrpcTransport } from "../../helpers/token-transport.js";

const sys = await startTestSystem(t);
const db = await systemDb(sys);

async function queueClient(role: Role, subject: string): Promise<Client<typeof QueueService>> {
  const token = await sys.token([role], subject);
  return createClient(QueueService, tokenGrpcTransport(sys.grpc.port, token));
}

/** answer is what a call ended with, the id it named replaced by "<id>" so two ids compare. */
async function answer(call: Promise<unknown>, id: string): Promise<{ code: string; reason?: string; message: string; metadata?: Record<string, string> }> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (err) {
    const ce = ConnectError.from(err);
    const info = ce.findDetails(ErrorInfoSchema)[0];
    const blank = (s: string) => s.split(id).join("<id>");
    return {
      code: Code[ce.code],
      reason: info?.reason,
      message: blank(ce.rawMessage),
      metadata: info ? Object.fromEntries(Object.entries(info.metadata).map(([k, v]) => [k, blank(v)])) : undefined,
    };
  }
}

const staff = await schedulingClient(sys, "receptionist", "desk-1");
const providerId = await setUpProvider(staff, { providerId: "prov-vis" });
await setUpProvider(staff, { providerId: "prov-other" });
const start = new Date(Math.ceil((Date.now() + 30 * 60_000) / (15 * 60_000)) * 15 * 60_000);
const theirs = (await staff.bookAppointment({ requestId: "vis-1", providerId, patientId: "pat-them", startTime: timestampFromDate(start) })).appointment!;
const missing = "00000000-0000-4000-8000-000000000000";

t.test("a patient: another patient's appointment answers as one that does not exist", async (t) => {
  const me = await schedulingClient(sys, "patient", "pat-me");
  const later = timestampFromDate(new Date(start.getTime() + 60 * 60_000));
  const calls: [string, (id: string, n: number) => Promise<unknown>][] = [
    ["GetAppointment", (id) => me.getAppointment({ appointmentId: id })],
    ["CancelAppointment", (id, n) => me.cancelAppointment({ appointmentId: id, requestId: `vis-c-${n}` })],
    ["RescheduleAppointment", (id, n) => me.rescheduleAppointment({ appointmentId: id, requestId: `vis-r-${n}`, newStartTime: later })],
    ["CheckInAppointment", (id, n) => me.checkInAppointment({ appointmentId: id, requestId: `vis-ci-${n}` })],
    ["AcceptOffer", (id, n) => me.acceptOffer({ appointmentId: id, requestId: `vis-ao-${n}` })],
  ];
  for (const [name, call] of calls) {
    const other = await answer(call(theirs.appointmentId, 1), theirs.appointmentId);
    const none = await answer(call(missing, 2), missing);
    t.equal(other.code, "NotFound", `${name}: NOT_FOUND (${other.message})`);
    t.same(other, none, `${name}: the same answer as for an id that does not exist`);
  }
  const denied = await sql<{ n: number }>`select count(*)::int as n from scheduling.audit_log where record_id = ${theirs.appointmentId} and action = 'DeniedRead' and actor = 'pat-me'`.execute(db);
  t.equal(denied.rows[0].n, calls.length, "every refused attempt is audited");
  const still = await staff.getAppointment({ appointmentId: theirs.appointmentId });
  t.equal(still.appointment?.startTime?.seconds, theirs.startTime?.seconds, "nothing changed");
});

t.test("a doctor: another provider's appointment answers as one that does not exist", async (t) => {
  const doctor = await schedulingClient(sys, "doctor", "prov-other");
  const calls: [string, (id: string, n: number) => Promise<unknown>][] = [
    ["GetAppointment", (id) => doctor.getAppointment({ appointmentId: id })],
    ["CheckInAppointment", (id, n) => doctor.checkInAppointment({ appointmentId: id, requestId: `vis-dci-${n}` })],
    ["MarkNoShow", (id, n) => doctor.markNoShow({ appointmentId: id, requestId: `vis-dns-${n}` })],
    ["CompleteAppointment", (id, n) => doctor.completeAppointment({ appointmentId: id, requestId: `vis-dco-${n}` })],
  ];
  for (const [name, call] of calls) {
    const other = await answer(call(theirs.appointmentId, 1), theirs.appointmentId);
    const none = await answer(call(missing, 2), missing);
    t.equal(other.code, "NotFound", `${name}: NOT_FOUND (${other.message})`);
    t.same(other, none, `${name}: the same answer as for an id that does not exist`);
  }
  const own = await schedulingClient(sys, "doctor", providerId);
  t.equal((await own.getAppointment({ appointmentId: theirs.appointmentId })).appointment?.appointmentId, theirs.appointmentId, "the appointment's own doctor reads it");
});

t.test("a patient: another patient's ticket answers as one that does not exist", async (t) => {
  const desk = await queueClient("receptionist", "desk-1");
  await desk.createQueue({ queueId: "vis-q", displayName: "Front", prefix: "V", timeZone: "UTC" });
  const ticket = (await desk.issueTicket({ requestId: "vis-t-1", queueId: "vis-q", patientId: "pat-them" })).ticket!;
  const me = await queueClient("patient", "pat-me");
  const other = await answer(me.getTicket({ ticketId: ticket.ticketId }), ticket.ticketId);
  const noTicket = "t-00000000-0000-4000-8000-000000000000";
  const none = await answer(me.getTicket({ ticketId: noTicket }), noTicket);
  t.equal(other.code, "NotFound", `GetTicket: NOT_FOUND (${other.message})`);
  t.same(other, none, "GetTicket: the same answer as for an id that does not exist");
  const them = await queueClient("patient", "pat-them");
  t.equal((await them.getTicket({ ticketId: ticket.ticketId })).ticket?.ticketId, ticket.ticketId, "the ticket's own patient reads it");
  const denied = await sql<{ n: number }>`select count(*)::int as n from queue.audit_log where record_id = ${ticket.ticketId} and action = 'DeniedRead' and actor = 'pat-me'`.execute(db);
  t.equal(denied.rows[0].n, 1, "the refused read is audited");
});
