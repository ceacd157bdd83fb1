// Every RPC that takes a time works, or answers INVALID_ARGUMENT naming the field, for any instant
// the validators accept (1970-01-01 to 9999-12-31T23:59:59.999Z), in the providers' most extreme time
// zones (UTC+14, UTC-12), on embedded PGlite (npm start) and on Postgres (the services' processes).
// Issue 18 defect 4: near 9999-12-31 the embedded mode answered INTERNAL "time zone displacement out
// of range" (ListAvailableSlots, WatchAppointments): slot search reaches hours past the range, a day
// in UTC-12 ends in year 10000, and PGlite wrote such a Date as "+010000-...", which Postgres reads
// as a time zone.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { startTestSystem, type TestSystem } from "../helpers/system.js";
import { setUpProvider } from "../helpers/scheduling.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

t.setTimeout(300_000);

const LAST = "9999-12-31T23:59:59.999Z";
const ts = (iso: string) => timestampFromDate(new Date(iso));
const dur = (minutes: number) => ({ seconds: BigInt(minutes * 60) });

/** outcome runs a call and says how it ended: "OK" or the code, and the fields an INVALID_ARGUMENT names. */
async function outcome(p: Promise<unknown>): Promise<{ code: string; fields: string[]; message: string }> {
  try {
    await p;
    return { code: "OK", fields: [], message: "" };
  } catch (err) {
    const ce = ConnectError.from(err);
    return { code: Code[ce.code], fields: ce.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field)), message: ce.rawMessage };
  }
}

function clients(sys: TestSystem, token: string): { scheduling: Client<typeof SchedulingService>; queue: Client<typeof QueueService> } {
  const transport = tokenGrpcTransport(sys.connect.port, token);
  return { scheduling: createClient(SchedulingService, transport), queue: createClient(QueueService, transport) };
}

async function firstMessage(stream: AsyncIterable<unknown>): Promise<unknown> {
  for await (const m of stream) return m;
  return undefined;
}

