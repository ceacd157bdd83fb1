// The class alone: every QueueService RPC rejects malformed requests with INVALID_ARGUMENT naming
// exactly the bad fields, and lets well-formed ones through to the database (here: nothing exists yet,
// so they end as NOT_FOUND or similar, never INVALID_ARGUMENT).
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { TimestampSchema, timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
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
  MarkTicketNoShowRequestSchema,
  SkipTicketRequestSchema,
  TransferTicketRequestSchema,
  WatchQueueRequestSchema,
  ReassignPatientRequestSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError, InvalidArgumentError } from "../../services/runtime/errors.js";
import { PageTokens } from "../../services/runtime/page-token.js";
import { QUEUES_PAGE, QueueServiceImpl, TICKETS_PAGE } from "../../services/queue/queue-service.js";
import {
  validateCreateQueue,
  validateIssueTicket,
  validateListQueues,
  validateListTickets,
  validateTransferTicket,
} from "../../services/queue/queue.validation.js";

import { createQueueDatabase } from "../helpers/queue.js";
import { validationTable } from "../helpers/validation-table.js";

const database = await createQueueDatabase(t);
const pageTokens = new PageTokens("queue-validation-test-page-token-secret-0123");
const impl = new QueueServiceImpl({ db: database.db, clock: createFakeClock(), pageTokens });
t.teardown(() => impl.close());
const method = QueueService.method;

// ---- helpers ------------------------------------------------------------------------------------

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // A well-formed request on an existing queue gets its snapshot first: enough to pass validation.
    return;
  }
}

/** rpc adds an RPC's row: a request passes validation when it ends in a domain error other than INVALID_ARGUMENT, or succeeds; every violation has its own reason. */
const { rpc, coversEveryRpc } = validationTable(t, QueueService, (err) => err === undefined || (err instanceof DomainError && !(err instanceof InvalidArgumentError)), { ownReasons: true });

/** ticketAtCounter covers RecallTicket, SkipTicket and CompleteTicket, which take the same fields. */
const ticketAtCounterBad = [
  { name: "no ticket", patch: { ticketId: "" }, fields: ["ticketId"] },
  { name: "bad ticket", patch: { ticketId: "t 1" }, fields: ["ticketId"] },
  { name: "no counter", patch: { counterId: "" }, fields: ["counterId"] },
  { name: "bad counter", patch: { counterId: "desk#2" }, fields: ["counterId"] },
  { name: "empty request", patch: { ticketId: "", counterId: "" }, fields: ["ticketId", "counterId"] },
];

/** counterBad covers OpenCounter, CloseCounter and CallNext, which take the same fields. */
const counterBad = [
  { name: "no queue", patch: { queueId: "" }, fields: ["queueId"] },
  { name: "bad queue", patch: { queueId: "radiology/1" }, fields: ["queueId"] },
  { name: "no counter", patch: { counterId: "" }, fields: ["counterId"] },
  { name: "65-character counter", patch: { counterId: "d".repeat(65) }, fields: ["counterId"] },
  { name: "empty request", patch: { queueId: "", counterId: "" }, fields: ["queueId", "counterId"] },
];

// ---- queues and counters ------------------------------------------------------------------------

