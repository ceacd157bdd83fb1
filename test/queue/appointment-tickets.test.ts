// Issue 18, defect 2, "a patient can jump the queue", over gRPC through the real auth interceptor on
// real Postgres. A patient's IssueTicket takes ROUTINE tickets only and names no appointment and no
// appointment time (PERMISSION_DENIED with google.rpc.ErrorInfo, nothing stored), whatever else the
// request says. Staff cannot make one up either: a ticket that names an appointment (its id, its
// time, the APPOINTMENT class) comes only from the service role, i.e. scheduling's check-in, which
// reads the appointment and passes its booked start; staff may escalate a walk-in (URGENT) but not
// turn it into an appointment ticket by a transfer. An appointment has at most one active ticket, guaranteed by Postgres itself: a second
// check-in returns the first ticket, also when many race on two replicas, and also around a transfer.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { TicketPriority, TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { createQueueDatabase, startQueueReplicas } from "../helpers/queue.js";
import { rpcErrorInfoOf as denied } from "../helpers/call-outcome.js";
import { insertOutcome } from "../helpers/postgres.js";

t.setTimeout(120_000);
const { database, a, b, clientAs } = await startQueueReplicas(t);
const patient = await clientAs("pat-7", ["patient"]);
const reception = await clientAs("rec-7", ["receptionist"]);
await a.client.createQueue({ queueId: "front", displayName: "Front desk", prefix: "F", timeZone: "Europe/Istanbul" });
await a.client.createQueue({ queueId: "lab", displayName: "Lab", prefix: "L", timeZone: "Europe/Istanbul" });
// Every appointment of this test starts in ten minutes (a retry must send the same time).
const soonAt = timestampFromDate(new Date(Date.now() + 10 * 60_000));
const soon = () => soonAt;

let n = 0;
const rid = (label: string) => `${label}-${++n}`;

t.test("a patient takes ROUTINE tickets only, naming no appointment: PERMISSION_DENIED otherwise, nothing stored", async (t) => {
  const cases: { label: string; fields: Parameters<typeof patient.issueTicket>[0]; reason: string }[] = [
    { label: "URGENT", fields: { priority: TicketPriority.URGENT }, reason: "PRIORITY_NOT_ALLOWED" },
    { label: "PRIORITY", fields: { priority: TicketPriority.PRIORITY }, reason: "PRIORITY_NOT_ALLOWED" },
    { label: "APPOINTMENT without an appointment", fields: { priority: TicketPriority.APPOINTMENT }, reason: "PRIORITY_NOT_ALLOWED" },
    { label: "APPOINTMENT citing one", fields: { priority: TicketPriority.APPOINTMENT, appointmentId: "apt-someone", appointmentTime: soon() }, reason: "PRIORITY_NOT_ALLOWED" },
    { label: "ROUTINE citing an appointment", fields: { priority: TicketPriority.ROUTINE, appointmentId: "apt-mine" }, reason: "APPOINTMENT_TICKET_NOT_ALLOWED" },
    { label: "ROUTINE with an appointment time", fields: { priority: TicketPriority.ROUTINE, appointmentTime: soon() }, reason: "APPOINTMENT_TICKET_NOT_ALLOWED" },
    { label: "no priority, an appointment time", fields: { appointmentTime: soon() }, reason: "APPOINTMENT_TICKET_NOT_ALLOWED" },
  ];
  for (const c of cases) {
    const r = await denied(patient.issueTicket({ requestId: rid("pat"), queueId: "front", patientId: "pat-7", ...c.fields }));
    t.equal(r.code, Code.PermissionDenied, `${c.label}: PERMISSION_DENIED (${r.message})`);
    t.equal(r.reason, c.reason, `${c.label}: ErrorInfo reason`);
    t.notMatch(r.message ?? "", /IssueTicket|CheckInAppointment/, "no RPC names in the message");
  }
  const stored = await sql<{ n: string }>`select count(*) as n from queue.tickets where patient_id = 'pat-7'`.execute(database.db);
  t.equal(Number(stored.rows[0].n), 0, "nothing was issued");

  const routine = await patient.issueTicket({ requestId: rid("pat"), queueId: "front", patientId: "pat-7", priority: TicketPriority.ROUTINE });
  t.equal(routine.ticket?.priority, TicketPriority.ROUTINE, "ROUTINE is fine");
  const unspecified = await patient.issueTicket({ requestId: rid("pat"), queueId: "front", patientId: "pat-7" });
  t.equal(unspecified.ticket?.priority, TicketPriority.ROUTINE, "unspecified is ROUTINE");
  t.equal((await denied(patient.issueTicket({ requestId: rid("pat"), queueId: "front", patientId: "pat-8" }))).code, Code.PermissionDenied, "not for another patient");
  t.equal((await denied(patient.issueTicket({ requestId: rid("pat"), queueId: "front" }))).code, Code.PermissionDenied, "not anonymously either");

  const staff = await reception.issueTicket({ requestId: rid("rec"), queueId: "front", patientId: "pat-9", priority: TicketPriority.URGENT });
  t.equal(staff.ticket?.priority, TicketPriority.URGENT, "reception may set any priority");
  const both = await clientAs("pat-10", ["patient", "receptionist"]);
  const staffToo = await both.issueTicket({ requestId: rid("both"), queueId: "front", patientId: "pat-10", priority: TicketPriority.PRIORITY });
  t.equal(staffToo.ticket?.priority, TicketPriority.PRIORITY, "a token that is also staff acts as staff");
});

