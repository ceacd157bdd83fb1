// The class against a real Postgres with a fake clock: queues, counters, numbering, idempotency,
// ranking, the counter workflow and its illegal transitions, ownership, hiding and the audit trail,
// wait estimates (samples reused for a second, one quick ticket not collapsing them), errors in words
// staff read, and the database's own refusal of a second called ticket or a duplicate number.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { TicketPriority, TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  CallNextRequestSchema,
  CancelTicketRequestSchema,
  CloseCounterRequestSchema,
  CompleteTicketRequestSchema,
  CreateQueueRequestSchema,
  GetQueueRequestSchema,
  GetTicketRequestSchema,
  IssueTicketRequestSchema,
  ListQueuesRequestSchema,
  ListTicketsRequestSchema,
  OpenCounterRequestSchema,
  QueueService,
  RecallTicketRequestSchema,
  SkipTicketRequestSchema,
  TransferTicketRequestSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { MIN_SERVICE_SAMPLES } from "../../services/queue/estimator.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { createQueueDatabase, queueCtx } from "../helpers/queue.js";
import { domainCodeOf as code } from "../helpers/call-outcome.js";

const m = QueueService.method;
const database = await createQueueDatabase(t);
// 20:00 UTC = 23:00 in Istanbul: an hour before local midnight.
const clock = createFakeClock(new Date("2026-01-05T20:00:00Z"));
const svc = new QueueServiceImpl({ db: database.db, clock }, { listen: false });
t.teardown(() => svc.close());
const staff = { role: "receptionist" as const, subject: "rec-1" };
/** checkIn is scheduling's CheckInAppointment: only the service role issues APPOINTMENT tickets. */
const checkIn = { role: "service" as const, subject: "scheduling" };

/** prefixes give each queue of this file a prefix of its own (a prefix belongs to one queue). */
const prefixes = new Map<string, string>();
function prefixOf(id: string): string {
  let p = prefixes.get(id);
  if (!p) {
    const n = prefixes.size;
    p = `Q${String.fromCharCode(65 + Math.floor(n / 26))}${String.fromCharCode(65 + (n % 26))}`;
    prefixes.set(id, p);
  }
  return p;
}

async function queue(id: string, prefix = prefixOf(id), timeZone = "Europe/Istanbul") {
  const r = await svc.createQueue(create(CreateQueueRequestSchema, { queueId: id, displayName: `Queue ${id}`, prefix, timeZone }), queueCtx(m.createQueue, staff));
  return r.queue!;
}

let reqN = 0;
async function issue(queueId: string, fields: { patientId?: string; priority?: TicketPriority; appointmentId?: string; appointmentTime?: Date } = {}) {
  const r = await svc.issueTicket(
    create(IssueTicketRequestSchema, {
      requestId: `r-${++reqN}`,
      queueId,
      patientId: fields.patientId ?? "",
      priority: fields.priority ?? TicketPriority.ROUTINE,
      appointmentId: fields.appointmentId ?? "",
      appointmentTime: fields.appointmentTime ? timestampFromDate(fields.appointmentTime) : undefined,
    }),
    queueCtx(m.issueTicket, fields.priority === TicketPriority.APPOINTMENT ? checkIn : staff),
  );
  return r.ticket!;
}

const open = (queueId: string, counterId: string) => svc.openCounter(create(OpenCounterRequestSchema, { queueId, counterId }), queueCtx(m.openCounter, staff));
const callNext = (queueId: string, counterId: string) => svc.callNext(create(CallNextRequestSchema, { queueId, counterId }), queueCtx(m.callNext, staff));
const complete = (ticketId: string | undefined, counterId: string) => svc.completeTicket(create(CompleteTicketRequestSchema, { ticketId: ticketId ?? "", counterId }), queueCtx(m.completeTicket, staff));

