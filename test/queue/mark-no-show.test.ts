// MarkTicketNoShow (issue 18, defect 7): a counter moves past an absent patient in one step. The
// called ticket becomes NO_SHOW at once, the counter is free and its next CallNext calls someone else,
// queue_no_shows_total counts it, the audit log names it and WatchQueue shows it; a ticket that is not
// CALLED at that counter is FAILED_PRECONDITION and changes nothing. The class against a real Postgres.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  CallNextRequestSchema,
  CreateQueueRequestSchema,
  GetQueueRequestSchema,
  GetTicketRequestSchema,
  IssueTicketRequestSchema,
  MarkTicketNoShowRequestSchema,
  OpenCounterRequestSchema,
  QueueService,
  WatchQueueRequestSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { queueNoShows } from "../../services/queue/queue.metrics.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { createQueueDatabase, queueCtx } from "../helpers/queue.js";
import { domainFailure as failure } from "../helpers/call-outcome.js";

t.setTimeout(60_000);
const m = QueueService.method;
const database = await createQueueDatabase(t);
const clock = createFakeClock(new Date("2026-02-02T08:00:00Z"));
const svc = new QueueServiceImpl({ db: database.db, clock }, { listen: false, pollIntervalMs: 100 });
t.teardown(() => svc.close());
const staff = { role: "receptionist" as const, subject: "rec-ns" };
const queueId = "q-ns";
await svc.createQueue(create(CreateQueueRequestSchema, { queueId, displayName: "Radiology", prefix: "R", timeZone: "Europe/Istanbul" }), queueCtx(m.createQueue, staff));
await svc.openCounter(create(OpenCounterRequestSchema, { queueId, counterId: "desk-1" }), queueCtx(m.openCounter, staff));
await svc.openCounter(create(OpenCounterRequestSchema, { queueId, counterId: "desk-2" }), queueCtx(m.openCounter, staff));

let n = 0;
const issue = async (patientId = "") =>
  (await svc.issueTicket(create(IssueTicketRequestSchema, { requestId: `ns-${++n}`, queueId, patientId }), queueCtx(m.issueTicket, staff))).ticket!;
const callNext = async (counterId: string) => (await svc.callNext(create(CallNextRequestSchema, { queueId, counterId }), queueCtx(m.callNext, staff))).ticket;
const noShow = (ticketId: string, counterId: string) =>
  svc.markTicketNoShow(create(MarkTicketNoShowRequestSchema, { ticketId, counterId }), queueCtx(m.markTicketNoShow, staff));
const noShows = async () => (await queueNoShows.get()).values[0]?.value ?? 0;
const status = async (ticketId: string) => (await svc.getTicket(create(GetTicketRequestSchema, { ticketId }), queueCtx(m.getTicket, staff))).ticket?.status;

t.test("CALLED -> NO_SHOW at once: the counter calls the next patient, counted and audited", async (t) => {
  const absent = await issue("pat-absent");
  const next = await issue("pat-next");
  t.equal((await callNext("desk-1"))?.ticketId, absent.ticketId);
  const before = await noShows();
  clock.advance(90_000);
  const marked = await noShow(absent.ticketId!, "desk-1");
  t.equal(marked.ticket?.status, TicketStatus.NO_SHOW, "NO_SHOW in one step");
  t.ok(marked.ticket?.endTime, "with its end time");
  t.equal(await noShows(), before + 1, "queue_no_shows_total counts it");
  t.equal((await callNext("desk-1"))?.ticketId, next.ticketId, "the counter is free: its next call is the next patient, not the absent one");
  t.equal(await status(absent.ticketId!), TicketStatus.NO_SHOW, "and the absent one is out of the line for good");
  const audit = await database.db
    .selectFrom("queue.audit_log")
    .select(["action", "actor", "role"])
    .where("record_id", "=", absent.ticketId!)
    .where("action", "=", "MarkTicketNoShow")
    .execute();
  t.strictSame(audit, [{ action: "MarkTicketNoShow", actor: "rec-ns", role: "receptionist" }], "one audit row names who marked it");
});

t.test("FAILED_PRECONDITION unless the ticket is CALLED at that counter; nothing changes", async (t) => {
  const waiting = await issue();
  const before = await noShows();
  const notCalled = await failure(noShow(waiting.ticketId!, "desk-2"));
  t.equal(notCalled.code, Code.FailedPrecondition);
  t.equal(notCalled.reason, "TICKET_NOT_CALLED");
  t.match(notCalled.metadata, { ticketNumber: waiting.number, status: "WAITING" });
  t.equal(await status(waiting.ticketId!), TicketStatus.WAITING, "the waiting ticket still waits");

  const called = await callNext("desk-2");
  t.equal(called?.ticketId, waiting.ticketId);
  const elsewhere = await failure(noShow(waiting.ticketId!, "desk-9"));
  t.equal(elsewhere.code, Code.FailedPrecondition);
  t.equal(elsewhere.reason, "TICKET_NOT_CALLED_HERE");
  t.match(elsewhere.metadata, { ticketNumber: waiting.number, counterId: "desk-9", calledAtCounterId: "desk-2" });
  t.equal(await status(waiting.ticketId!), TicketStatus.CALLED, "still called at its own counter");

  await noShow(waiting.ticketId!, "desk-2");
  const twice = await failure(noShow(waiting.ticketId!, "desk-2"));
  t.equal(twice.code, Code.FailedPrecondition, "a second no-show");
  t.match(twice.metadata, { status: "NO_SHOW" });
  t.equal(await noShows(), before + 1, "counted once");
  const missing = await failure(noShow("t-missing", "desk-2"));
  t.equal(missing.code, Code.NotFound);
  t.equal(missing.reason, "TICKET_NOT_FOUND");
});

t.test("WatchQueue shows the ticket turn NO_SHOW", async (t) => {
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const watch = svc.watchQueue(create(WatchQueueRequestSchema, { queueId }), queueCtx(m.watchQueue, staff, ctl.signal));
  const snap = (await watch.next()).value!;
  t.ok(snap.snapshot);
  const ticket = await issue("pat-watched");
  await callNext("desk-2");
  await noShow(ticket.ticketId!, "desk-2");
  const seen: TicketStatus[] = [];
  while (!seen.includes(TicketStatus.NO_SHOW)) {
    const msg = (await watch.next()).value!;
    for (const x of msg.tickets ?? []) if (x.ticketId === ticket.ticketId) seen.push(x.status!);
  }
  t.pass(`the watcher saw it: ${seen.map((s) => TicketStatus[s]).join(", ")}`);
  const q = await svc.getQueue(create(GetQueueRequestSchema, { queueId }), queueCtx(m.getQueue, staff));
  t.notOk(q.counters?.some((c) => c.currentTicketId === ticket.ticketId), "no counter holds it");
  ctl.abort();
  await watch.return(undefined);
});
