// "A patient can hoard clinic capacity" (issue 18, class of defect 2): a patient token that asked for
// eight tickets in a row got eight places in line. A patient has one place in a queue: asking again
// while they hold an active (WAITING or CALLED) ticket there answers with that ticket and takes no
// number; staff asking for the same class get it too, another class is refused naming it (never
// silently answered with a class they did not ask for); a transfer does not give a patient a second
// place. Postgres guarantees one active walk-in per patient and queue (a partial unique index), so
// racing requests on two replicas end with one ticket. Over gRPC through the real auth interceptor.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { TicketPriority, TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { createQueueDatabase, startQueueReplicas } from "../helpers/queue.js";
import { rpcErrorInfoOf as outcome } from "../helpers/call-outcome.js";
import { insertOutcome } from "../helpers/postgres.js";

t.setTimeout(120_000);
const { database, a, b, clientAs } = await startQueueReplicas(t);
const reception = await clientAs("rec-1", ["receptionist"]);
await a.client.createQueue({ queueId: "danisma", displayName: "Danışma", prefix: "D", timeZone: "Europe/Istanbul" });
await a.client.createQueue({ queueId: "lab", displayName: "Lab", prefix: "L", timeZone: "Europe/Istanbul" });

async function activeOf(patientId: string, queueId?: string): Promise<{ ticket_id: string; queue_id: string; status: string }[]> {
  const q = queueId === undefined ? sql`` : sql` and queue_id = ${queueId}`;
  const r = await sql<{ ticket_id: string; queue_id: string; status: string }>`
    select ticket_id, queue_id, status from queue.tickets where patient_id = ${patientId} and status in ('WAITING', 'CALLED')${q}`.execute(database.db);
  return r.rows;
}

t.test("a patient asking again gets the ticket they hold: no second place, no number used up", async (t) => {
  const patient = await clientAs("demo-patient", ["patient"]);
  const answers = [];
  // The defect as found: eight requests in a row, each with its own requestId.
  for (let n = 1; n <= 8; n++) {
    answers.push(await patient.issueTicket({ requestId: `flood${n}`, queueId: "danisma", patientId: "demo-patient", priority: TicketPriority.ROUTINE }));
  }
  const first = answers[0].ticket!;
  t.equal(first.number, "D-001");
  t.ok(
    answers.every((r) => r.ticket?.ticketId === first.ticketId && r.ticket?.number === "D-001" && r.ticket?.status === TicketStatus.WAITING),
    "every answer is the first ticket",
  );
  t.equal(answers[7].ticket?.position, 1, "with its live position");
  t.equal((await activeOf("demo-patient")).length, 1, "one active ticket in the database");
  const numbers = await sql<{ last_number: number }>`select last_number from queue.ticket_days where queue_id = 'danisma'`.execute(database.db);
  t.strictSame(numbers.rows.map((r) => r.last_number), [1], "no number was taken for the requests that got the held ticket");
  const retry = await patient.issueTicket({ requestId: "flood3", queueId: "danisma", patientId: "demo-patient", priority: TicketPriority.ROUTINE });
  t.equal(retry.ticket?.ticketId, first.ticketId, "a retry replays");
  const fromB = await (await clientAs("demo-patient", ["patient"], b.port)).issueTicket({ requestId: "flood9", queueId: "danisma", patientId: "demo-patient" });
  t.equal(fromB.ticket?.ticketId, first.ticketId, "the other replica answers the same");

  const lab = await patient.issueTicket({ requestId: "lab-1", queueId: "lab", patientId: "demo-patient" });
  t.not(lab.ticket?.ticketId, first.ticketId, "another queue is another place");
  await reception.cancelTicket({ ticketId: first.ticketId });
  const after = await patient.issueTicket({ requestId: "flood10", queueId: "danisma", patientId: "demo-patient" });
  t.not(after.ticket?.ticketId, first.ticketId, "once the ticket has ended, a new one");
  t.equal(after.ticket?.number, "D-002");

  // A patient whose appointment was checked in (an APPOINTMENT ticket) gets that one.
  const checkedIn = await a.client.issueTicket({
    requestId: "checkin-apt-p2",
    queueId: "lab",
    patientId: "pat-2",
    priority: TicketPriority.APPOINTMENT,
    appointmentId: "apt-p2",
    appointmentTime: timestampFromDate(new Date(Date.now() + 10 * 60_000)),
  });
  const asked = await (await clientAs("pat-2", ["patient"])).issueTicket({ requestId: "walk-p2", queueId: "lab", patientId: "pat-2" });
  t.equal(asked.ticket?.ticketId, checkedIn.ticket?.ticketId, "the appointment's ticket, not a walk-in besides it");
  t.equal(asked.ticket?.priority, TicketPriority.APPOINTMENT);
});

