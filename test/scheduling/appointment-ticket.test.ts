// A checked-in appointment and its queue ticket never drift apart (issue 18's classes "impossible
// clinic actions are accepted" and "a patient can jump the queue", cases found after its first wave):
// cancelling a checked-in appointment withdraws its ticket, so the patient is never called and the
// freed time cannot end up with two tickets; a patient already seen cannot be cancelled or marked a
// no-show; a ticket that ended as a no-show or withdrawn keeps the appointment from being recorded as
// FULFILLED, MarkNoShow corrects it, and a new check-in issues a new ticket; completing the appointment
// ends a ticket still in line; a ticket moved to another queue is followed there; the queue being
// down, or a check-in slipping in between, changes nothing. The SchedulingService and the real
// QueueService classes on one real Postgres under one fake clock, the queue called as the service
// role through an in-memory transport.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { TicketSchema, TicketStatus, type Ticket } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  CallNextRequestSchema,
  CancelTicketRequestSchema,
  CompleteTicketRequestSchema,
  CreateQueueRequestSchema,
  GetTicketRequestSchema,
  ListTicketsRequestSchema,
  MarkTicketNoShowRequestSchema,
  OpenCounterRequestSchema,
  QueueService,
  TransferTicketRequestSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  CheckInAppointmentRequestSchema,
  CompleteAppointmentRequestSchema,
  GetAppointmentRequestSchema,
  MarkNoShowRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { principalKey } from "../../services/runtime/auth/principal.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import type { Peers } from "../../services/runtime/clients/peers.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { queueCtx } from "../helpers/queue.js";
import { createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { domainFailure as failure } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

t.setTimeout(120_000);
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const m = SchedulingService.method;
const q = QueueService.method;
const database = await createModuleDatabase(t, [schedulingModule, queueModule]);

const clock = createFakeClock(new Date("2026-03-02T06:00:00Z"));
const queueSvc = new QueueServiceImpl({ db: database.db, clock }, { listen: false, pollIntervalMs: 100 });
t.teardown(() => queueSvc.close());

/** The queue as the scheduling service reaches it: every unary RPC as the service role, switchable off, with a hook after one call. */
const queueState: { down: boolean; after: Partial<Record<string, () => Promise<void>>> } = { down: false, after: {} };
const queueTransport = createRouterTransport(({ service }) => {
  const impl: Record<string, (req: unknown, ctx: HandlerContext) => Promise<unknown>> = {};
  for (const method of QueueService.methods.filter((x) => x.methodKind === "unary")) {
    impl[method.localName] = async (req, ctx) => {
      if (queueState.down) throw new ConnectError("connection refused", Code.Unavailable);
      ctx.values.set(principalKey, { subject: "scheduling", roles: ["service"], grantedRole: "service", ownOnly: false, onBehalfOf: ctx.requestHeader.get("x-on-behalf-of") ?? undefined });
      const res = await (queueSvc as unknown as Record<string, (r: unknown, c: HandlerContext) => Promise<unknown>>)[method.localName](req, ctx);
      const hook = queueState.after[method.localName];
      if (hook) {
        delete queueState.after[method.localName];
        await hook();
      }
      return res;
    };
  }
  service(QueueService, impl as never);
});
const peers: Peers = { client: (s) => createClient(s, queueTransport) as never };
const svc = directSchedulingService(t, { db: database.db, clock, peers });

const staff = { role: "receptionist" as const, subject: "rec-1" };
let n = 0;
const rid = (what: string) => `${what}-${++n}`;

/** clinic creates a provider in UTC working around the clock (15-minute slots) and opens counter "k1" on its queue. */
async function clinic(providerId: string): Promise<string> {
  await createProviderIn(svc, ctx, { providerId });
  const queueId = `prov-${providerId}`;
  await queueSvc.createQueue(create(CreateQueueRequestSchema, { queueId, displayName: `Dr. ${providerId}`, prefix: providerId.slice(-3).toUpperCase().replace(/[^A-Z]/g, "Q"), timeZone: "UTC" }), queueCtx(q.createQueue, staff));
  await queueSvc.openCounter(create(OpenCounterRequestSchema, { queueId, counterId: "k1" }), queueCtx(q.openCounter, staff));
  return queueId;
}

/** booked books `patientId` with a provider at `start` (as reception, the day before). */
async function booked(providerId: string, start: Date, patientId = "pat-1") {
  clock.set(new Date(start.getTime() - DAY));
  const r = await svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId: rid("book"), providerId, patientId, startTime: timestampFromDate(start), duration: { seconds: 900n } }), ctx(m.bookAppointment));
  return r.appointment!;
}

