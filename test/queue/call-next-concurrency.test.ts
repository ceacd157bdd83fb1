// Invariant 5 under load, over gRPC on real Postgres: 500 tickets issued while 8 counters call
// concurrently (two service replicas sharing the database). Every ticket is called exactly once,
// none is lost, and no counter ever holds two called tickets (sampled from the database throughout).
import t from "tap";
import { sql } from "kysely";
import { TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createQueueDatabase, startQueueServers } from "../helpers/queue.js";
import { TEST_SECRET } from "../helpers/system.js";

t.setTimeout(120_000);
const TICKETS = 500;
const COUNTERS = 8;

const database = await createQueueDatabase(t);
const token = await signToken(TEST_SECRET, "load-test", ["service"]);
const servers = await startQueueServers(t, database.databaseUrl, 2, token);
const clientOf = (i: number) => servers[i % servers.length].client;

t.test(`${TICKETS} tickets, ${COUNTERS} counters calling concurrently`, async (t) => {
  const queueId = "load";
  await clientOf(0).createQueue({ queueId, displayName: "Load", prefix: "L", timeZone: "Europe/Istanbul" });
  for (let c = 0; c < COUNTERS; c++) await clientOf(c).openCounter({ queueId, counterId: `desk-${c}` });

  const started = Date.now();
  const issued = new Set<string>();
  let issuing = true;
  const issuer = (async () => {
    let next = 0;
    const worker = async (w: number) => {
      for (;;) {
        const i = next++;
        if (i >= TICKETS) return;
        const r = await clientOf(w).issueTicket({ requestId: `load-${i}`, queueId, patientId: `pat-${i}` });
        issued.add(r.ticket!.ticketId);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    issuing = false;
    t.comment(`issued ${TICKETS} in ${Date.now() - started} ms`);
  })();

  // Sample the database while the counters work: never two CALLED tickets at one counter.
  let doubleHeld = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const r = await sql<{ n: string }>`select count(*) as n from (select counter_id from queue.tickets where status = 'CALLED' group by queue_id, counter_id having count(*) > 1) x`.execute(database.db);
      doubleHeld += Number(r.rows[0].n);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();

  const calls = new Map<string, string[]>(); // ticket -> counters that got it as a new call
  let retriesMatched = 0;
  const counter = async (c: number) => {
    const counterId = `desk-${c}`;
    const client = clientOf(c);
    for (;;) {
      const r = await client.callNext({ queueId, counterId });
      if (!r.ticket) {
        if (!issuing && (await client.getQueue({ queueId })).waitingCount === 0) return;
        await new Promise((res) => setTimeout(res, 50));
        continue;
      }
      t.equal(r.ticket.status, TicketStatus.CALLED);
      calls.set(r.ticket.ticketId, [...(calls.get(r.ticket.ticketId) ?? []), counterId]);
      if (calls.size % 17 === 0) {
        // A retried CallNext while holding a ticket returns that ticket, never a second one.
        const again = await clientOf(c + 1).callNext({ queueId, counterId });
        if (again.ticket?.ticketId === r.ticket.ticketId) retriesMatched++;
      }
      await client.completeTicket({ ticketId: r.ticket.ticketId, counterId });
    }
  };
  await Promise.all([issuer, ...Array.from({ length: COUNTERS }, (_, c) => counter(c))]);
  sampling = false;
  await sampler;
  t.comment(`called and completed all in ${Date.now() - started} ms`);

  t.equal(issued.size, TICKETS, "every ticket issued");
  t.equal(calls.size, TICKETS, "every ticket called");
  const twice = [...calls.entries()].filter(([, cs]) => cs.length !== 1);
  t.strictSame(twice, [], "no ticket called twice");
  t.ok([...issued].every((id) => calls.has(id)), "none lost");
  t.equal(doubleHeld, 0, "no counter ever held two called tickets");
  t.ok(retriesMatched > 0, `retried CallNext returned the held ticket (${retriesMatched} times)`);
  const states = await sql<{ status: string; n: string }>`select status, count(*) as n from queue.tickets group by status`.execute(database.db);
  t.strictSame(states.rows.map((r) => [r.status, Number(r.n)]), [["COMPLETED", TICKETS]], "all completed in the database");
  const perCounter = await sql<{ n: string }>`select count(distinct counter_id) as n from queue.tickets`.execute(database.db);
  t.ok(Number(perCounter.rows[0].n) >= 2, "the work was spread over several counters");
});