t.test("staff: the same class answers with the ticket the patient holds, another class is refused naming it", async (t) => {
  const first = (await reception.issueTicket({ requestId: "s-1", queueId: "danisma", patientId: "pat-s", priority: TicketPriority.ROUTINE })).ticket!;
  const again = await reception.issueTicket({ requestId: "s-2", queueId: "danisma", patientId: "pat-s" });
  t.equal(again.ticket?.ticketId, first.ticketId, "unspecified is ROUTINE: the ticket the patient holds");
  const urgent = await outcome(reception.issueTicket({ requestId: "s-3", queueId: "danisma", patientId: "pat-s", priority: TicketPriority.URGENT }));
  t.equal(urgent.code, Code.FailedPrecondition, `another class: FAILED_PRECONDITION (${urgent.message})`);
  t.equal(urgent.reason, "PATIENT_ALREADY_IN_QUEUE");
  t.match(urgent.metadata, { ticketNumber: first.number, priority: "ROUTINE", status: "WAITING", queueId: "danisma", queueName: "Danışma", requestedPriority: "URGENT" });
  t.match(urgent.message, new RegExp(`${first.number} \\(routine, waiting\\) at Danışma.*cancel ${first.number} first`), "says which ticket and what to do");
  t.equal((await activeOf("pat-s")).length, 1, "still one place");

  await reception.openCounter({ queueId: "danisma", counterId: "k1" });
  let called = await reception.callNext({ queueId: "danisma", counterId: "k1" });
  while (called.ticket && called.ticket.ticketId !== first.ticketId) {
    await reception.completeTicket({ ticketId: called.ticket.ticketId, counterId: "k1" });
    called = await reception.callNext({ queueId: "danisma", counterId: "k1" });
  }
  t.equal(called.ticket?.ticketId, first.ticketId, "called");
  const whileCalled = await reception.issueTicket({ requestId: "s-4", queueId: "danisma", patientId: "pat-s" });
  t.equal(whileCalled.ticket?.ticketId, first.ticketId, "a called ticket is their place too");
  t.equal(whileCalled.ticket?.status, TicketStatus.CALLED);
  await reception.completeTicket({ ticketId: first.ticketId, counterId: "k1" });
  const next = await reception.issueTicket({ requestId: "s-5", queueId: "danisma", patientId: "pat-s", priority: TicketPriority.URGENT });
  t.not(next.ticket?.ticketId, first.ticketId, "after it is completed, the patient may queue again");

  const anonymous = await Promise.all([1, 2, 3].map((i) => reception.issueTicket({ requestId: `anon-${i}`, queueId: "danisma" })));
  t.equal(new Set(anonymous.map((r) => r.ticket?.ticketId)).size, 3, "anonymous walk-ins are not one person: each gets a ticket");
});

t.test("a transfer does not give a patient a second place in a queue", async (t) => {
  const inLab = (await reception.issueTicket({ requestId: "tr-1", queueId: "lab", patientId: "pat-tr" })).ticket!;
  const atDesk = (await reception.issueTicket({ requestId: "tr-2", queueId: "danisma", patientId: "pat-tr" })).ticket!;
  const moved = await outcome(reception.transferTicket({ ticketId: atDesk.ticketId, toQueueId: "lab" }));
  t.equal(moved.code, Code.FailedPrecondition, `refused (${moved.message})`);
  t.equal(moved.reason, "PATIENT_ALREADY_IN_QUEUE");
  t.equal(moved.metadata?.ticketNumber, inLab.number, "names the ticket they hold there");
  t.equal((await reception.getTicket({ ticketId: atDesk.ticketId })).ticket?.status, TicketStatus.WAITING, "the ticket stays where it was");
  t.equal((await activeOf("pat-tr", "lab")).length, 1, "one place in the lab");
  await reception.cancelTicket({ ticketId: inLab.ticketId });
  const now = await reception.transferTicket({ ticketId: atDesk.ticketId, toQueueId: "lab" });
  t.equal(now.ticket?.queueId, "lab", "once that place is given up, the move works");
});