t.test("CreateQueue: a retry returns the queue, other details are ALREADY_EXISTS, ids are generated", async (t) => {
  const a = await queue("q-create");
  const again = await queue("q-create");
  t.equal(again.createTime?.seconds, a.createTime?.seconds, "the retry returns the existing queue");
  t.equal(
    await code(svc.createQueue(create(CreateQueueRequestSchema, { queueId: "q-create", displayName: "Other", prefix: "A", timeZone: "Europe/Istanbul" }), queueCtx(m.createQueue, staff))),
    Code.AlreadyExists,
  );
  const gen = await svc.createQueue(create(CreateQueueRequestSchema, { displayName: "Lab", prefix: "L", timeZone: "UTC" }), queueCtx(m.createQueue, staff));
  t.match(gen.queue?.queueId, /^q-/);
  const list = await svc.listQueues(create(ListQueuesRequestSchema, { pageSize: 1 }), queueCtx(m.listQueues, staff));
  t.equal(list.queues?.length, 1);
  t.ok(list.nextPageToken, "a next page");
  const page2 = await svc.listQueues(create(ListQueuesRequestSchema, { pageSize: 10, pageToken: list.nextPageToken }), queueCtx(m.listQueues, staff));
  t.notOk(page2.queues?.some((q) => q.queueId === list.queues?.[0]?.queueId), "page 2 continues after page 1");
  t.equal(await code(svc.getQueue(create(GetQueueRequestSchema, { queueId: "nope" }), queueCtx(m.getQueue, staff))), Code.NotFound);
});

t.test("numbers are A-001, A-002, ... per queue and restart at local midnight", async (t) => {
  clock.set(new Date("2026-01-05T20:00:00Z"));
  await queue("q-num", "B");
  t.equal((await issue("q-num")).number, "B-001");
  t.equal((await issue("q-num")).number, "B-002");
  clock.set(new Date("2026-01-05T21:00:01Z")); // 00:00:01 in Istanbul
  t.equal((await issue("q-num")).number, "B-001", "a new local day starts at 1");
  await queue("q-num-utc", "C", "UTC");
  t.equal((await issue("q-num-utc")).number, "C-001", "numbers are per queue");
});

t.test("IssueTicket is idempotent per caller and requestId", async (t) => {
  await queue("q-idem");
  // Anonymous walk-ins: a named patient has one place in a queue whatever the requestId.
  const req = create(IssueTicketRequestSchema, { requestId: "same", queueId: "q-idem", priority: TicketPriority.ROUTINE });
  const a = await svc.issueTicket(req, queueCtx(m.issueTicket, staff));
  const b = await svc.issueTicket(req, queueCtx(m.issueTicket, staff));
  t.equal(b.ticket?.ticketId, a.ticket?.ticketId, "a retry returns the first ticket");
  t.equal(b.ticket?.number, a.ticket?.number);
  const other = create(IssueTicketRequestSchema, { requestId: "same", queueId: "q-idem", patientId: "p2" });
  t.equal(await code(svc.issueTicket(other, queueCtx(m.issueTicket, staff))), Code.AlreadyExists, "same key, other parameters");
  const c = await svc.issueTicket(req, queueCtx(m.issueTicket, { role: "receptionist", subject: "rec-2" }));
  t.not(c.ticket?.ticketId, a.ticket?.ticketId, "keys are scoped to the caller");
  t.equal(await code(svc.issueTicket(create(IssueTicketRequestSchema, { requestId: "x", queueId: "nope" }), queueCtx(m.issueTicket, staff))), Code.NotFound);
  const retry = await code(svc.issueTicket(create(IssueTicketRequestSchema, { requestId: "x", queueId: "q-idem" }), queueCtx(m.issueTicket, staff)));
  t.equal(retry, "OK", "a failed first attempt does not burn the key");
});

