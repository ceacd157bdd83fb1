// Impossible clinic actions (issue 18, defect 6), the class against real Postgres under a fake clock
// that can stand anywhere relative to an appointment, with an in-memory QueueService that records
// what check-in asks of it: check-in only inside its window (from QUEUE_CHECKIN_EARLY before the
// start until the appointment's end), no ticket for a refused one, the ticket ranked by the
// appointment's own start; MarkNoShow only once the appointment has started, the slot kept until
// then; the booking horizon; waitlist offers never for time that has passed, held no longer than
// until the offered time; SCHEDULING_BOOKING_HORIZON and QUEUE_CHECKIN_EARLY read at start.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { TicketPriority, type Queue } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueService, type IssueTicketRequest } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { AppointmentStatus, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  AcceptOfferRequestSchema,
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  CheckInAppointmentRequestSchema,
  GetAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  MarkNoShowRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { ConfigError } from "../../services/runtime/config.js";
import type { Peers } from "../../services/runtime/clients/peers.js";
import { loadSchedulingOptions, type SchedulingOptions } from "../../services/scheduling/scheduling-options.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure as failure, domainReasonOf as outcome } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);

/** The in-memory QueueService: queues by id, and every IssueTicket request it got. */
const queues = new Map<string, Queue>();
const issued: IssueTicketRequest[] = [];
const queueTransport = createRouterTransport(({ service }) => {
  service(QueueService, {
    getQueue: (req) => {
      const queue = queues.get(req.queueId);
      if (!queue) throw new ConnectError("no such queue", Code.NotFound);
      return { queue };
    },
    listQueues: () => ({ queues: [...queues.values()], nextPageToken: "" }),
    createQueue: (req) => {
      if (queues.has(req.queueId)) throw new ConnectError("exists", Code.AlreadyExists);
      const queue = { queueId: req.queueId, displayName: req.displayName, prefix: req.prefix, timeZone: req.timeZone } as Queue;
      queues.set(req.queueId, queue);
      return { queue };
    },
    getTicket: (req) => {
      const i = Number(req.ticketId.slice(2)) - 1;
      const r = issued[i];
      if (!r) throw new ConnectError("no such ticket", Code.NotFound);
      return { ticket: { ticketId: req.ticketId, queueId: r.queueId, priority: r.priority, appointmentId: r.appointmentId } };
    },
    issueTicket: (req) => {
      issued.push(req);
      const n = issued.filter((x) => x.queueId === req.queueId).length;
      return { ticket: { ticketId: `t-${issued.length}`, queueId: req.queueId, number: `${queues.get(req.queueId)?.prefix ?? "?"}-${String(n).padStart(3, "0")}`, priority: req.priority, appointmentId: req.appointmentId } };
    },
  });
});
const peers: Peers = { client: (service) => createClient(service, queueTransport) as never };

const clock = createFakeClock(new Date("2026-03-02T06:00:00Z"));
const instance = (options: Partial<SchedulingOptions> = {}) => directSchedulingService(t, { db: database.db, clock, peers }, options);
const svc = instance();

const dur = (minutes: number) => ({ seconds: BigInt(minutes * 60) });

/** provider creates a provider in Istanbul (UTC+3) working 09:00-17:00 every day, 30-minute slots. */
const provider = (s: SchedulingServiceImpl, providerId: string, displayName = "Dr. Grace Hopper") =>
  createProviderIn(s, ctx, { providerId, displayName, timeZone: "Europe/Istanbul", start: "09:00", end: "17:00", slotMinutes: 30 });

async function book(s: SchedulingServiceImpl, providerId: string, requestId: string, start: Date, patientId = "pat-1") {
  const r = await s.bookAppointment(create(BookAppointmentRequestSchema, { requestId, providerId, patientId, startTime: timestampFromDate(start), duration: dur(30) }), ctx(m.bookAppointment));
  return r.appointment!;
}

async function status(appointmentId: string): Promise<AppointmentStatus | undefined> {
  return (await svc.getAppointment(create(GetAppointmentRequestSchema, { appointmentId }), ctx(m.getAppointment))).appointment?.status;
}