t.test("staff cannot issue a ticket naming an appointment (PERMISSION_DENIED, nothing stored); walk-ins of every other class", async (t) => {
  const admin = await clientAs("adm-7", ["admin"]);
  const doctor = await clientAs("doc-7", ["doctor"]);
  const at = timestampFromDate(new Date(Date.now() + 60_000));
  const cases: { label: string; fields: Parameters<typeof reception.issueTicket>[0]; field: string }[] = [
    // The defect as found: an appointment that does not exist, ranked by a time the client made up.
    { label: "APPOINTMENT citing an unknown appointment", fields: { priority: TicketPriority.APPOINTMENT, appointmentId: "a-does-not-exist", appointmentTime: at }, field: "priority" },
    { label: "APPOINTMENT without an appointment", fields: { priority: TicketPriority.APPOINTMENT }, field: "priority" },
    { label: "ROUTINE citing an appointment", fields: { priority: TicketPriority.ROUTINE, appointmentId: "a-x" }, field: "appointmentId" },
    { label: "URGENT citing an appointment", fields: { priority: TicketPriority.URGENT, appointmentId: "a-x" }, field: "appointmentId" },
    { label: "PRIORITY with an appointment time", fields: { priority: TicketPriority.PRIORITY, appointmentTime: at }, field: "appointmentTime" },
  ];
  for (const [who, client] of [["receptionist", reception], ["admin", admin]] as const) {
    for (const c of cases) {
      const r = await denied(client.issueTicket({ requestId: rid(who), queueId: "front", patientId: "pat-staff", ...c.fields }));
      t.equal(r.code, Code.PermissionDenied, `${who}, ${c.label}: PERMISSION_DENIED (${r.message})`);
      t.equal(r.reason, "APPOINTMENT_TICKET_NOT_ALLOWED", `${who}, ${c.label}: ErrorInfo reason`);
      t.equal(r.metadata?.field, c.field, `${who}, ${c.label}: names the field`);
      t.match(r.message ?? "", /checking the patient in from their appointment/, "says what to do instead");
      t.notMatch(r.message ?? "", /IssueTicket|CheckInAppointment/, "no RPC names in the message");
    }
  }
  t.equal((await denied(doctor.issueTicket({ requestId: rid("doc"), queueId: "front", ...cases[0].fields }))).code, Code.PermissionDenied, "a doctor issues no tickets at all");
  const stored = await sql<{ n: string }>`select count(*) as n from queue.tickets where patient_id = 'pat-staff' or appointment_id in ('a-does-not-exist', 'a-x')`.execute(database.db);
  t.equal(Number(stored.rows[0].n), 0, "nothing was issued");

  for (const [i, priority] of [TicketPriority.URGENT, TicketPriority.PRIORITY, TicketPriority.ROUTINE].entries()) {
    const walkIn = await reception.issueTicket({ requestId: rid("walk"), queueId: "front", patientId: `pat-walk-${i}`, priority });
    t.equal(walkIn.ticket?.priority, priority, `a ${TicketPriority[priority]} walk-in`);
  }
  // The service role names what it must: an APPOINTMENT ticket its appointment and booked time, no other class either.
  const bad = async (fields: Parameters<typeof reception.issueTicket>[0]) => (await denied(a.client.issueTicket({ requestId: rid("svc"), queueId: "front", patientId: "pat-svc", ...fields }))).code;
  t.equal(await bad({ priority: TicketPriority.APPOINTMENT, appointmentId: "apt-svc" }), Code.InvalidArgument, "the service: an appointment ticket without its time");
  t.equal(await bad({ priority: TicketPriority.ROUTINE, appointmentId: "apt-svc" }), Code.InvalidArgument, "the service: a routine ticket naming an appointment");

  // A transfer: triage may escalate a walk-in, but only an appointment's ticket has the appointment class.
  const walkIn = await reception.issueTicket({ requestId: rid("walk"), queueId: "front", patientId: "pat-move" });
  const toAppointment = await denied(reception.transferTicket({ ticketId: walkIn.ticket!.ticketId, toQueueId: "lab", priority: TicketPriority.APPOINTMENT }));
  t.equal(toAppointment.code, Code.FailedPrecondition, "a walk-in cannot become an appointment ticket by a transfer");
  t.equal(toAppointment.reason, "NO_APPOINTMENT");
  t.equal((await reception.getTicket({ ticketId: walkIn.ticket!.ticketId })).ticket?.status, TicketStatus.WAITING, "and it stays where it was");
  const escalated = await reception.transferTicket({ ticketId: walkIn.ticket!.ticketId, toQueueId: "lab", priority: TicketPriority.URGENT });
  t.equal(escalated.ticket?.priority, TicketPriority.URGENT, "escalated to URGENT on the way");
});