t.test("CallNext: counters must be open on the queue; empty is no ticket; a held ticket comes back", async (t) => {
  await queue("q-call");
  await queue("q-other");
  t.equal(await code(callNext("q-call", "desk-1")), Code.FailedPrecondition, "never opened");
  await open("q-other", "desk-9");
  t.equal(await code(callNext("q-call", "desk-9")), Code.FailedPrecondition, "a counter of another queue");
  t.equal(await code(callNext("nope", "desk-1")), Code.NotFound, "unknown queue");
  await open("q-call", "desk-1");
  const empty = await callNext("q-call", "desk-1");
  t.equal(empty.ticket, undefined, "nobody waits: no ticket, no error");
  const t1 = await issue("q-call");
  const t2 = await issue("q-call");
  const c1 = await callNext("q-call", "desk-1");
  t.equal(c1.ticket?.ticketId, t1.ticketId);
  t.equal(c1.ticket?.status, TicketStatus.CALLED);
  const again = await callNext("q-call", "desk-1");
  t.equal(again.ticket?.ticketId, t1.ticketId, "the counter's called ticket is returned again, no second call");
  t.equal(
    await code(svc.closeCounter(create(CloseCounterRequestSchema, { queueId: "q-call", counterId: "desk-1" }), queueCtx(m.closeCounter, staff))),
    Code.FailedPrecondition,
    "cannot close while holding a ticket",
  );
  const q = await svc.getQueue(create(GetQueueRequestSchema, { queueId: "q-call" }), queueCtx(m.getQueue, staff));
  t.equal(q.counters?.[0]?.currentTicketId, t1.ticketId);
  t.equal(q.waitingCount, 1);
  await complete(t1.ticketId, "desk-1");
  t.equal(await code(complete(t1.ticketId, "desk-1")), Code.FailedPrecondition, "double complete");
  const c2 = await callNext("q-call", "desk-1");
  t.equal(c2.ticket?.ticketId, t2.ticketId);
  t.equal(await code(complete(t2.ticketId, "desk-2")), Code.FailedPrecondition, "another counter cannot complete it");
  await complete(t2.ticketId, "desk-1");
  await svc.closeCounter(create(CloseCounterRequestSchema, { queueId: "q-call", counterId: "desk-1" }), queueCtx(m.closeCounter, staff));
  t.equal(await code(callNext("q-call", "desk-1")), Code.FailedPrecondition, "a closed counter calls nobody");
});