rpc({
  method: method.createQueue,
  schema: CreateQueueRequestSchema,
  call: (req, c) => impl.createQueue(req, c),
  valid: { displayName: "Radiology", prefix: "A", timeZone: "Europe/Istanbul" },
  alsoValid: [
    { name: "three-letter prefix", patch: { prefix: "RAD" } },
    { name: "client-chosen id", patch: { queueId: "radiology" } },
    { name: "200-character name", patch: { displayName: "n".repeat(200) } },
    { name: "zone in another letter case", patch: { timeZone: "EUROPE/istanbul" } },
    { name: "an IANA alias", patch: { timeZone: "Etc/UTC" } },
    { name: "the default location", patch: { locationId: "default" } },
  ],
  bad: [
    { name: "empty request", patch: { displayName: "", prefix: "", timeZone: "" }, fields: ["displayName", "prefix", "timeZone"] },
    { name: "no name", patch: { displayName: " " }, fields: ["displayName"] },
    { name: "201-character name", patch: { displayName: "n".repeat(201) }, fields: ["displayName"] },
    { name: "no prefix", patch: { prefix: "" }, fields: ["prefix"] },
    { name: "lower-case prefix", patch: { prefix: "a" }, fields: ["prefix"] },
    { name: "four-letter prefix", patch: { prefix: "RADI" }, fields: ["prefix"] },
    { name: "digit in the prefix", patch: { prefix: "A1" }, fields: ["prefix"] },
    { name: "non-ASCII prefix", patch: { prefix: "Ä" }, fields: ["prefix"] },
    { name: "prefix with a dash", patch: { prefix: "A-" }, fields: ["prefix"] },
    { name: "unknown zone", patch: { timeZone: "Europe/Atlantis" }, fields: ["timeZone"] },
    { name: "bad id", patch: { queueId: "radiology queue" }, fields: ["queueId"] },
    { name: "bad location", patch: { locationId: "north clinic" }, fields: ["locationId"] },
    {
      name: "several bad fields",
      patch: { displayName: "", prefix: "ab", timeZone: "nowhere", queueId: "q/1" },
      fields: ["displayName", "prefix", "timeZone", "queueId"],
    },
  ],
});

rpc({
  method: method.getQueue,
  schema: GetQueueRequestSchema,
  call: (req, c) => impl.getQueue(req, c),
  valid: { queueId: "radiology" },
  bad: [
    { name: "no queue", patch: { queueId: "" }, fields: ["queueId"] },
    { name: "bad queue", patch: { queueId: "radiology?" }, fields: ["queueId"] },
  ],
});

