// ReassignPatient in scheduling and queue (issue 21 item 5): every appointment and ticket of a merged
// record moves to the survivor through the services' own write paths, so the provider's and the
// location's WatchAppointments and the queue's WatchQueue see the change; a repeat moves nothing;
// overlapping waitlist entries of the two records do not break the one-entry-per-window rule.
import t from "tap";
import { sql } from "kysely";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { StreamReader } from "../helpers/stream-reader.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

const HOUR = 3_600_000;
const sys = await startTestSystem(t);
const db = await systemDb(sys);
const reception = await schedulingClient(sys, "receptionist", "rec-1");
const queue = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, await sys.token(["receptionist"], "rec-1")));
const service = await sys.token(["service"], "svc-patient");
const scheduling = createClient(SchedulingService, tokenGrpcTransport(sys.grpc.port, service));
const queueAsService = createClient(QueueService, tokenGrpcTransport(sys.grpc.port, service));
const providerId = await setUpProvider(reception, { providerId: "dr-reassign" });
await queue.createQueue({ queueId: "reassign-desk", displayName: "Desk", prefix: "RD", timeZone: "UTC" });
const dayStart = Math.ceil(Date.now() / (24 * HOUR)) * 24 * HOUR + 24 * HOUR;
const date = new Date(dayStart).toISOString().slice(0, 10);
const at = (hours: number) => timestampFromDate(new Date(dayStart + hours * HOUR));

t.test("watchers of the provider, the location and the queue see the move", async (t) => {
  const booked = await reception.bookAppointment({ requestId: "r-1", providerId, patientId: "pat-from", startTime: at(9), duration: { seconds: 900n } });
  const id = booked.appointment!.appointmentId;
  const ticket = (await queue.issueTicket({ requestId: "r-t1", queueId: "reassign-desk", patientId: "pat-from", priority: TicketPriority.ROUTINE })).ticket!;
  const byProvider = new StreamReader((signal) => reception.watchAppointments({ providerId, date }, { signal }));
  const byLocation = new StreamReader((signal) => reception.watchAppointments({ locationId: "default", date }, { signal }));
  const byQueue = new StreamReader((signal) => queue.watchQueue({ queueId: "reassign-desk" }, { signal }));
  t.teardown(() => [byProvider, byLocation, byQueue].forEach((w) => w.close()));
  for (const w of [byProvider, byLocation]) t.ok((await w.next("the snapshot")).appointments.some((a) => a.appointmentId === id && a.patientId === "pat-from"));
  await byQueue.until((m) => m.tickets.some((tk) => tk.ticketId === ticket.ticketId), "the ticket in the snapshot");

  t.equal((await scheduling.reassignPatient({ requestId: "m-1", fromPatientId: "pat-from", toPatientId: "pat-to" })).reassigned, 1);
  t.equal((await queueAsService.reassignPatient({ requestId: "m-1", fromPatientId: "pat-from", toPatientId: "pat-to" })).reassigned, 1);
  for (const [name, w] of [["provider", byProvider], ["location", byLocation]] as const) {
    const { match } = await w.until((m) => !m.snapshot && m.appointments.some((a) => a.appointmentId === id && a.patientId === "pat-to"), `the ${name}'s watch sees the move`);
    t.ok(match.sequence > 0n, `the ${name}'s stream numbered it`);
  }
  await byQueue.until((m) => m.tickets.some((tk) => tk.ticketId === ticket.ticketId && tk.patientId === "pat-to"), "the queue's watch sees the move");
  t.equal((await reception.getAppointment({ appointmentId: id })).appointment?.patientId, "pat-to");

  t.equal((await scheduling.reassignPatient({ requestId: "m-2", fromPatientId: "pat-from", toPatientId: "pat-to" })).reassigned, 0, "a repeat moves nothing");
  t.equal((await queueAsService.reassignPatient({ requestId: "m-2", fromPatientId: "pat-from", toPatientId: "pat-to" })).reassigned, 0, "a repeat moves nothing");
  const audited = await sql<{ record_id: string }>`select record_id from scheduling.audit_log where action = 'ReassignPatient'`.execute(db);
  t.same(audited.rows.map((r) => r.record_id), [id], "audited once, for the row moved");
  const ticketAudit = await sql<{ record_id: string }>`select record_id from queue.audit_log where action = 'ReassignPatient'`.execute(db);
  t.same(ticketAudit.rows.map((r) => r.record_id), [ticket.ticketId]);
});

t.test("both records waiting for the same provider and time: the survivor keeps one entry", async (t) => {
  const window = { providerId, windowStartTime: at(30), windowEndTime: at(32) };
  const dup = (await reception.joinWaitlist({ requestId: "w-dup", patientId: "pat-w-from", ...window })).entry!;
  const keep = (await reception.joinWaitlist({ requestId: "w-keep", patientId: "pat-w-to", ...window })).entry!;
  const other = (await reception.joinWaitlist({ requestId: "w-other", patientId: "pat-w-from", providerId, windowStartTime: at(40), windowEndTime: at(41) })).entry!;
  t.equal((await scheduling.reassignPatient({ requestId: "w-m", fromPatientId: "pat-w-from", toPatientId: "pat-w-to" })).reassigned, 2);
  const audited = await sql<{ record_id: string }>`select record_id from scheduling.audit_log where action = 'ReassignPatient' and record_type = 'waitlist' order by 1`.execute(db);
  t.same(audited.rows.map((r) => r.record_id), [dup.waitlistEntryId, other.waitlistEntryId].sort(), "each entry audited once");
  const rows = await sql<{ entry_id: string; patient_id: string; status: string }>`select entry_id, patient_id, status from scheduling.waitlist
    where entry_id in (${dup.waitlistEntryId}, ${keep.waitlistEntryId}, ${other.waitlistEntryId}) order by entry_id`.execute(db);
  const by = Object.fromEntries(rows.rows.map((r) => [r.entry_id, r]));
  t.match(by[keep.waitlistEntryId], { patient_id: "pat-w-to", status: "WAITING" }, "the survivor's entry stays");
  t.match(by[dup.waitlistEntryId], { patient_id: "pat-w-to", status: "EXPIRED" }, "the overlapping one of the merged record is expired");
  t.match(by[other.waitlistEntryId], { patient_id: "pat-w-to", status: "WAITING" }, "the others move as they are");
});

t.test("both records in the same queue: one place stays", async (t) => {
  const from = (await queue.issueTicket({ requestId: "q-from", queueId: "reassign-desk", patientId: "pat-q-from", priority: TicketPriority.ROUTINE })).ticket!;
  const to = (await queue.issueTicket({ requestId: "q-to", queueId: "reassign-desk", patientId: "pat-q-to", priority: TicketPriority.ROUTINE })).ticket!;
  t.equal((await queueAsService.reassignPatient({ requestId: "q-m", fromPatientId: "pat-q-from", toPatientId: "pat-q-to" })).reassigned, 1);
  t.match((await queue.getTicket({ ticketId: to.ticketId })).ticket, { patientId: "pat-q-to", status: 1 }, "the survivor's ticket waits on");
  const moved = (await queue.getTicket({ ticketId: from.ticketId })).ticket!;
  t.equal(moved.patientId, "pat-q-to");
  t.not(moved.status, to.status, "the merged record's ticket is withdrawn");
  const audited = await sql<{ record_id: string }>`select record_id from queue.audit_log where action = 'ReassignPatient' and record_id = ${from.ticketId}`.execute(db);
  t.equal(audited.rows.length, 1, "audited once");
});