const checkIn = async (appointmentId: string) => svc.checkInAppointment(create(CheckInAppointmentRequestSchema, { appointmentId, requestId: rid("ci") }), ctx(m.checkInAppointment));
const cancel = (appointmentId: string, role: Role = "receptionist", subject = "rec-1") =>
  svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId, requestId: rid("cancel") }), ctx(m.cancelAppointment, role, subject));
const complete = (appointmentId: string) => svc.completeAppointment(create(CompleteAppointmentRequestSchema, { appointmentId, requestId: rid("done") }), ctx(m.completeAppointment));
const noShow = (appointmentId: string) => svc.markNoShow(create(MarkNoShowRequestSchema, { appointmentId, requestId: rid("ns") }), ctx(m.markNoShow));
const status = async (appointmentId: string) => (await svc.getAppointment(create(GetAppointmentRequestSchema, { appointmentId }), ctx(m.getAppointment))).appointment!;
const asTicket = (init: Parameters<typeof create<typeof TicketSchema>>[1]): Ticket => create(TicketSchema, init);
const ticket = async (ticketId: string) => asTicket((await queueSvc.getTicket(create(GetTicketRequestSchema, { ticketId }), queueCtx(q.getTicket, staff))).ticket);
const callNext = async (queueId: string, counterId = "k1") => {
  const called = (await queueSvc.callNext(create(CallNextRequestSchema, { queueId, counterId }), queueCtx(q.callNext, staff))).ticket;
  return called && asTicket(called);
};
const active = async (queueId: string): Promise<Ticket[]> =>
  ((await queueSvc.listTickets(create(ListTicketsRequestSchema, { queueId }), queueCtx(q.listTickets, staff))).tickets ?? []).map(asTicket);

t.test("cancelling a checked-in appointment withdraws its ticket: the patient is not called, the freed time gets one ticket", async (t) => {
  const queueId = await clinic("p-utc");
  const start = new Date("2026-03-10T04:00:00Z");
  const a = await booked("p-utc", start, "pat-1");
  clock.set(new Date(start.getTime() - 30 * MIN));
  const first = (await checkIn(a.appointmentId)).ticket!;
  t.equal(first.status, TicketStatus.WAITING);
  const cancelled = await cancel(a.appointmentId);
  t.equal(cancelled.appointment?.status, AppointmentStatus.CANCELLED);
  t.equal((await ticket(first.ticketId)).status, TicketStatus.CANCELLED, "the ticket is withdrawn with the appointment");
  t.equal(await callNext(queueId), undefined, "nobody is called for the cancelled appointment");
  // The freed time, booked and checked in by someone else: one APPOINTMENT ticket for it, theirs.
  clock.set(new Date(start.getTime() - 40 * MIN));
  const b = await svc.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: rid("book"), providerId: "p-utc", patientId: "pat-2", startTime: timestampFromDate(start), duration: { seconds: 900n } }),
    ctx(m.bookAppointment),
  );
  const second = (await checkIn(b.appointment!.appointmentId)).ticket!;
  t.same((await active(queueId)).map((x) => x.ticketId), [second.ticketId], "only the new patient's ticket is in line");
  t.equal((await callNext(queueId))?.patientId, "pat-2");
});

t.test("a called ticket is withdrawn too, and the counter is free", async (t) => {
  const queueId = await clinic("p-called");
  const start = new Date("2026-03-11T09:00:00Z");
  const a = await booked("p-called", start);
  clock.set(new Date(start.getTime() - 10 * MIN));
  const tk = (await checkIn(a.appointmentId)).ticket!;
  t.equal((await callNext(queueId))?.ticketId, tk.ticketId);
  await cancel(a.appointmentId);
  t.equal((await ticket(tk.ticketId)).status, TicketStatus.CANCELLED);
  t.equal(await callNext(queueId), undefined, "the counter calls again (nobody waits)");
});

t.test("a patient already seen cannot be cancelled or marked a no-show; completing the appointment still works", async (t) => {
  const queueId = await clinic("p-seen");
  const start = new Date("2026-03-12T09:00:00Z");
  const a = await booked("p-seen", start);
  clock.set(new Date(start.getTime() - 5 * MIN));
  const tk = (await checkIn(a.appointmentId)).ticket!;
  await callNext(queueId);
  await queueSvc.completeTicket(create(CompleteTicketRequestSchema, { ticketId: tk.ticketId, counterId: "k1" }), queueCtx(q.completeTicket, staff));
  clock.set(new Date(start.getTime() + 20 * MIN));
  const c = await failure(cancel(a.appointmentId));
  t.equal(c.code, Code.FailedPrecondition);
  t.equal(c.reason, "VISIT_TOOK_PLACE");
  t.equal(c.message, `the patient of the appointment with Dr. p-seen at 09:00 on Thursday 12 March 2026 (UTC) has already been seen (ticket ${tk.number} was completed), so it cannot be cancelled; complete the appointment instead`);
  t.match(c.metadata, { action: "CANCEL", ticketNumber: tk.number, localTime: "09:00" });
  t.equal((await failure(noShow(a.appointmentId))).reason, "VISIT_TOOK_PLACE");
  t.equal((await status(a.appointmentId)).status, AppointmentStatus.CHECKED_IN, "unchanged");
  t.equal((await complete(a.appointmentId)).appointment?.status, AppointmentStatus.FULFILLED);
});