t.test("ranking: URGENT first, PRIORITY's head start, appointments by booked time, fairness bound", async (t) => {
  clock.set(new Date("2026-01-06T08:00:00Z"));
  await queue("q-rank");
  await open("q-rank", "d1");
  const routine1 = await issue("q-rank");
  clock.advance(5 * 60_000);
  const prio = await issue("q-rank", { priority: TicketPriority.PRIORITY }); // ranks as 07:55+... = arrival - 10 min
  const appt = await issue("q-rank", { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-1", appointmentTime: new Date("2026-01-06T08:30:00Z") });
  clock.advance(60_000);
  const urgent = await issue("q-rank", { priority: TicketPriority.URGENT });
  t.equal(urgent.position, 1, "URGENT goes to the front");
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await callNext("q-rank", "d1");
    order.push(c.ticket?.ticketId ?? "");
    await complete(c.ticket?.ticketId, "d1");
  }
  t.strictSame(order, [urgent.ticketId, prio.ticketId, routine1.ticketId, appt.ticketId], "urgent, priority (head start), routine, appointment at 08:30");

  // Fairness: with a 2 h head start for PRIORITY, a ROUTINE ticket that has waited the bound is
  // still called before later PRIORITY arrivals.
  const generous = new QueueServiceImpl({ db: database.db, clock }, { listen: false, priorityHeadStartMs: 2 * 3_600_000 });
  t.teardown(() => generous.close());
  clock.set(new Date("2026-01-06T10:00:00Z"));
  const old = await issue("q-rank");
  clock.advance(44 * 60_000);
  const later = await generous.issueTicket(
    create(IssueTicketRequestSchema, { requestId: "later-prio", queueId: "q-rank", priority: TicketPriority.PRIORITY }),
    queueCtx(m.issueTicket, staff),
  );
  t.equal(later.ticket?.position, 1, "44 min in, the later PRIORITY ticket ranks first");
  clock.advance(60_000);
  const c = await generous.callNext(create(CallNextRequestSchema, { queueId: "q-rank", counterId: "d1" }), queueCtx(m.callNext, staff));
  t.equal(c.ticket?.ticketId, old.ticketId, "at 45 min the old ticket goes first");
  await complete(old.ticketId, "d1");
  await complete((await callNext("q-rank", "d1")).ticket?.ticketId, "d1");
  t.equal(
    await code(issue("q-rank", { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-2", appointmentTime: new Date("2026-01-06T13:00:00Z") })),
    Code.FailedPrecondition,
    "checking in hours before the early window",
  );
});

t.test("recall, skip to NO_SHOW, cancel, transfer", async (t) => {
  await queue("q-flow");
  await queue("q-flow2", "X");
  await open("q-flow", "d1");
  const a = await issue("q-flow", { patientId: "pat-a" });
  const next = await issue("q-flow");
  const b = await issue("q-flow");
  await callNext("q-flow", "d1");
  const recalled = await svc.recallTicket(create(RecallTicketRequestSchema, { ticketId: a.ticketId, counterId: "d1" }), queueCtx(m.recallTicket, staff));
  t.equal(recalled.ticket?.recallCount, 1);
  const skip = () => svc.skipTicket(create(SkipTicketRequestSchema, { ticketId: a.ticketId, counterId: "d1" }), queueCtx(m.skipTicket, staff));
  const s1 = await skip();
  t.equal(s1.ticket?.status, TicketStatus.WAITING, "first skip: back to waiting");
  t.equal(await code(skip()), Code.FailedPrecondition, "cannot skip a waiting ticket");
  const { tickets: line } = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-flow" }), queueCtx(m.listTickets, staff));
  t.strictSame(line?.map((x) => x.ticketId), [next.ticketId, a.ticketId, b.ticketId], "the skipped ticket waits behind the next one, ahead of later ones");
  const afterSkip = await callNext("q-flow", "d1");
  t.equal(afterSkip.ticket?.ticketId, next.ticketId, "the skipped ticket does not keep its place: the next waiting one is called first");
  await complete(next.ticketId, "d1");
  const again = await callNext("q-flow", "d1");
  t.equal(again.ticket?.ticketId, a.ticketId, "then the skipped ticket, before later arrivals");
  const s2 = await skip();
  t.equal(s2.ticket?.status, TicketStatus.NO_SHOW, "second skip: no-show");
  t.equal(await code(svc.recallTicket(create(RecallTicketRequestSchema, { ticketId: a.ticketId, counterId: "d1" }), queueCtx(m.recallTicket, staff))), Code.FailedPrecondition);

  t.equal(
    await code(svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: b.ticketId, toQueueId: "q-flow" }), queueCtx(m.transferTicket, staff))),
    Code.InvalidArgument,
    "transfer to the same queue",
  );
  t.equal(
    await code(svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: b.ticketId, toQueueId: "nope" }), queueCtx(m.transferTicket, staff))),
    Code.NotFound,
  );
  clock.advance(10 * 60_000);
  const moved = await svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: b.ticketId, toQueueId: "q-flow2" }), queueCtx(m.transferTicket, staff));
  t.equal(moved.previousTicket?.status, TicketStatus.TRANSFERRED);
  t.equal(moved.ticket?.status, TicketStatus.WAITING);
  t.equal(moved.ticket?.transferredFromId, b.ticketId);
  t.match(moved.ticket?.number, /^X-\d{3}$/);
  t.equal(moved.ticket?.issueTime?.seconds, b.issueTime?.seconds, "the arrival time is kept");
  t.equal(
    await code(svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: b.ticketId, toQueueId: "q-flow2" }), queueCtx(m.transferTicket, staff))),
    Code.FailedPrecondition,
    "a transferred ticket cannot move again",
  );
  const cancelled = await svc.cancelTicket(create(CancelTicketRequestSchema, { ticketId: moved.ticket!.ticketId, reason: "left" }), queueCtx(m.cancelTicket, staff));
  t.equal(cancelled.ticket?.status, TicketStatus.CANCELLED);
  t.equal(await code(svc.cancelTicket(create(CancelTicketRequestSchema, { ticketId: moved.ticket!.ticketId }), queueCtx(m.cancelTicket, staff))), Code.FailedPrecondition);
  t.equal(await code(svc.cancelTicket(create(CancelTicketRequestSchema, { ticketId: "t-none" }), queueCtx(m.cancelTicket, staff))), Code.NotFound);
  const metrics = await metricsRegistry.metrics();
  t.match(metrics, /queue_no_shows_total 1/);
  t.match(metrics, /queue_transfers_total 1/);
  t.match(metrics, /queue_wait_seconds_bucket\{le="30",priority="ROUTINE"\}/);
});