t.test("walk-ins racing on two replicas: one ticket per patient and queue", async (t) => {
  const PATIENTS = 20;
  const RACERS = 6;
  const clients = new Map<string, Awaited<ReturnType<typeof clientAs>>>();
  for (let p = 0; p < PATIENTS; p++) {
    for (const [i, port] of [a.port, b.port].entries()) clients.set(`pat-race-${p}/${i}`, await clientAs(`pat-race-${p}`, ["patient"], port));
  }
  const receptionB = await clientAs("rec-1", ["receptionist"], b.port);
  const results = new Map<string, Set<string>>();
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: PATIENTS * RACERS }, async (_, i) => {
      const p = i % PATIENTS;
      const racer = Math.floor(i / PATIENTS);
      const patientId = `pat-race-${p}`;
      // The patient on either replica, and the desk on either replica, each with requestIds of their own.
      const client = racer < 4 ? clients.get(`${patientId}/${racer % 2}`)! : racer === 4 ? reception : receptionB;
      try {
        const r = await client.issueTicket({ requestId: `race-${p}-${racer}`, queueId: "lab", patientId, priority: TicketPriority.ROUTINE });
        if (!results.has(patientId)) results.set(patientId, new Set());
        results.get(patientId)!.add(r.ticket!.ticketId);
      } catch (err) {
        failures.push(`${patientId} racer ${racer}: ${ConnectError.from(err).message}`);
      }
    }),
  );
  t.strictSame(failures, [], "every racer was answered");
  t.equal(results.size, PATIENTS);
  t.ok([...results.values()].every((ids) => ids.size === 1), "every racer of a patient got the same ticket");
  const rows = await sql<{ patient_id: string; n: string }>`
    select patient_id, count(*) as n from queue.tickets where patient_id like 'pat-race-%' group by patient_id`.execute(database.db);
  t.equal(rows.rows.length, PATIENTS);
  t.ok(rows.rows.every((r) => Number(r.n) === 1), "one ticket per patient in the database, none cancelled or left over");
});

t.test("a transfer racing the patient's own walk-in leaves one place in the target queue", async (t) => {
  const PATIENTS = 12;
  const held = await Promise.all(
    Array.from({ length: PATIENTS }, (_, i) => reception.issueTicket({ requestId: `xr-${i}`, queueId: "danisma", patientId: `pat-xr-${i}` })),
  );
  const receptionB = await clientAs("rec-1", ["receptionist"], b.port);
  const codes: string[] = [];
  await Promise.all(
    held.flatMap((r, i) => [
      outcome(receptionB.transferTicket({ ticketId: r.ticket!.ticketId, toQueueId: "lab" })).then((o) => codes.push(`transfer ${o.code === "OK" ? "OK" : `${Code[o.code]} ${o.reason}`}`)),
      clientAs(`pat-xr-${i}`, ["patient"]).then((patient) =>
        outcome(patient.issueTicket({ requestId: `xr-lab-${i}`, queueId: "lab", patientId: `pat-xr-${i}` })).then((o) => codes.push(`issue ${o.code === "OK" ? "OK" : `${Code[o.code]} ${o.reason}`}`)),
      ),
    ]),
  );
  t.ok(
    codes.every((c) => c === "issue OK" || c === "transfer OK" || c === "transfer FailedPrecondition PATIENT_ALREADY_IN_QUEUE"),
    `every call answered: the patient always, the transfer or a clear refusal (${[...new Set(codes)].join(", ")})`,
  );
  for (let i = 0; i < PATIENTS; i++) {
    const lab = await activeOf(`pat-xr-${i}`, "lab");
    t.equal(lab.length, 1, `pat-xr-${i}: one place in the lab`);
  }
});