for (const mode of ["embedded", "postgres"] as const) {
  t.test(`${mode}: times at both ends of the accepted range`, async (t) => {
    const sys = await startTestSystem(t, { embedded: mode === "embedded" });
    const { scheduling, queue } = clients(sys, await sys.token(["receptionist"], "rec-bounds"));
    for (const timeZone of ["Pacific/Kiritimati", "Etc/GMT+12", "UTC"]) {
      const providerId = await setUpProvider(scheduling, { timeZone, slotMinutes: 15 });
      const calls: [string, () => Promise<unknown>][] = [
        ["ListAvailableSlots, last day", () => scheduling.listAvailableSlots({ providerId, startTime: ts("9999-12-31T00:00:00Z"), endTime: ts(LAST) })],
        ["ListAvailableSlots, last 31 days", () => scheduling.listAvailableSlots({ providerId, startTime: ts("9999-11-30T23:59:59.999Z"), endTime: ts(LAST), duration: dur(60) })],
        ["ListAvailableSlots, first day", () => scheduling.listAvailableSlots({ providerId, startTime: ts("1970-01-01T00:00:00Z"), endTime: ts("1970-01-02T00:00:00Z") })],
        ["BookAppointment, last slot", () => scheduling.bookAppointment({ requestId: `last-${timeZone}`, providerId, patientId: "pat-bounds", startTime: ts("9999-12-31T23:45:00Z") })],
        ["BookAppointment, 8 h past the end", () => scheduling.bookAppointment({ requestId: `long-${timeZone}`, providerId, patientId: "pat-bounds", startTime: ts("9999-12-31T20:00:00Z"), duration: dur(480) })],
        ["BookAppointment, first slot", () => scheduling.bookAppointment({ requestId: `first-${timeZone}`, providerId, patientId: "pat-bounds", startTime: ts("1970-01-01T00:00:00Z") })],
        ["JoinWaitlist, last days", () => scheduling.joinWaitlist({ requestId: `wait-${timeZone}`, providerId, patientId: "pat-bounds", windowStartTime: ts("9999-12-01T00:00:00Z"), windowEndTime: ts(LAST) })],
        ["ListAppointments, last instant", () => scheduling.listAppointments({ providerId, startTime: ts("9999-12-31T00:00:00Z"), endTime: ts(LAST) })],
        ["ListAppointments, whole range", () => scheduling.listAppointments({ providerId, startTime: ts("1970-01-01T00:00:00Z"), endTime: ts(LAST) })],
        ["WatchAppointments, last day", () => firstMessage(scheduling.watchAppointments({ providerId, date: "9999-12-31" }, { timeoutMs: 20_000 }))],
        ["WatchAppointments, first day", () => firstMessage(scheduling.watchAppointments({ providerId, date: "1970-01-01" }, { timeoutMs: 20_000 }))],
      ];
      for (const [name, call] of calls) {
        const o = await outcome(call());
        t.not(o.code, "Internal", `${timeZone} ${name}: not INTERNAL (${o.message})`);
        t.not(o.code, "Unknown", `${timeZone} ${name}: not UNKNOWN (${o.message})`);
        if (o.code === "InvalidArgument") t.ok(o.fields.length > 0, `${timeZone} ${name}: INVALID_ARGUMENT names the field (${o.message})`);
        // Booking rules (no booking or waitlist window in the past, a horizon) may refuse the bookings
        // and the waitlist: never anything else.
        if (/^(BookAppointment|JoinWaitlist)/.test(name)) t.ok(["OK", "FailedPrecondition"].includes(o.code), `${timeZone} ${name}: ${o.code} ${o.message}`);
        else t.equal(o.code, "OK", `${timeZone} ${name} answers (${o.message})`);
      }
      // Pages through appointments starting at the end of time: the page tokens carry those instants.
      const listed: string[] = [];
      let pageToken = "";
      do {
        const page = await scheduling.listAppointments({ providerId, pageSize: 1, pageToken });
        listed.push(...page.appointments.map((a) => a.appointmentId));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      t.equal(new Set(listed).size, listed.length, `${timeZone}: pages list each appointment once`);
      const last = (await scheduling.listAppointments({ providerId, startTime: ts("9999-12-31T00:00:00Z") })).appointments;
      for (const a of last) {
        const moved = await outcome(scheduling.rescheduleAppointment({ appointmentId: a.appointmentId, requestId: `move-${a.appointmentId}`, newStartTime: ts("9999-12-31T23:30:00Z") }));
        t.ok(["OK", "FailedPrecondition"].includes(moved.code), `${timeZone} RescheduleAppointment to the last hour: ${moved.code} ${moved.message}`);
      }
    }
    // The queue takes an appointment's time too (an APPOINTMENT ticket's rank), from the service role
    // only (scheduling's check-in).
    await queue.createQueue({ queueId: "bounds", displayName: "Bounds", prefix: "B", timeZone: "Etc/GMT+12" });
    const checkIn = clients(sys, await sys.token(["service"], "scheduling")).queue;
    for (const [label, at] of [["last instant", LAST], ["first instant", "1970-01-01T00:00:00Z"]]) {
      const o = await outcome(
        checkIn.issueTicket({ requestId: `ticket-${label.replace(" ", "-")}`, queueId: "bounds", priority: TicketPriority.APPOINTMENT, appointmentId: `a-${label.replace(" ", "-")}`, appointmentTime: ts(at) }),
      );
      // The check-in window may refuse a far appointment: FAILED_PRECONDITION, never anything else.
      t.ok(["OK", "FailedPrecondition"].includes(o.code), `IssueTicket with appointmentTime at the ${label}: ${o.code} ${o.message}`);
    }
    const board = await outcome(queue.listTickets({ queueId: "bounds" }));
    t.equal(board.code, "OK", `the queue lists them (${board.message})`);
  });
}