t.test("GetTicket: own tickets only for patients, positions and estimates, audited; ListTickets hides ids", async (t) => {
  await queue("q-own");
  const mine = await issue("q-own", { patientId: "pat-1" });
  const theirs = await issue("q-own", { patientId: "pat-2" });
  const asPatient = { role: "patient" as const, subject: "pat-1", ownOnly: true };
  const got = await svc.getTicket(create(GetTicketRequestSchema, { ticketId: mine.ticketId }), queueCtx(m.getTicket, asPatient));
  t.equal(got.ticket?.position, 1);
  t.ok(got.ticket?.estimatedWait, "p50 estimate");
  t.ok(got.ticket?.estimatedWaitP90, "p90 estimate");
  t.equal(got.ticket?.patientId, "pat-1");
  t.equal(await code(svc.getTicket(create(GetTicketRequestSchema, { ticketId: theirs.ticketId }), queueCtx(m.getTicket, asPatient))), Code.NotFound, "another's ticket: as if it did not exist");
  t.equal(await code(svc.getTicket(create(GetTicketRequestSchema, { ticketId: "t-none" }), queueCtx(m.getTicket, asPatient))), Code.NotFound);
  const audit = await database.db.selectFrom("queue.audit_log").selectAll().where("record_id", "=", mine.ticketId).execute();
  t.strictSame(audit.map((a) => a.action).sort(), ["GetTicket", "IssueTicket"], "issue and read are audited");
  t.equal(audit.find((a) => a.action === "GetTicket")?.role, "patient");

  const display = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-own" }), queueCtx(m.listTickets, { role: "display", subject: "board-1" }));
  t.equal(display.tickets?.length, 2);
  t.ok(display.tickets?.every((x) => x.patientId === "" && x.number !== ""), "displays see numbers only");
  t.strictSame(display.tickets?.map((x) => x.position), [1, 2]);
  const patient = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-own" }), queueCtx(m.listTickets, asPatient));
  t.strictSame(patient.tickets?.map((x) => x.patientId), ["pat-1", ""], "a patient sees only their own id");
  const reception = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-own", pageSize: 1 }), queueCtx(m.listTickets, staff));
  t.equal(reception.tickets?.[0]?.patientId, "pat-1");
  const next = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-own", pageSize: 1, pageToken: reception.nextPageToken }), queueCtx(m.listTickets, staff));
  t.equal(next.tickets?.[0]?.ticketId, theirs.ticketId, "page 2");
  const ended = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-flow", statuses: [TicketStatus.NO_SHOW, TicketStatus.TRANSFERRED] }), queueCtx(m.listTickets, staff));
  t.equal(ended.tickets?.length, 2, "ended tickets on request");
});