t.test("a ticket marked a no-show: the appointment cannot be FULFILLED, MarkNoShow corrects it", async (t) => {
  const queueId = await clinic("p-z");
  const start = new Date("2026-03-13T09:00:00Z");
  const a = await booked("p-z", start, "pat-z");
  clock.set(new Date(start.getTime() - 5 * MIN));
  const tk = (await checkIn(a.appointmentId)).ticket!;
  await callNext(queueId);
  await queueSvc.markTicketNoShow(create(MarkTicketNoShowRequestSchema, { ticketId: tk.ticketId, counterId: "k1" }), queueCtx(q.markTicketNoShow, staff));
  const done = await failure(complete(a.appointmentId));
  t.equal(done.code, Code.FailedPrecondition);
  t.equal(done.reason, "TICKET_NO_SHOW");
  t.match(done.message, /did not come when called \(ticket [A-Z]+-\d{3} was marked a no-show\), so the visit cannot be recorded as done: mark the appointment as a no-show, or check the patient in again/);
  t.equal((await status(a.appointmentId)).status, AppointmentStatus.CHECKED_IN);
  t.equal((await failure(noShow(a.appointmentId))).reason, "NO_SHOW_BEFORE_START", "not before the start, checked in or not");
  clock.set(new Date(start.getTime() + MIN));
  t.equal((await noShow(a.appointmentId)).appointment?.status, AppointmentStatus.NOSHOW, "CHECKED_IN -> NOSHOW once started");
});

t.test("a withdrawn ticket: not FULFILLED; a new check-in issues a new ticket, and that visit completes", async (t) => {
  const queueId = await clinic("p-tu2");
  const start = new Date("2026-03-14T09:00:00Z");
  const a = await booked("p-tu2", start);
  clock.set(new Date(start.getTime() - 15 * MIN));
  const first = (await checkIn(a.appointmentId)).ticket!;
  t.equal((await checkIn(a.appointmentId)).ticket?.ticketId, first.ticketId, "while it is in line, a check-in answers with it");
  await queueSvc.cancelTicket(create(CancelTicketRequestSchema, { ticketId: first.ticketId, reason: "left" }), queueCtx(q.cancelTicket, { role: "doctor", subject: "p-tu2" }));
  t.equal((await failure(complete(a.appointmentId))).reason, "TICKET_CANCELLED");
  const again = await checkIn(a.appointmentId);
  const second = again.ticket!;
  t.not(second.ticketId, first.ticketId, "a new ticket");
  t.equal(second.status, TicketStatus.WAITING);
  t.equal(again.appointment?.status, AppointmentStatus.CHECKED_IN);
  t.equal((await status(a.appointmentId)).status, AppointmentStatus.CHECKED_IN);
  t.equal((await checkIn(a.appointmentId)).ticket?.ticketId, second.ticketId, "and a check-in after that answers with the new one");
  t.equal((await callNext(queueId))?.ticketId, second.ticketId, "the patient is back in line");
  t.equal((await complete(a.appointmentId)).appointment?.status, AppointmentStatus.FULFILLED);
  t.equal((await ticket(second.ticketId)).status, TicketStatus.COMPLETED, "the called ticket is completed at its counter");
  t.equal(await callNext(queueId), undefined, "the counter is free");
});

t.test("completing an appointment whose ticket still waits withdraws it; marking a waiting one a no-show too", async (t) => {
  const queueId = await clinic("p-wait");
  const start = new Date("2026-03-15T09:00:00Z");
  const a = await booked("p-wait", start, "pat-a");
  const b = await booked("p-wait", new Date(start.getTime() + 15 * MIN), "pat-b");
  clock.set(new Date(start.getTime() + 5 * MIN));
  const ta = (await checkIn(a.appointmentId)).ticket!;
  const tb = (await checkIn(b.appointmentId)).ticket!;
  await complete(a.appointmentId);
  t.equal((await ticket(ta.ticketId)).status, TicketStatus.CANCELLED, "seen without being called: out of the line");
  clock.set(new Date(start.getTime() + 20 * MIN));
  t.equal((await noShow(b.appointmentId)).appointment?.status, AppointmentStatus.NOSHOW);
  t.equal((await ticket(tb.ticketId)).status, TicketStatus.CANCELLED, "left without a word: out of the line");
  t.same(await active(queueId), [], "nobody left to call");
});