t.test("check-in only inside its window: from an hour before the start until the appointment ends", async (t) => {
  await provider(svc, "prov-ci");
  // One appointment per case, each on its own day at 10:00 Istanbul (07:00Z), booked the day before.
  const cases: { name: string; offset: number; want: string }[] = [
    { name: "90 minutes early", offset: -90 * MIN, want: "CHECK_IN_NOT_OPEN" },
    { name: "61 minutes early", offset: -61 * MIN, want: "CHECK_IN_NOT_OPEN" },
    { name: "60 minutes early, the window opens", offset: -60 * MIN, want: "OK" },
    { name: "on time", offset: 0, want: "OK" },
    { name: "late, before the end", offset: 29 * MIN, want: "OK" },
    { name: "at the end", offset: 30 * MIN, want: "CHECK_IN_CLOSED" },
    { name: "hours later", offset: 5 * 60 * MIN, want: "CHECK_IN_CLOSED" },
    { name: "years later", offset: 800 * DAY, want: "CHECK_IN_CLOSED" },
  ];
  for (const [i, c] of cases.entries()) {
    const start = new Date(Date.parse("2026-03-10T07:00:00Z") + i * DAY);
    clock.set(new Date(start.getTime() - DAY));
    const a = await book(svc, "prov-ci", `ci-b${i}`, start, `pat-ci-${i}`);
    clock.set(new Date(start.getTime() + c.offset));
    const before = issued.length;
    const got = await outcome(svc.checkInAppointment(create(CheckInAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: `ci-${i}` }), ctx(m.checkInAppointment)));
    t.equal(got, c.want, c.name);
    if (c.want === "OK") {
      t.equal(issued.length, before + 1, `${c.name}: one ticket`);
      const req = issued[issued.length - 1];
      t.equal(req.priority, TicketPriority.APPOINTMENT);
      t.equal(req.appointmentId, a.appointmentId);
      t.equal(timestampDate(req.appointmentTime!).getTime(), start.getTime(), `${c.name}: ranked by the appointment's own start, not the arrival`);
      t.equal(await status(a.appointmentId), AppointmentStatus.CHECKED_IN);
    } else {
      t.equal(issued.length, before, `${c.name}: no ticket issued`);
      t.equal(await status(a.appointmentId), AppointmentStatus.BOOKED, `${c.name}: still BOOKED`);
    }
  }
  t.equal(queues.get("prov-prov-ci")?.prefix, "GH", "the provider's queue, lettered from the name");
});

t.test("check-in refusals name the local time that matters", async (t) => {
  await provider(svc, "prov-ci-msg", "Dr. Ada Lovelace");
  clock.set(new Date("2026-04-01T06:00:00Z"));
  const a = await book(svc, "prov-ci-msg", "cim-b", new Date("2026-04-02T07:00:00Z"));
  const early = await failure(svc.checkInAppointment(create(CheckInAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: "cim-1" }), ctx(m.checkInAppointment)));
  t.equal(early.code, Code.FailedPrecondition);
  t.equal(early.message, "check-in for the appointment with Dr. Ada Lovelace at 10:00 on Thursday 2 April 2026 (Europe/Istanbul) opens at 09:00");
  t.same(early.metadata, { providerName: "Dr. Ada Lovelace", timeZone: "Europe/Istanbul", localTime: "09:00", localDate: "2026-04-02", appointmentLocalTime: "10:00", appointmentLocalDate: "2026-04-02" });
  clock.set(new Date("2026-04-02T08:00:00Z"));
  const late = await failure(svc.checkInAppointment(create(CheckInAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: "cim-2" }), ctx(m.checkInAppointment)));
  t.equal(late.reason, "CHECK_IN_CLOSED");
  t.match(late.message, /^the appointment with Dr\. Ada Lovelace at 10:00 on Thursday 2 April 2026 \(Europe\/Istanbul\) ended at 10:30, so it can no longer be checked in: mark it as a no-show or reschedule it/);
  t.match(late.metadata, { localTime: "10:30", appointmentLocalTime: "10:00" });
});

t.test("QUEUE_CHECKIN_EARLY moves the opening of the window", async (t) => {
  const narrow = instance({ checkInEarlyMs: 15 * MIN });
  await provider(narrow, "prov-ci15");
  clock.set(new Date("2026-05-01T06:00:00Z"));
  const a = await book(narrow, "prov-ci15", "c15-b", new Date("2026-05-02T07:00:00Z"));
  clock.set(new Date("2026-05-02T06:44:00Z"));
  t.equal(await outcome(narrow.checkInAppointment(create(CheckInAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: "c15-1" }), ctx(m.checkInAppointment))), "CHECK_IN_NOT_OPEN", "16 minutes early");
  clock.set(new Date("2026-05-02T06:45:00Z"));
  t.equal(await outcome(narrow.checkInAppointment(create(CheckInAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: "c15-2" }), ctx(m.checkInAppointment))), "OK", "15 minutes early");
});

t.test("MarkNoShow only once the appointment has started; until then the time stays held", async (t) => {
  await provider(svc, "prov-ns");
  const cases: { name: string; offset: number; want: string }[] = [
    { name: "months ahead", offset: -200 * DAY, want: "NO_SHOW_BEFORE_START" },
    { name: "hours ahead", offset: -5 * 60 * MIN, want: "NO_SHOW_BEFORE_START" },
    { name: "a minute before", offset: -MIN, want: "NO_SHOW_BEFORE_START" },
    { name: "at the start", offset: 0, want: "OK" },
    { name: "after the end", offset: 2 * 60 * MIN, want: "OK" },
  ];
  for (const [i, c] of cases.entries()) {
    const start = new Date(Date.parse("2026-12-01T07:00:00Z") + i * DAY);
    clock.set(new Date(start.getTime() - 300 * DAY));
    const a = await book(svc, "prov-ns", `ns-b${i}`, start, `pat-ns-${i}`);
    clock.set(new Date(start.getTime() + c.offset));
    const got = await outcome(svc.markNoShow(create(MarkNoShowRequestSchema, { appointmentId: a.appointmentId, requestId: `ns-${i}` }), ctx(m.markNoShow)));
    t.equal(got, c.want, c.name);
    t.equal(await status(a.appointmentId), c.want === "OK" ? AppointmentStatus.NOSHOW : AppointmentStatus.BOOKED, `${c.name}: status`);
    if (c.want !== "OK") {
      const other = await outcome(book(svc, "prov-ns", `ns-x${i}`, start, "pat-sneaky"));
      t.equal(other, "SLOT_TAKEN", `${c.name}: the slot was not freed`);
    }
  }
});