t.test("a queue's estimator samples are reused for up to a second by the service clock, then read again", async (t) => {
  clock.set(new Date("2026-01-07T09:00:00Z"));
  await queue("q-samples");
  await open("q-samples", "c1");
  // Nearly enough service times to outweigh the prior, and fewer waits than calibration needs (these
  // were all called at once), so the raw estimate shows the samples.
  for (let i = 0; i < MIN_SERVICE_SAMPLES - 2; i++) {
    await issue("q-samples");
    const called = await callNext("q-samples", "c1");
    clock.advance(2 * 60_000);
    await complete(called.ticket?.ticketId, "c1");
  }
  // c1 serves one ticket while another waits: the wait depends on the recent service times.
  await issue("q-samples");
  await issue("q-samples", { patientId: "pat-s" });
  await callNext("q-samples", "c1");
  clock.advance(5_000);
  const waitMs = async () => {
    const { ticket } = await svc.getTicket(create(GetTicketRequestSchema, { ticketId: waiting.ticketId }), queueCtx(m.getTicket, staff));
    const d = ticket!.estimatedWait!;
    return Number(d.seconds ?? 0n) * 1000 + (d.nanos ?? 0) / 1e6;
  };
  const { tickets } = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-samples" }), queueCtx(m.listTickets, staff));
  const waiting = tickets!.find((x) => x.patientId === "pat-s")!;
  const before = await waitMs();
  // The visits just served took 30 minutes each, not 2: the samples in the database change.
  await sql`update queue.tickets set called_at = ended_at - interval '30 minutes' where queue_id = 'q-samples' and status = 'COMPLETED'`.execute(database.db);
  t.equal(await waitMs(), before, "same instant: the kept samples");
  clock.advance(999);
  t.ok(Math.abs((await waitMs()) - before) < 5_000, "999 ms later: still the kept samples");
  clock.advance(1);
  const after = await waitMs();
  t.ok(after > before + 10 * 60_000, `a second later the samples are read again: ${before} ms -> ${after} ms`);
});

t.test("one ticket completed half a second after its call does not collapse the queue's estimates", async (t) => {
  clock.set(new Date("2026-01-08T09:00:00Z"));
  await queue("q-collapse");
  await open("q-collapse", "c1");
  for (let i = 0; i < 5; i++) await issue("q-collapse");
  const first = await callNext("q-collapse", "c1");
  clock.advance(500);
  await complete(first.ticket?.ticketId, "c1");
  clock.advance(2_000); // past the kept samples' second
  const { tickets } = await svc.listTickets(create(ListTicketsRequestSchema, { queueId: "q-collapse" }), queueCtx(m.listTickets, staff));
  const fourth = tickets!.find((x) => x.position === 4)!;
  const waitMs = Number(fourth.estimatedWait?.seconds ?? 0n) * 1000;
  t.ok(waitMs >= 5 * 60_000, `the 4th in line is told ${waitMs / 1000} s, not ~2 s`);
});