t.test("a second check-in returns the first ticket; a retry replays; an ended ticket makes room for a new one", async (t) => {
  const checkIn = (requestId: string, queueId = "front", client = a.client) =>
    client.issueTicket({ requestId, queueId, patientId: "pat-1", priority: TicketPriority.APPOINTMENT, appointmentId: "apt-1", appointmentTime: soon() });
  const first = await checkIn("checkin-apt-1");
  const second = await checkIn("checkin-apt-1-again", "front", b.client);
  t.equal(second.ticket?.ticketId, first.ticket?.ticketId, "the first ticket, not a second one");
  t.equal(second.ticket?.number, first.ticket?.number);
  t.equal(second.ticket?.position, first.ticket?.position, "with its live position");
  const otherQueue = await checkIn("checkin-apt-1-lab", "lab");
  t.equal(otherQueue.ticket?.ticketId, first.ticket?.ticketId, "in another queue too: one active ticket per appointment");
  const retry = await checkIn("checkin-apt-1-again", "front", b.client);
  t.equal(retry.ticket?.ticketId, first.ticket?.ticketId, "a retry of the second request replays it");
  t.equal(
    (await denied(b.client.issueTicket({ requestId: "checkin-apt-1-again", queueId: "front", patientId: "pat-1" }))).code,
    Code.AlreadyExists,
    "that requestId with other parameters is ALREADY_EXISTS",
  );
  const audit = await sql<{ n: string }>`select count(*) as n from queue.audit_log where record_id = ${first.ticket!.ticketId} and action = 'IssueTicket'`.execute(database.db);
  t.equal(Number(audit.rows[0].n), 3, "each answer is audited");

  await reception.cancelTicket({ ticketId: first.ticket!.ticketId });
  const again = await checkIn("checkin-apt-1-after-cancel");
  t.not(again.ticket?.ticketId, first.ticket?.ticketId, "once the ticket has ended, a new check-in issues a new ticket");
  t.equal(again.ticket?.status, TicketStatus.WAITING);

  // Transferred: the new ticket in the other queue is the appointment's one active ticket.
  const moved = await reception.transferTicket({ ticketId: again.ticket!.ticketId, toQueueId: "lab" });
  t.equal(moved.ticket?.queueId, "lab");
  const afterTransfer = await checkIn("checkin-apt-1-after-transfer");
  t.equal(afterTransfer.ticket?.ticketId, moved.ticket?.ticketId, "a check-in after a transfer returns the transferred ticket");
  const active = await sql<{ n: string }>`select count(*) as n from queue.tickets where appointment_id = 'apt-1' and status in ('WAITING', 'CALLED')`.execute(database.db);
  t.equal(Number(active.rows[0].n), 1, "one active ticket");
});

