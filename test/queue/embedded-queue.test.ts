// The queue on embedded PGlite (`npm start`'s default): the same SQL as on Postgres answers the same.
// A skipped ticket waits behind the next one, MarkTicketNoShow frees the counter, a second check-in of
// an appointment returns the first ticket, and a patient's URGENT ticket is refused. A prefix in use
// is refused, a patient asking again gets the ticket they hold, and staff cannot issue appointment
// tickets (the same indexes and errors as on Postgres).
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { TicketPriority, TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  CallNextRequestSchema,
  CompleteTicketRequestSchema,
  CreateQueueRequestSchema,
  IssueTicketRequestSchema,
  MarkTicketNoShowRequestSchema,
  OpenCounterRequestSchema,
  QueueService,
  SkipTicketRequestSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { sql } from "kysely";
import { queueCtx } from "../helpers/queue.js";
import { createModuleDatabase } from "../helpers/module-database.js";

t.setTimeout(120_000);
const database = await createModuleDatabase(t, [queueModule], { embedded: true });
const clock = createFakeClock(new Date("2026-03-02T08:00:00Z"));
const svc = new QueueServiceImpl({ db: database.db, clock }, { listen: false, sweepIntervalMs: 0 });
t.teardown(() => svc.close());
const m = QueueService.method;
const staff = { role: "receptionist" as const, subject: "rec-emb" };
const queueId = "emb";

let n = 0;
/** checkIn is scheduling's CheckInAppointment: only the service role issues APPOINTMENT tickets. */
const checkIn = { role: "service" as const, subject: "scheduling" };
const issue = async (fields: { priority?: TicketPriority; appointmentId?: string } = {}, as: { role: "receptionist" | "patient" | "service"; subject: string } = staff) =>
  (
    await svc.issueTicket(
      create(IssueTicketRequestSchema, {
        requestId: `emb-${++n}`,
        queueId,
        patientId: as.role === "patient" ? as.subject : `pat-${n}`,
        priority: fields.priority ?? TicketPriority.ROUTINE,
        appointmentId: fields.appointmentId ?? "",
        appointmentTime: fields.appointmentId ? timestampFromDate(new Date("2026-03-02T08:30:00Z")) : undefined,
      }),
      queueCtx(m.issueTicket, as),
    )
  ).ticket!;
const callNext = async () => (await svc.callNext(create(CallNextRequestSchema, { queueId, counterId: "c1" }), queueCtx(m.callNext, staff))).ticket;

t.test("skip, no-show and appointment tickets on PGlite", async (t) => {
  await svc.createQueue(create(CreateQueueRequestSchema, { queueId, displayName: "Embedded", prefix: "E", timeZone: "UTC" }), queueCtx(m.createQueue, staff));
  await svc.openCounter(create(OpenCounterRequestSchema, { queueId, counterId: "c1" }), queueCtx(m.openCounter, staff));
  const first = await issue();
  const second = await issue();
  const third = await issue();
  t.equal((await callNext())?.ticketId, first.ticketId);
  await svc.skipTicket(create(SkipTicketRequestSchema, { ticketId: first.ticketId, counterId: "c1" }), queueCtx(m.skipTicket, staff));
  t.equal((await callNext())?.ticketId, second.ticketId, "the skipped ticket waits behind the next one");
  const marked = await svc.markTicketNoShow(create(MarkTicketNoShowRequestSchema, { ticketId: second.ticketId, counterId: "c1" }), queueCtx(m.markTicketNoShow, staff));
  t.equal(marked.ticket?.status, TicketStatus.NO_SHOW);
  t.equal((await callNext())?.ticketId, first.ticketId, "then the skipped one, before later arrivals");
  await svc.completeTicket(create(CompleteTicketRequestSchema, { ticketId: first.ticketId, counterId: "c1" }), queueCtx(m.completeTicket, staff));
  t.equal((await callNext())?.ticketId, third.ticketId, "and the third");

  const checkedIn = await issue({ priority: TicketPriority.APPOINTMENT, appointmentId: "apt-emb" }, checkIn);
  const again = await issue({ priority: TicketPriority.APPOINTMENT, appointmentId: "apt-emb" }, checkIn);
  t.equal(again.ticketId, checkedIn.ticketId, "a second check-in returns the first ticket");

  const refused = await issue({ priority: TicketPriority.URGENT }, { role: "patient", subject: "pat-self" }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(refused instanceof DomainError && refused.code === Code.PermissionDenied && refused.reason === "PRIORITY_NOT_ALLOWED", "a patient's URGENT ticket is refused");
});

t.test("one prefix per queue, one place per patient, appointment tickets from check-in only, on PGlite", async (t) => {
  const reason = (p: Promise<unknown>) =>
    p.then(
      () => "OK",
      (e: unknown) => (e instanceof DomainError ? `${Code[e.code]} ${e.reason}` : String(e)),
    );
  const createQueue = (id: string, prefix: string) =>
    svc.createQueue(create(CreateQueueRequestSchema, { queueId: id, displayName: "Embedded", prefix, timeZone: "UTC" }), queueCtx(m.createQueue, staff));
  t.equal(await reason(createQueue("emb-2", "E")), "FailedPrecondition PREFIX_IN_USE", "the prefix of the first queue");
  t.equal(await reason(createQueue("emb", "F")), "AlreadyExists QUEUE_EXISTS", "an existing id with other details");
  t.equal(await reason(createQueue("emb", "E")), "OK", "a retry of the first queue");

  const patient = { role: "patient" as const, subject: "pat-once" };
  const held = await issue({}, patient);
  const again = await issue({}, patient);
  t.equal(again.ticketId, held.ticketId, "a patient asking again gets the ticket they hold");
  const inserted = await sql`insert into queue.tickets (ticket_id, queue_id, local_day, day_number, number, priority, status, patient_id, arrived_at, enqueued_at, rank_at, updated_at)
      values ('t-emb-dup', 'emb', '2026-03-02', 999, 'E-999', 'ROUTINE', 'WAITING', 'pat-once', now(), now(), now(), now())`
    .execute(database.db)
    .then(
      () => "inserted",
      (e: { message?: string }) => e.message ?? "",
    );
  t.match(inserted, /tickets_one_active_walk_in_per_patient/, "PGlite refuses a second active walk-in too");
  t.equal(
    await reason(issue({ priority: TicketPriority.APPOINTMENT, appointmentId: "apt-emb-2" })),
    "PermissionDenied APPOINTMENT_TICKET_NOT_ALLOWED",
    "reception checks a patient in from the appointment, not with a ticket",
  );
});