t.test("errors speak to staff: a stable reason, ticket numbers and names, local times, no RPC names or ids", async (t) => {
  clock.set(new Date("2026-01-09T07:00:00Z")); // 10:00 in Istanbul
  await queue("q-err");
  await open("q-err", "desk-1");
  const rpcNames = new RegExp(`\\b(${QueueService.methods.map((x) => x.name).join("|")})\\b`);
  const checked: string[] = [];
  const expectError = async (p: Promise<unknown>, reason: string, metadata: Record<string, string | undefined>, words: RegExp) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof DomainError)) return t.fail(`${reason}: expected a domain error, got ${String(err)}`);
    checked.push(err.reason);
    t.equal(err.reason, reason, `reason ${reason}`);
    t.match(err.reason, /^[A-Z][A-Z0-9_]*$/, "UPPER_SNAKE");
    t.match(err.metadata, metadata, `${reason}: metadata for a translated message`);
    t.match(err.message, words, `${reason}: ${err.message}`);
    t.notMatch(err.message, rpcNames, `${reason}: no RPC names`);
    t.notMatch(err.message, /\bt-[0-9a-f-]{8,}/, `${reason}: no internal ticket ids`);
  };
  const a = await issue("q-err", { patientId: "pat-e1" });
  const b = await issue("q-err");
  await expectError(callNext("q-err", "desk-2"), "COUNTER_NOT_OPEN", { counterId: "desk-2", queueName: "Queue q-err" }, /desk-2.*not open at Queue q-err: open the counter/);
  await expectError(complete(a.ticketId, "desk-1"), "TICKET_NOT_CALLED", { ticketNumber: a.number, status: "WAITING" }, new RegExp(`${a.number} is waiting`));
  await callNext("q-err", "desk-1");
  await expectError(complete(a.ticketId, "desk-9"), "TICKET_NOT_CALLED_HERE", { ticketNumber: a.number, counterId: "desk-9", calledAtCounterId: "desk-1" }, new RegExp(`${a.number} is called to counter "desk-1"`));
  await expectError(
    svc.closeCounter(create(CloseCounterRequestSchema, { queueId: "q-err", counterId: "desk-1" }), queueCtx(m.closeCounter, staff)),
    "COUNTER_BUSY",
    { counterId: "desk-1", ticketNumber: a.number },
    new RegExp(`still serving ${a.number}`),
  );
  await expectError(
    svc.closeCounter(create(CloseCounterRequestSchema, { queueId: "q-err", counterId: "desk-7" }), queueCtx(m.closeCounter, staff)),
    "COUNTER_NOT_FOUND",
    { counterId: "desk-7", queueName: "Queue q-err" },
    /desk-7.*never been opened at Queue q-err/,
  );
  await complete(a.ticketId, "desk-1");
  await expectError(complete(a.ticketId, "desk-1"), "TICKET_NOT_CALLED", { ticketNumber: a.number, status: "COMPLETED" }, new RegExp(`${a.number} is already completed`));
  await expectError(
    svc.cancelTicket(create(CancelTicketRequestSchema, { ticketId: a.ticketId }), queueCtx(m.cancelTicket, staff)),
    "TICKET_ENDED",
    { ticketNumber: a.number, status: "COMPLETED" },
    /already completed; only a waiting or called ticket can be cancelled/,
  );
  await expectError(
    svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: b.ticketId, toQueueId: "q-err-none" }), queueCtx(m.transferTicket, staff)),
    "QUEUE_NOT_FOUND",
    { queueId: "q-err-none" },
    /queue does not exist/,
  );
  await queue("q-err2", "E");
  await expectError(
    svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: b.ticketId, toQueueId: "q-err2", priority: TicketPriority.APPOINTMENT }), queueCtx(m.transferTicket, staff)),
    "NO_APPOINTMENT",
    { ticketNumber: b.number },
    new RegExp(`${b.number} is not for an appointment`),
  );
  await expectError(
    svc.getTicket(create(GetTicketRequestSchema, { ticketId: "t-00000000-0000-0000-0000-000000000000" }), queueCtx(m.getTicket, staff)),
    "TICKET_NOT_FOUND",
    { ticketId: "t-00000000-0000-0000-0000-000000000000" },
    /ticket does not exist/,
  );
  await expectError(
    svc.getTicket(create(GetTicketRequestSchema, { ticketId: a.ticketId }), queueCtx(m.getTicket, { role: "patient", subject: "pat-other", ownOnly: true })),
    "TICKET_NOT_FOUND",
    { ticketId: a.ticketId },
    /ticket does not exist/,
  );
  const prefix = prefixOf("q-err");
  await expectError(
    svc.createQueue(create(CreateQueueRequestSchema, { displayName: "Second desk", prefix, timeZone: "UTC" }), queueCtx(m.createQueue, staff)),
    "PREFIX_IN_USE",
    { prefix, queueId: "q-err", queueName: "Queue q-err" },
    new RegExp(`"${prefix}" is already used by Queue q-err: two queues with one prefix would both call ${prefix}-001; choose another prefix`),
  );
  const held = await issue("q-err", { patientId: "pat-e3" });
  await expectError(
    issue("q-err", { patientId: "pat-e3", priority: TicketPriority.URGENT }),
    "PATIENT_ALREADY_IN_QUEUE",
    { ticketNumber: held.number, ticketId: held.ticketId, priority: "ROUTINE", status: "WAITING", queueName: "Queue q-err", requestedPriority: "URGENT" },
    new RegExp(`already holds ${held.number} \\(routine, waiting\\) at Queue q-err, and a patient has one place in a queue: cancel ${held.number} first to give them an urgent ticket instead`),
  );
  const elsewhere = await issue("q-err2", { patientId: "pat-e3" });
  await expectError(
    svc.transferTicket(create(TransferTicketRequestSchema, { ticketId: elsewhere.ticketId, toQueueId: "q-err" }), queueCtx(m.transferTicket, staff)),
    "PATIENT_ALREADY_IN_QUEUE",
    { ticketNumber: held.number, queueName: "Queue q-err" },
    /cancel one of the two tickets, then move this one/,
  );
  await expectError(
    svc.issueTicket(
      create(IssueTicketRequestSchema, { requestId: "err-apt", queueId: "q-err", priority: TicketPriority.APPOINTMENT, appointmentId: "apt-made-up", appointmentTime: timestampFromDate(new Date("2026-01-09T07:30:00Z")) }),
      queueCtx(m.issueTicket, staff),
    ),
    "APPOINTMENT_TICKET_NOT_ALLOWED",
    { field: "priority" },
    /checking the patient in from their appointment/,
  );
  // Check-in opens an hour before 13:00 UTC: at 15:00 on the queue's clock (Istanbul, UTC+3).
  await expectError(
    issue("q-err", { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-err", appointmentTime: new Date("2026-01-09T13:00:00Z") }),
    "CHECK_IN_NOT_OPEN",
    { localTime: "15:00", localDate: "2026-01-09", timeZone: "Europe/Istanbul", opensAt: "2026-01-09T12:00:00.000Z" },
    /opens at 15:00 \(Europe\/Istanbul\)/,
  );
  await expectError(
    issue("q-err", { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-err", appointmentTime: new Date("2026-01-10T13:00:00Z") }),
    "CHECK_IN_NOT_OPEN",
    { localTime: "15:00", localDate: "2026-01-10" },
    /opens at 15:00 on 2026-01-10 \(Europe\/Istanbul\)/,
  );
  t.ok(checked.length >= 16, `${checked.length} errors checked`);
});

t.test("the database refuses a second called ticket at one counter and duplicate numbers", async (t) => {
  await queue("q-db");
  await open("q-db", "d1");
  const a = await issue("q-db");
  const b = await issue("q-db");
  await callNext("q-db", "d1");
  const err = await database.db
    .updateTable("queue.tickets" as never)
    .set({ status: "CALLED", counter_id: "d1", called_at: new Date() } as never)
    .where("ticket_id" as never, "=", b.ticketId as never)
    .execute()
    .then(() => undefined, (e: { code?: string }) => e.code);
  t.equal(err, "23505", "unique violation: one CALLED ticket per counter");
  const dup = await database.db
    .updateTable("queue.tickets" as never)
    .set({ day_number: 1 } as never)
    .where("ticket_id" as never, "=", b.ticketId as never)
    .execute()
    .then(() => undefined, (e: { code?: string }) => e.code);
  t.equal(dup, "23505", "unique violation: one number per queue and day");
  const badState = await database.db
    .updateTable("queue.tickets" as never)
    .set({ status: "DONE" } as never)
    .where("ticket_id" as never, "=", a.ticketId as never)
    .execute()
    .then(() => undefined, (e: { code?: string }) => e.code);
  t.equal(badState, "23514", "check violation: unknown state");
});