rpc({
  method: method.listQueues,
  schema: ListQueuesRequestSchema,
  call: (req, c) => impl.listQueues(req, c),
  valid: {},
  alsoValid: [
    { name: "page 2", patch: { pageSize: 500, pageToken: pageTokens.seal(QUEUES_PAGE, { displayName: "Radiology", queueId: "radiology" }) } },
    { name: "one location", patch: { locationId: "default" } },
  ],
  bad: [
    { name: "bad location", patch: { locationId: "north/clinic" }, fields: ["locationId"] },
    { name: "hand-written page token", patch: { pageToken: "eyJuIjoiUmFkaW9sb2d5IiwiaSI6InJhZGlvbG9neSJ9" }, fields: ["pageToken"] },
    { name: "hand-written page token holding a NUL", patch: { pageToken: Buffer.from(JSON.stringify({ n: "\u0000", i: "x" })).toString("base64url") }, fields: ["pageToken"] },
    { name: "negative page size", patch: { pageSize: -1 }, fields: ["pageSize"] },
    { name: "page size 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
    { name: "malformed page token", patch: { pageToken: "a b" }, fields: ["pageToken"] },
    { name: "both", patch: { pageSize: 600, pageToken: "!" }, fields: ["pageSize", "pageToken"] },
  ],
});

rpc({
  method: method.openCounter,
  schema: OpenCounterRequestSchema,
  call: (req, c) => impl.openCounter(req, c),
  valid: { queueId: "radiology", counterId: "desk-2" },
  bad: counterBad,
});

rpc({
  method: method.closeCounter,
  schema: CloseCounterRequestSchema,
  call: (req, c) => impl.closeCounter(req, c),
  valid: { queueId: "radiology", counterId: "desk-2" },
  bad: counterBad,
});

// ---- tickets ------------------------------------------------------------------------------------

rpc({
  method: method.issueTicket,
  schema: IssueTicketRequestSchema,
  call: (req, c) => impl.issueTicket(req, c),
  valid: { requestId: "req-1", queueId: "radiology", patientId: "pat-42", priority: TicketPriority.ROUTINE },
  alsoValid: [
    { name: "anonymous walk-in, priority unspecified", patch: { patientId: "", priority: TicketPriority.UNSPECIFIED } },
    { name: "urgent", patch: { priority: TicketPriority.URGENT } },
    { name: "priority class", patch: { priority: TicketPriority.PRIORITY } },
    {
      name: "appointment",
      patch: {
        priority: TicketPriority.APPOINTMENT,
        appointmentId: "apt-1",
        appointmentTime: timestampFromDate(new Date("2026-01-05T09:00:00Z")),
      },
    },
  ],
  bad: [
    { name: "empty request", patch: { requestId: "", queueId: "", patientId: "", priority: 0 }, fields: ["requestId", "queueId"] },
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "request id with a space", patch: { requestId: "req 1" }, fields: ["requestId"] },
    { name: "no queue", patch: { queueId: "" }, fields: ["queueId"] },
    { name: "bad patient", patch: { patientId: "Jane Doe" }, fields: ["patientId"] },
    { name: "unknown priority", patch: { priority: 5 as TicketPriority }, fields: ["priority"] },
    { name: "negative priority", patch: { priority: -1 as TicketPriority }, fields: ["priority"] },
    { name: "appointment ticket without appointment", patch: { priority: TicketPriority.APPOINTMENT }, fields: ["appointmentId", "appointmentTime"] },
    { name: "appointment without its time", patch: { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-1" }, fields: ["appointmentTime"] },
    { name: "bad appointment id", patch: { priority: TicketPriority.APPOINTMENT, appointmentId: "apt 1", appointmentTime: timestampFromDate(new Date("2026-01-05T09:00:00Z")) }, fields: ["appointmentId"] },
    { name: "a routine ticket naming an appointment", patch: { appointmentId: "a-x" }, fields: ["appointmentId"] },
    { name: "an urgent ticket with an appointment time", patch: { priority: TicketPriority.URGENT, appointmentTime: timestampFromDate(new Date("2026-01-05T09:00:00Z")) }, fields: ["appointmentTime"] },
    {
      name: "appointment time with microseconds",
      patch: { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-1", appointmentTime: create(TimestampSchema, { seconds: 1767603600n, nanos: 1000 }) },
      fields: ["appointmentTime"],
    },
    {
      name: "appointment time before 1970",
      patch: { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-1", appointmentTime: timestampFromMs(-1000) },
      fields: ["appointmentTime"],
    },
    {
      name: "several bad fields",
      patch: { requestId: "", queueId: "q 1", patientId: "p/1", priority: TicketPriority.APPOINTMENT },
      fields: ["requestId", "queueId", "patientId", "appointmentId", "appointmentTime"],
    },
  ],
});

rpc({
  method: method.callNext,
  schema: CallNextRequestSchema,
  call: (req, c) => impl.callNext(req, c),
  valid: { queueId: "radiology", counterId: "desk-2" },
  bad: counterBad,
});

rpc({
  method: method.recallTicket,
  schema: RecallTicketRequestSchema,
  call: (req, c) => impl.recallTicket(req, c),
  valid: { ticketId: "tkt-1", counterId: "desk-2" },
  bad: ticketAtCounterBad,
});

rpc({
  method: method.skipTicket,
  schema: SkipTicketRequestSchema,
  call: (req, c) => impl.skipTicket(req, c),
  valid: { ticketId: "tkt-1", counterId: "desk-2" },
  bad: ticketAtCounterBad,
});

rpc({
  method: method.markTicketNoShow,
  schema: MarkTicketNoShowRequestSchema,
  call: (req, c) => impl.markTicketNoShow(req, c),
  valid: { ticketId: "tkt-1", counterId: "desk-2" },
  bad: ticketAtCounterBad,
});

rpc({
  method: method.transferTicket,
  schema: TransferTicketRequestSchema,
  call: (req, c) => impl.transferTicket(req, c),
  valid: { ticketId: "tkt-1", toQueueId: "lab" },
  alsoValid: [
    { name: "from a counter", patch: { counterId: "desk-2" } },
    { name: "with a new priority", patch: { priority: TicketPriority.URGENT } },
  ],
  bad: [
    { name: "no ticket", patch: { ticketId: "" }, fields: ["ticketId"] },
    { name: "no target queue", patch: { toQueueId: "" }, fields: ["toQueueId"] },
    { name: "bad target queue", patch: { toQueueId: "lab 2" }, fields: ["toQueueId"] },
    { name: "bad counter", patch: { counterId: "desk 2" }, fields: ["counterId"] },
    { name: "unknown priority", patch: { priority: 9 as TicketPriority }, fields: ["priority"] },
    {
      name: "several bad fields",
      patch: { ticketId: "", toQueueId: "", counterId: "d/2", priority: 9 as TicketPriority },
      fields: ["ticketId", "toQueueId", "counterId", "priority"],
    },
  ],
});

rpc({
  method: method.completeTicket,
  schema: CompleteTicketRequestSchema,
  call: (req, c) => impl.completeTicket(req, c),
  valid: { ticketId: "tkt-1", counterId: "desk-2" },
  bad: ticketAtCounterBad,
});

rpc({
  method: method.cancelTicket,
  schema: CancelTicketRequestSchema,
  call: (req, c) => impl.cancelTicket(req, c),
  valid: { ticketId: "tkt-1", reason: "left the clinic" },
  alsoValid: [
    { name: "no reason", patch: { reason: "" } },
    { name: "500-character reason", patch: { reason: "r".repeat(500) } },
    { name: "multi-line reason", patch: { reason: "left\r\nwill call back" } },
  ],
  bad: [
    { name: "no ticket", patch: { ticketId: "" }, fields: ["ticketId"] },
    { name: "501-character reason", patch: { reason: "r".repeat(501) }, fields: ["reason"] },
    { name: "reason with an escape", patch: { reason: "\u001b[2J" }, fields: ["reason"] },
    { name: "both", patch: { ticketId: "", reason: "r".repeat(501) }, fields: ["ticketId", "reason"] },
  ],
});

rpc({
  method: method.getTicket,
  schema: GetTicketRequestSchema,
  call: (req, c) => impl.getTicket(req, c),
  valid: { ticketId: "tkt-1" },
  bad: [
    { name: "no ticket", patch: { ticketId: "" }, fields: ["ticketId"] },
    { name: "bad ticket", patch: { ticketId: "A-042 " }, fields: ["ticketId"] },
  ],
});

rpc({
  method: method.listTickets,
  schema: ListTicketsRequestSchema,
  call: (req, c) => impl.listTickets(req, c),
  valid: { queueId: "radiology" },
  alsoValid: [
    { name: "some states", patch: { statuses: [TicketStatus.COMPLETED, TicketStatus.NO_SHOW], pageSize: 500 } },
    { name: "page token", patch: { pageToken: pageTokens.seal(TICKETS_PAGE, { offset: 100 }, ["radiology", [TicketStatus.WAITING, TicketStatus.CALLED]]) } },
  ],
  bad: [
    { name: "hand-written page token", patch: { pageToken: "eyJvIjoxMDB9" }, fields: ["pageToken"] },
    {
      name: "page token of other statuses",
      patch: { pageToken: pageTokens.seal(TICKETS_PAGE, { offset: 100 }, ["radiology", [TicketStatus.COMPLETED]]) },
      fields: ["pageToken"],
    },
    { name: "no queue", patch: { queueId: "" }, fields: ["queueId"] },
    { name: "status unspecified", patch: { statuses: [TicketStatus.UNSPECIFIED] }, fields: ["statuses[0]"] },
    { name: "unknown status", patch: { statuses: [TicketStatus.WAITING, 7 as TicketStatus] }, fields: ["statuses[1]"] },
    { name: "page size 501", patch: { pageSize: 501 }, fields: ["pageSize"] },
    { name: "malformed page token", patch: { pageToken: "***" }, fields: ["pageToken"] },
    {
      name: "several bad fields",
      patch: { queueId: "", statuses: [0 as TicketStatus], pageSize: -1, pageToken: "a b" },
      fields: ["queueId", "statuses[0]", "pageSize", "pageToken"],
    },
  ],
});

rpc({
  method: method.watchQueue,
  schema: WatchQueueRequestSchema,
  call: (req, c) => drain(impl.watchQueue(req, c)),
  valid: { queueId: "radiology" },
  alsoValid: [{ name: "resuming", patch: { afterSequence: 42n } }],
  bad: [
    { name: "no queue", patch: { queueId: "" }, fields: ["queueId"] },
    { name: "bad queue", patch: { queueId: "radiology queue" }, fields: ["queueId"] },
  ],
});

rpc({
  method: method.reassignPatient,
  schema: ReassignPatientRequestSchema,
  call: (req, c) => impl.reassignPatient(req, c),
  valid: { requestId: "req-reassign-1", fromPatientId: "pat-merged", toPatientId: "pat-survivor" },
  bad: [
    { name: "empty request", patch: { requestId: "", fromPatientId: "", toPatientId: "" }, fields: ["requestId", "fromPatientId", "toPatientId"] },
    { name: "malformed ids", patch: { fromPatientId: "pat merged", toPatientId: "pat/survivor" }, fields: ["fromPatientId", "toPatientId"] },
    { name: "the same record", patch: { toPatientId: "pat-merged" }, fields: ["toPatientId"] },
  ],
});

coversEveryRpc();

// ---- what the validators hand to the implementation ---------------------------------------------

t.test("validateIssueTicket resolves the priority", async (t) => {
  const walkIn = validateIssueTicket(create(IssueTicketRequestSchema, { requestId: "r1", queueId: "lab" }));
  t.equal(walkIn.priority, TicketPriority.ROUTINE);
  t.equal(walkIn.patientId, undefined);
  t.equal(walkIn.appointmentId, undefined);
  const booked = validateIssueTicket(
    create(IssueTicketRequestSchema, {
      requestId: "r2",
      queueId: "lab",
      patientId: "pat-42",
      priority: TicketPriority.APPOINTMENT,
      appointmentId: "apt-1",
      appointmentTime: timestampFromDate(new Date("2026-01-05T09:00:00Z")),
    }),
  );
  t.equal(booked.priority, TicketPriority.APPOINTMENT);
  t.equal(booked.appointmentTime?.toISOString(), "2026-01-05T09:00:00.000Z");
});

t.test("list and transfer validators apply defaults", async (t) => {
  t.strictSame(validateListQueues(create(ListQueuesRequestSchema, {})), { pageSize: 50, pageToken: "", locationId: undefined });
  t.strictSame(validateListTickets(create(ListTicketsRequestSchema, { queueId: "lab" })), {
    queueId: "lab",
    statuses: [TicketStatus.WAITING, TicketStatus.CALLED],
    pageSize: 100,
    pageToken: "",
  });
  const transfer = validateTransferTicket(create(TransferTicketRequestSchema, { ticketId: "t1", toQueueId: "lab" }));
  t.equal(transfer.priority, undefined);
  t.equal(transfer.counterId, undefined);
  t.strictSame(validateCreateQueue(create(CreateQueueRequestSchema, { displayName: " Lab ", prefix: "L", timeZone: "UTC" })), {
    displayName: "Lab",
    prefix: "L",
    timeZone: "UTC",
    queueId: undefined,
    locationId: "default",
  });
  t.equal(validateCreateQueue(create(CreateQueueRequestSchema, { displayName: "Lab", prefix: "L", timeZone: "europe/ISTANBUL" })).timeZone, "Europe/Istanbul", "the zone's canonical name is kept");
});
