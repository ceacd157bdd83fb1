// Issue 19, item 2: a database failure answers the same in every service. A real deadlock with a
// request's transaction (test/helpers/write-conflict.ts) answered INTERNAL in the queue service and
// ABORTED WRITE_CONFLICT in scheduling, which alone mapped it. Now both answer ABORTED
// WRITE_CONFLICT, nothing of the call is left behind, and the same call sent again succeeds once.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { sql } from "kysely";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { TicketPriority } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createTestDatabase } from "../../helpers/postgres.js";
import { setUpProvider, systemDb } from "../../helpers/scheduling.js";
import { startTestSystem } from "../../helpers/system.js";
import { trapNextWrite } from "../../helpers/write-conflict.js";
import { tokenGrpcTransport } from "../../helpers/token-transport.js";

t.setTimeout(120_000);
const url = await createTestDatabase(t);
const sys = await startTestSystem(t, { env: { DATABASE_URL: url } });
const db = await systemDb(sys);

async function clientOf<S extends DescService>(service: S) {
  const token = await sys.token(["receptionist"], "rec-1");
  return createClient(service, tokenGrpcTransport(sys.grpc.port, token));
}

async function outcomeOf(p: Promise<unknown>): Promise<{ code: Code | "OK"; reason?: string; message?: string }> {
  try {
    await p;
    return { code: "OK" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, reason: e.findDetails(ErrorInfoSchema)[0]?.reason, message: e.rawMessage };
  }
}

t.test("queue: IssueTicket rolled back by a deadlock is ABORTED WRITE_CONFLICT, and a retry issues one ticket", async (t) => {
  const queue = await clientOf(QueueService);
  await queue.createQueue({ queueId: "front", displayName: "Front desk", prefix: "F", timeZone: "Europe/Istanbul" });
  const request = { requestId: "walkin-1", queueId: "front", priority: TicketPriority.ROUTINE };
  const trap = await trapNextWrite(url, "queue.tickets");
  try {
    const got = await outcomeOf(queue.issueTicket(request));
    t.same({ code: got.code, reason: got.reason }, { code: Code.Aborted, reason: "WRITE_CONFLICT" }, got.message ?? "");
    t.notMatch(got.message ?? "", /deadlock|advisory|trigger/i, "the database's words stay in the log");
  } finally {
    await trap.release();
  }
  const left = await sql<{ n: number }>`select count(*)::int as n from queue.tickets`.execute(db);
  t.equal(left.rows[0]!.n, 0, "no ticket left behind");
  const retried = await queue.issueTicket(request);
  const again = await queue.issueTicket(request);
  t.equal(again.ticket?.ticketId, retried.ticket?.ticketId, "the requestId replays the one ticket");
});

t.test("scheduling: BookAppointment rolled back by a deadlock is ABORTED WRITE_CONFLICT, and a retry books once", async (t) => {
  const scheduling = await clientOf(SchedulingService);
  const providerId = await setUpProvider(scheduling, { providerId: "dr-deadlock" });
  const start = new Date(Date.now() + 3 * 86_400_000);
  start.setUTCHours(10, 0, 0, 0);
  const request = { requestId: "book-1", providerId, patientId: "pat-001", startTime: timestampFromDate(start) };
  const trap = await trapNextWrite(url, "scheduling.appointments");
  try {
    const got = await outcomeOf(scheduling.bookAppointment(request));
    t.same({ code: got.code, reason: got.reason }, { code: Code.Aborted, reason: "WRITE_CONFLICT" }, got.message ?? "");
  } finally {
    await trap.release();
  }
  const left = await sql<{ n: number }>`select count(*)::int as n from scheduling.appointments`.execute(db);
  t.equal(left.rows[0]!.n, 0, "no appointment left behind");
  const booked = await scheduling.bookAppointment(request);
  const again = await scheduling.bookAppointment(request);
  t.equal(again.appointment?.appointmentId, booked.appointment?.appointmentId, "the requestId replays the one booking");
});