t.test("the booking horizon (SCHEDULING_BOOKING_HORIZON)", async (t) => {
  const month = instance({ bookingHorizonMs: 30 * DAY });
  await provider(month, "prov-hz");
  clock.set(new Date("2026-06-01T06:00:00Z"));
  t.equal(await outcome(book(month, "prov-hz", "hz-1", new Date("2026-06-30T07:00:00Z"))), "OK", "29 days ahead");
  const far = await failure(book(month, "prov-hz", "hz-2", new Date("2026-07-02T07:00:00Z")));
  t.equal(far.reason, "BEYOND_HORIZON", "31 days ahead");
  t.match(far.message, /^appointments can be booked at most 30 days ahead, until Wednesday 1 July 2026; 10:00 on Thursday 2 July 2026 \(Europe\/Istanbul\) is too far ahead$/);
  const e = await failure(book(month, "prov-hz", "hz-3", new Date("2026-05-31T07:00:00Z")));
  t.equal(e.reason, "BOOKING_IN_PAST", "yesterday");
});

t.test("waitlist: no offer of time that has passed; a hold ends when the offered time starts", async (t) => {
  await provider(svc, "prov-wl");
  clock.set(new Date("2026-08-01T06:00:00Z"));
  const started = await book(svc, "prov-wl", "wl-b1", new Date("2026-08-03T07:00:00Z"), "pat-started");
  const soon = await book(svc, "prov-wl", "wl-b2", new Date("2026-08-03T08:00:00Z"), "pat-soon");
  await svc.joinWaitlist(
    create(JoinWaitlistRequestSchema, { requestId: "wl-j", providerId: "prov-wl", patientId: "pat-wait", windowStartTime: timestampFromDate(new Date("2026-08-03T00:00:00Z")), windowEndTime: timestampFromDate(new Date("2026-08-04T00:00:00Z")) }),
    ctx(m.joinWaitlist),
  );
  const offers = async () =>
    ((await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId: "pat-wait", statuses: [AppointmentStatus.PROPOSED] }), ctx(m.listAppointments))).appointments ?? []) as Appointment[];
  // 10:10 Istanbul: the 10:00 appointment has started; cancelling it frees time that has passed.
  clock.set(new Date("2026-08-03T07:10:00Z"));
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: started.appointmentId, requestId: "wl-c1" }), ctx(m.cancelAppointment));
  t.same(await offers(), [], "no offer for time that has passed");
  // 10:55: the 11:00 appointment is cancelled; the offer is held until 11:00, not for the usual 15 minutes.
  clock.set(new Date("2026-08-03T07:55:00Z"));
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: soon.appointmentId, requestId: "wl-c2" }), ctx(m.cancelAppointment));
  const [offer] = await offers();
  t.ok(offer, "the freed time ahead is offered");
  t.equal(timestampDate(offer.offerExpireTime!).toISOString(), "2026-08-03T08:00:00.000Z", "held until the offered time starts");
  clock.set(new Date("2026-08-03T08:00:00Z"));
  const late = await failure(svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId: offer.appointmentId, requestId: "wl-a" }), ctx(m.acceptOffer, "patient", "pat-wait")));
  t.equal(late.reason, "OFFER_TIME_PASSED", late.message);
  t.equal(await status(offer.appointmentId), AppointmentStatus.CANCELLED, "passed on at once");
});

t.test("SCHEDULING_BOOKING_HORIZON and QUEUE_CHECKIN_EARLY are read at start and checked", async (t) => {
  t.match(loadSchedulingOptions({}), { bookingHorizonMs: 365 * DAY, checkInEarlyMs: 60 * MIN }, "defaults: 365 days, 60 minutes");
  t.match(loadSchedulingOptions({ SCHEDULING_BOOKING_HORIZON: "90d", QUEUE_CHECKIN_EARLY: "30m" }), { bookingHorizonMs: 90 * DAY, checkInEarlyMs: 30 * MIN });
  for (const env of [{ SCHEDULING_BOOKING_HORIZON: "0s" }, { SCHEDULING_BOOKING_HORIZON: "soon" }, { QUEUE_CHECKIN_EARLY: "2d" }]) {
    t.throws(() => loadSchedulingOptions(env), ConfigError, JSON.stringify(env));
  }
});