t.test("Postgres refuses a second active walk-in of a patient in a queue; others are not concerned", async (t) => {
  const first = (await reception.issueTicket({ requestId: "db-1", queueId: "danisma", patientId: "pat-db" })).ticket!;
  let day = 900;
  const copy = (status: string, changes: { patient?: string | null; appointment?: string; queue?: string } = {}) =>
    insertOutcome(sql`insert into queue.tickets (ticket_id, queue_id, local_day, day_number, number, priority, status, patient_id, appointment_id, appointment_time, arrived_at, enqueued_at, rank_at, updated_at, ended_at)
        select ${`t-copy-${++day}`}, ${changes.queue ?? "danisma"}, local_day, ${day}, 'D-900', ${changes.appointment ? "APPOINTMENT" : "ROUTINE"}, ${status},
               ${changes.patient === undefined ? "pat-db" : changes.patient}, ${changes.appointment ?? null}, ${changes.appointment ? new Date() : null},
               arrived_at, enqueued_at, rank_at, updated_at, case when ${status} in ('WAITING', 'CALLED') then null else now() end
        from queue.tickets where ticket_id = ${first.ticketId}`.execute(database.db));
  t.equal(await copy("WAITING"), "23505 tickets_one_active_walk_in_per_patient", "a second WAITING walk-in: unique violation");
  t.equal(await copy("COMPLETED"), "inserted", "an ended one is history, not a place in line");
  t.equal(await copy("WAITING", { queue: "lab" }), "inserted", "another queue");
  t.equal(await copy("WAITING", { patient: null }), "inserted", "an anonymous walk-in");
  t.equal(await copy("WAITING", { appointment: "apt-db" }), "inserted", "an appointment's ticket (one per appointment, its own index)");
});

t.test("the migration resolves duplicates left from before: the called one (else the first) stays", async (t) => {
  const migration = await import("../../services/queue/migrations/2026-12-05T1200-one-active-walk-in-per-patient.js");
  const old = await createQueueDatabase(t);
  const db = old.db;
  await migration.down(db);
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values ('dq', 'Dup', 'D', 'UTC', now())`.execute(db);
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values ('dq2', 'Dup 2', 'E', 'UTC', now())`.execute(db);
  await sql`insert into queue.counters (queue_id, counter_id, is_open, opened_at) values ('dq', 'c1', true, now())`.execute(db);
  let day = 0;
  const add = (id: string, queueId: string, patientId: string | null, status: string, appointmentId: string | null = null) =>
    sql`insert into queue.tickets (ticket_id, queue_id, local_day, day_number, number, priority, status, patient_id, appointment_id, appointment_time, arrived_at, enqueued_at, rank_at, updated_at, counter_id, called_at)
        values (${id}, ${queueId}, '2026-01-05', ${++day}, ${`D-${day}`}, ${appointmentId ? "APPOINTMENT" : "ROUTINE"}, ${status}, ${patientId}, ${appointmentId},
                ${appointmentId ? new Date() : null}, now(), now(), now(), now(),
                ${status === "CALLED" ? "c1" : null}, ${status === "CALLED" ? new Date() : null})`.execute(db);
  await add("t-d1", "dq", "pat-flood", "WAITING");
  await add("t-d2", "dq", "pat-flood", "CALLED");
  await add("t-d3", "dq", "pat-flood", "WAITING");
  await add("t-d4", "dq", "pat-two", "WAITING");
  await add("t-d5", "dq", "pat-two", "WAITING");
  await add("t-d6", "dq2", "pat-two", "WAITING");
  await add("t-d7", "dq", "pat-two", "WAITING", "apt-two");
  await add("t-d8", "dq", null, "WAITING");
  await add("t-d9", "dq", null, "WAITING");
  await migration.up(db);
  const rows = await sql<{ ticket_id: string; status: string }>`select ticket_id, status from queue.tickets order by ticket_id`.execute(db);
  t.strictSame(
    rows.rows.map((r) => [r.ticket_id, r.status]),
    [
      ["t-d1", "CANCELLED"],
      ["t-d2", "CALLED"],
      ["t-d3", "CANCELLED"],
      ["t-d4", "WAITING"],
      ["t-d5", "CANCELLED"],
      ["t-d6", "WAITING"],
      ["t-d7", "WAITING"],
      ["t-d8", "WAITING"],
      ["t-d9", "WAITING"],
    ],
    "one active walk-in per patient and queue: the called one, else the first issued; other queues, appointments and anonymous walk-ins untouched",
  );
  const changes = await sql<{ ticket_id: string }>`select ticket_id from queue.changes order by ticket_id`.execute(db);
  t.strictSame(changes.rows.map((r) => r.ticket_id), ["t-d1", "t-d3", "t-d5"], "watchers learn of each cancellation");
  const audit = await sql<{ record_id: string }>`select record_id from queue.audit_log where action = 'CancelDuplicateWalkInTicket' order by record_id`.execute(db);
  t.strictSame(audit.rows.map((r) => r.record_id), ["t-d1", "t-d3", "t-d5"], "and the audit log");
  await migration.up(db);
  t.pass("running it again changes nothing and does not fail");
});