t.test("check-ins racing on two replicas get one ticket per appointment", async (t) => {
  const APPOINTMENTS = 20;
  const RACERS = 6;
  const results = new Map<string, Set<string>>();
  await Promise.all(
    Array.from({ length: APPOINTMENTS * RACERS }, async (_, i) => {
      const apt = `apt-race-${i % APPOINTMENTS}`;
      const racer = Math.floor(i / APPOINTMENTS);
      // Scheduling's deterministic requestId from some racers, distinct ones from the others.
      const requestId = racer % 2 === 0 ? `checkin-${apt}` : `checkin-${apt}-${racer}`;
      const client = racer % 2 === 0 ? a.client : b.client;
      // The shared requestId always with the same request; the others into either queue.
      const queueId = racer % 2 === 0 || racer % 4 === 3 ? "front" : "lab";
      const r = await client.issueTicket({ requestId, queueId, patientId: `pat-${apt}`, priority: TicketPriority.APPOINTMENT, appointmentId: apt, appointmentTime: soon() });
      if (!results.has(apt)) results.set(apt, new Set());
      results.get(apt)!.add(r.ticket!.ticketId);
    }),
  );
  t.equal(results.size, APPOINTMENTS);
  t.ok([...results.values()].every((ids) => ids.size === 1), "every racer of an appointment got the same ticket");
  const rows = await sql<{ appointment_id: string; n: string }>`
    select appointment_id, count(*) as n from queue.tickets where appointment_id like 'apt-race-%' group by appointment_id`.execute(database.db);
  t.equal(rows.rows.length, APPOINTMENTS);
  t.ok(rows.rows.every((r) => Number(r.n) === 1), "one ticket per appointment in the database, none cancelled or left over");
  // A racer that passed the first read took a number and lost at the unique index: a gap.
  const taken = await sql<{ n: string }>`select coalesce(sum(last_number), 0) as n from queue.ticket_days`.execute(database.db);
  const issued = await sql<{ n: string }>`select count(*) as n from queue.tickets where transferred_from_id is null`.execute(database.db);
  t.comment(`${Number(taken.rows[0].n) - Number(issued.rows[0].n)} numbers taken by racers that lost at the index`);
});

t.test("a transfer racing a check-in leaves one active ticket per appointment", async (t) => {
  const APPOINTMENTS = 12;
  const tickets = await Promise.all(
    Array.from({ length: APPOINTMENTS }, (_, i) =>
      a.client.issueTicket({ requestId: `x-${i}`, queueId: "front", patientId: `pat-x${i}`, priority: TicketPriority.APPOINTMENT, appointmentId: `apt-x-${i}`, appointmentTime: soon() }),
    ),
  );
  await Promise.all(
    tickets.flatMap((r, i) => [
      b.client.transferTicket({ ticketId: r.ticket!.ticketId, toQueueId: "lab" }).catch((err: unknown) => ConnectError.from(err).code),
      a.client.issueTicket({ requestId: `x-again-${i}`, queueId: "front", patientId: `pat-x${i}`, priority: TicketPriority.APPOINTMENT, appointmentId: `apt-x-${i}`, appointmentTime: soon() }),
    ]),
  );
  const rows = await sql<{ appointment_id: string; n: string }>`
    select appointment_id, count(*) filter (where status in ('WAITING', 'CALLED')) as n from queue.tickets
    where appointment_id like 'apt-x-%' group by appointment_id`.execute(database.db);
  t.equal(rows.rows.length, APPOINTMENTS);
  t.ok(rows.rows.every((r) => Number(r.n) === 1), "exactly one active ticket for each appointment");
});