t.test("MarkNoShow of a checked-in patient whose ticket is called marks the ticket NO_SHOW", async (t) => {
  const queueId = await clinic("p-callns");
  const start = new Date("2026-03-16T09:00:00Z");
  const a = await booked("p-callns", start);
  clock.set(new Date(start.getTime() + 2 * MIN));
  const tk = (await checkIn(a.appointmentId)).ticket!;
  await callNext(queueId);
  await noShow(a.appointmentId);
  t.equal((await ticket(tk.ticketId)).status, TicketStatus.NO_SHOW);
});

t.test("a ticket transferred to another queue is followed there", async (t) => {
  await clinic("p-xfer");
  await queueSvc.createQueue(create(CreateQueueRequestSchema, { queueId: "lab", displayName: "Lab", prefix: "LB", timeZone: "UTC" }), queueCtx(q.createQueue, staff));
  const start = new Date("2026-03-17T09:00:00Z");
  const a = await booked("p-xfer", start);
  clock.set(new Date(start.getTime() - 5 * MIN));
  const tk = (await checkIn(a.appointmentId)).ticket!;
  const moved = asTicket((await queueSvc.transferTicket(create(TransferTicketRequestSchema, { ticketId: tk.ticketId, toQueueId: "lab" }), queueCtx(q.transferTicket, staff))).ticket);
  t.equal((await checkIn(a.appointmentId)).ticket?.ticketId, moved.ticketId, "a check-in answers with the ticket in the other queue");
  await cancel(a.appointmentId);
  t.equal((await ticket(moved.ticketId)).status, TicketStatus.CANCELLED, "the ticket that continues it is withdrawn");
  t.same(await active("lab"), []);
});

t.test("the queue down: nothing changes, the error says so and is retryable", async (t) => {
  const queueId = await clinic("p-down");
  const start = new Date("2026-03-18T09:00:00Z");
  const a = await booked("p-down", start);
  clock.set(new Date(start.getTime() - 5 * MIN));
  const tk = (await checkIn(a.appointmentId)).ticket!;
  queueState.down = true;
  try {
    const err = await failure(cancel(a.appointmentId));
    t.equal(err.code, Code.Unavailable);
    t.equal(err.reason, "QUEUE_UNAVAILABLE");
    t.match(err.message, /the appointment was not cancelled; nothing changed, retry shortly/);
    t.equal((await failure(complete(a.appointmentId))).code, Code.Unavailable);
  } finally {
    queueState.down = false;
  }
  t.equal((await status(a.appointmentId)).status, AppointmentStatus.CHECKED_IN);
  t.equal((await ticket(tk.ticketId)).status, TicketStatus.WAITING);
  await cancel(a.appointmentId);
  t.same(await active(queueId), [], "the retry withdraws it");
});

t.test("a check-in slipping in between the ticket's withdrawal and the cancel: APPOINTMENT_CHANGED, and the retry withdraws the new ticket", async (t) => {
  const queueId = await clinic("p-race");
  const start = new Date("2026-03-19T09:00:00Z");
  const a = await booked("p-race", start);
  clock.set(new Date(start.getTime() - 5 * MIN));
  await checkIn(a.appointmentId);
  let slipped: Ticket | undefined;
  queueState.after.cancelTicket = async () => {
    slipped = (await checkIn(a.appointmentId)).ticket;
  };
  const err = await failure(cancel(a.appointmentId));
  t.equal(err.code, Code.Aborted);
  t.equal(err.reason, "APPOINTMENT_CHANGED");
  t.ok(slipped, "the check-in in between issued a new ticket");
  t.equal((await status(a.appointmentId)).status, AppointmentStatus.CHECKED_IN, "the cancel changed nothing");
  t.same((await active(queueId)).map((x) => x.ticketId), [slipped!.ticketId]);
  await cancel(a.appointmentId);
  t.same(await active(queueId), [], "the retry withdraws the new ticket");
  t.equal((await status(a.appointmentId)).status, AppointmentStatus.CANCELLED);
});

t.test("a patient cancels their own checked-in appointment before it starts: the ticket goes too; it cannot be moved", async (t) => {
  const queueId = await clinic("p-self");
  const start = new Date("2026-03-20T09:00:00Z");
  const a = await booked("p-self", start, "pat-self");
  clock.set(new Date(start.getTime() - 20 * MIN));
  await checkIn(a.appointmentId);
  const move = svc.rescheduleAppointment(
    create(RescheduleAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: rid("rs"), newStartTime: timestampFromDate(new Date(start.getTime() + DAY)) }),
    ctx(m.rescheduleAppointment, "patient", "pat-self"),
  );
  t.equal((await failure(move)).reason, "ILLEGAL_TRANSITION", "a checked-in appointment is not moved (its ticket would stay in line)");
  await cancel(a.appointmentId, "patient", "pat-self");
  t.same(await active(queueId), []);
});