t.test("Postgres refuses a second active ticket for an appointment; ended ones do not count", async (t) => {
  const first = await a.client.issueTicket({ requestId: "db-1", queueId: "front", patientId: "pat-db", priority: TicketPriority.APPOINTMENT, appointmentId: "apt-db", appointmentTime: soon() });
  const insertCopy = (status: string) =>
    insertOutcome(sql`insert into queue.tickets (ticket_id, queue_id, local_day, day_number, number, priority, status, patient_id, appointment_id, arrived_at, enqueued_at, rank_at, updated_at, ended_at)
        select ${`t-copy-${status}`}, queue_id, local_day, 900 + ${status.length}, 'F-900', priority, ${status}, patient_id, appointment_id, arrived_at, enqueued_at, rank_at, updated_at,
               case when ${status} in ('WAITING', 'CALLED') then null else now() end
        from queue.tickets where ticket_id = ${first.ticket!.ticketId}`.execute(database.db));
  t.equal(await insertCopy("WAITING"), "23505 tickets_one_active_per_appointment", "a second WAITING ticket: unique violation");
  t.equal(await insertCopy("COMPLETED"), "inserted", "a completed one is history, not a place in line");
});

t.test("the migration resolves duplicates left from before: the called one (else the first) stays", async (t) => {
  const migration = await import("../../services/queue/migrations/2026-12-05T1100-one-active-ticket-per-appointment.js");
  const old = await createQueueDatabase(t);
  const db = old.db;
  await migration.down(db);
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values ('dq', 'Dup', 'D', 'UTC', now())`.execute(db);
  await sql`insert into queue.counters (queue_id, counter_id, is_open, opened_at) values ('dq', 'c1', true, now())`.execute(db);
  const add = (id: string, day: number, apt: string, status: string) =>
    sql`insert into queue.tickets (ticket_id, queue_id, local_day, day_number, number, priority, status, patient_id, appointment_id, arrived_at, enqueued_at, rank_at, updated_at, counter_id, called_at)
        values (${id}, 'dq', '2026-01-05', ${day}, ${`D-00${day}`}, 'APPOINTMENT', ${status}, 'pat-dup', ${apt}, now(), now(), now(), now(),
                ${status === "CALLED" ? "c1" : null}, ${status === "CALLED" ? new Date() : null})`.execute(db);
  await add("t-d1", 1, "apt-dup-1", "WAITING");
  await add("t-d2", 2, "apt-dup-1", "CALLED");
  await add("t-d3", 3, "apt-dup-1", "WAITING");
  await add("t-d4", 4, "apt-dup-2", "WAITING");
  await add("t-d5", 5, "apt-dup-2", "WAITING");
  await add("t-d6", 6, "apt-single", "WAITING");
  await migration.up(db);
  const rows = await sql<{ ticket_id: string; status: string }>`select ticket_id, status from queue.tickets where queue_id = 'dq' order by ticket_id`.execute(db);
  t.strictSame(
    rows.rows.map((r) => [r.ticket_id, r.status]),
    [["t-d1", "CANCELLED"], ["t-d2", "CALLED"], ["t-d3", "CANCELLED"], ["t-d4", "WAITING"], ["t-d5", "CANCELLED"], ["t-d6", "WAITING"]],
    "one active ticket per appointment: the called one, else the first issued",
  );
  const changes = await sql<{ ticket_id: string }>`select ticket_id from queue.changes where queue_id = 'dq' order by ticket_id`.execute(db);
  t.strictSame(changes.rows.map((r) => r.ticket_id), ["t-d1", "t-d3", "t-d5"], "watchers learn of each cancellation");
  const audit = await sql<{ record_id: string }>`select record_id from queue.audit_log where action = 'CancelDuplicateAppointmentTicket' order by record_id`.execute(db);
  t.strictSame(audit.rows.map((r) => r.record_id), ["t-d1", "t-d3", "t-d5"], "and the audit log");
  await migration.up(db);
  t.pass("running it again changes nothing and does not fail");
});
