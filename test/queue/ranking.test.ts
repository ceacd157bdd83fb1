// The ranking as a pure function, and its SQL twin: Postgres orders random tickets exactly as
// rankTickets does, so CallNext (SQL, under SKIP LOCKED) and positions (code) never disagree. A
// skipped ticket goes back behind the ticket that was next, and that yield never lets anyone else
// ahead: URGENT first and the fairness bound hold for every ticket not passed over.
import t from "tap";
import { sql } from "kysely";
import { createRng } from "../../services/queue/estimator.js";
import { checkInTiming, DEFAULT_RANK_POLICY, rankOrderBySql, rankTickets, rankTime, yieldJoinSql, type RankInput } from "../../services/queue/ranking.js";
import type { TicketPriorityName } from "../../services/queue/db/ticket.table.js";
import { createQueueDatabase } from "../helpers/queue.js";

const P = DEFAULT_RANK_POLICY;
const at = (min: number) => new Date(Date.UTC(2026, 0, 5, 8, 0) + min * 60_000);
let seq = 0n;
function ticket(priority: TicketPriorityName, arrivedMin: number, appointmentMin?: number): RankInput {
  const arrivedAt = at(arrivedMin);
  const appointmentTime = appointmentMin === undefined ? undefined : at(appointmentMin);
  return { ticketId: `t${++seq}`, seq, priority, arrivedAt, rankAt: rankTime({ priority, arrivedAt, appointmentTime }, P) };
}

t.test("rankTime", async (t) => {
  t.equal(rankTime({ priority: "ROUTINE", arrivedAt: at(0) }, P).getTime(), at(0).getTime());
  t.equal(rankTime({ priority: "PRIORITY", arrivedAt: at(0) }, P).getTime(), at(-10).getTime(), "head start");
  t.equal(rankTime({ priority: "APPOINTMENT", arrivedAt: at(0), appointmentTime: at(30) }, P).getTime(), at(30).getTime(), "early: booked time");
  t.equal(rankTime({ priority: "APPOINTMENT", arrivedAt: at(10), appointmentTime: at(0) }, P).getTime(), at(0).getTime(), "a little late: booked time");
  t.equal(rankTime({ priority: "APPOINTMENT", arrivedAt: at(20), appointmentTime: at(0) }, P).getTime(), at(20).getTime(), "past the late window: arrival");
  t.equal(checkInTiming(at(0), at(61), P), "early");
  t.equal(checkInTiming(at(0), at(60), P), "on_time");
  t.equal(checkInTiming(at(16), at(0), P), "late");
});

t.test("URGENT first, then overdue by arrival, then by preference", async (t) => {
  const routineOld = ticket("ROUTINE", 0);
  const prio = ticket("PRIORITY", 5);
  const routine = ticket("ROUTINE", 2);
  const urgent = ticket("URGENT", 9);
  const appt = ticket("APPOINTMENT", 1, 3);
  const now = at(10);
  t.strictSame(rankTickets([routineOld, prio, routine, urgent, appt], now, P).map((x) => x.ticketId), [urgent, prio, routineOld, routine, appt].map((x) => x.ticketId));
  // 46 minutes later every one of them is overdue: plain arrival order after URGENT.
  t.strictSame(rankTickets([routineOld, prio, routine, urgent, appt], at(56), P).map((x) => x.ticketId), [urgent, routineOld, appt, routine, prio].map((x) => x.ticketId));
});

t.test("a skipped ticket ranks right behind the ticket it yields to, while that one waits unskipped", async (t) => {
  const skipped = ticket("ROUTINE", 0);
  const next = ticket("ROUTINE", 5);
  const later = ticket("ROUTINE", 7);
  const ids = (xs: RankInput[]) => xs.map((x) => x.ticketId);
  const now = at(10);
  const yielding = { ...skipped, skipCount: 1, yieldsTo: { ticketId: next.ticketId, skipCount: 0 } };
  t.strictSame(ids(rankTickets([skipped, next, later], now, P)), ids([skipped, next, later]), "without the yield: by arrival");
  t.strictSame(ids(rankTickets([yielding, next, later], now, P)), ids([next, yielding, later]), "behind the next one, ahead of later arrivals");
  t.strictSame(ids(rankTickets([yielding, later], now, P)), ids([yielding, later]), "the next one called (gone from waiting): its own place again");
  const nextSkipped = { ...next, skipCount: 1, yieldsTo: { ticketId: skipped.ticketId, skipCount: 1 } };
  t.strictSame(ids(rankTickets([yielding, nextSkipped, later], now, P)), ids([yielding, nextSkipped, later]), "the next one was called and skipped since: the yield is over, no loop");
  const urgent = ticket("URGENT", 9);
  t.strictSame(ids(rankTickets([yielding, next, later, urgent], now, P)), ids([urgent, next, yielding, later]), "a later URGENT ticket still goes first");
  // Overdue, the skipped ticket still yields its one place.
  t.strictSame(ids(rankTickets([yielding, next, later], at(50), P)), ids([next, yielding, later]), "overdue: still behind the next one");
  // A yield never moves a ticket forward: a yield to a ticket far ahead keeps the own place.
  const first = ticket("PRIORITY", 8);
  const toFirst = { ...later, skipCount: 1, yieldsTo: { ticketId: first.ticketId, skipCount: 0 } };
  t.strictSame(ids(rankTickets([skipped, toFirst, first], now, P)), ids([first, skipped, toFirst]), "own place when that is further back");
  // A skipped URGENT ticket gives up one place too, even to a ROUTINE one.
  const urgentSkipped = { ...urgent, skipCount: 1, yieldsTo: { ticketId: skipped.ticketId, skipCount: 0 } };
  t.strictSame(ids(rankTickets([urgentSkipped, skipped, later], now, P)), ids([skipped, urgentSkipped, later]), "a skipped URGENT ticket yields one place");
});

t.test("fairness: nobody is called after a later non-urgent arrival once they waited the bound", async (t) => {
  const policy = { ...P, priorityHeadStartMs: 3 * 3_600_000 };
  const rng = createRng(7);
  const waiting: RankInput[] = [];
  const arrivedBy = new Map<string, number>();
  let violations = 0;
  let urgentPassed = 0;
  let skips = 0;
  for (let minute = 0; minute < 600; minute++) {
    if (rng() < 0.6) {
      const kinds: TicketPriorityName[] = ["ROUTINE", "PRIORITY", "URGENT"];
      const kind = kinds[Math.floor(rng() * (rng() < 0.05 ? 3 : 2))];
      const tk = { ...ticket(kind, minute), rankAt: rankTime({ priority: kind, arrivedAt: at(minute) }, policy) };
      waiting.push(tk);
      arrivedBy.set(tk.ticketId, minute);
    }
    if (minute % 2 === 0 && waiting.length > 0) {
      const ranked = rankTickets(waiting, at(minute), policy);
      const next = ranked[0];
      waiting.splice(waiting.indexOf(next), 1);
      // Yielding at the call: to a ticket that waited then (perhaps the one called now).
      const yielding = (w: RankInput) => w.yieldsTo && ranked.some((x) => x.ticketId === w.yieldsTo!.ticketId && (x.skipCount ?? 0) === w.yieldsTo!.skipCount);
      if (next.priority !== "URGENT") {
        for (const w of waiting) {
          if (w.priority === "URGENT" && !yielding(w)) urgentPassed++;
          if (w.priority === "URGENT" || yielding(w)) continue; // a skipped ticket gives up one place
          if ((arrivedBy.get(w.ticketId) ?? 0) < (arrivedBy.get(next.ticketId) ?? 0) && minute - (arrivedBy.get(w.ticketId) ?? 0) > 45) violations++;
        }
      }
      // One call in six finds the patient not there yet: skipped, behind the ticket that is next now.
      if (rng() < 1 / 6) {
        const skipCount = (next.skipCount ?? 0) + 1;
        const after = ranked[1];
        waiting.push({ ...next, skipCount, yieldsTo: after ? { ticketId: after.ticketId, skipCount: after.skipCount ?? 0 } : null });
        skips++;
      }
    }
  }
  t.ok(skips > 30, `${skips} skips`);
  t.equal(violations, 0, "no later non-urgent arrival overtakes a ticket that waited more than 45 min");
  t.equal(urgentPassed, 0, "no non-urgent ticket is called while an URGENT one waits (unless that one was skipped)");
});

t.test("Postgres orders exactly like rankTickets", async (t) => {
  const database = await createQueueDatabase(t);
  const db = database.db;
  await sql`create temporary table rank_probe (ticket_id text, queue_id text, status text, seq bigint, priority text, arrived_at timestamptz, rank_at timestamptz,
    skip_count integer, yields_to text, yields_to_skips integer)`.execute(db);
  const rng = createRng(42);
  const kinds: TicketPriorityName[] = ["URGENT", "APPOINTMENT", "PRIORITY", "ROUTINE"];
  const rows: RankInput[] = [];
  for (let i = 0; i < 300; i++) {
    const kind = kinds[Math.floor(rng() * 4)];
    const arrived = Math.floor(rng() * 120);
    rows.push({ ...ticket(kind, arrived, kind === "APPOINTMENT" ? arrived + Math.floor(rng() * 80) - 20 : undefined), skipCount: Math.floor(rng() * 2) });
  }
  // A third yield: to a random other ticket, at its skip count (active) or at an older one (over),
  // or to a ticket that is not waiting (in SQL: another queue, or called).
  for (const r of rows) {
    if (rng() > 1 / 3) continue;
    const target = rows[Math.floor(rng() * rows.length)];
    if (target === r) continue;
    r.yieldsTo = { ticketId: rng() < 0.1 ? "t-gone" : target.ticketId, skipCount: (target.skipCount ?? 0) - (rng() < 0.2 ? 1 : 0) };
  }
  await db
    .insertInto("rank_probe")
    .values([
      ...rows.map((r) => ({
        ticket_id: r.ticketId,
        queue_id: "q",
        status: "WAITING",
        seq: r.seq.toString(),
        priority: r.priority,
        arrived_at: r.arrivedAt,
        rank_at: r.rankAt,
        skip_count: r.skipCount ?? 0,
        yields_to: r.yieldsTo?.ticketId ?? null,
        yields_to_skips: r.yieldsTo?.skipCount ?? null,
      })),
      // The ticket "t-gone" is not waiting in this queue: called, and in another queue with that id.
      { ticket_id: "t-gone", queue_id: "q", status: "CALLED", seq: "100000", priority: "URGENT", arrived_at: at(0), rank_at: at(0), skip_count: 0, yields_to: null, yields_to_skips: null },
    ])
    .execute();
  t.ok(rows.filter((r) => r.yieldsTo).length > 50, "many yields, some of them over");
  for (const nowMin of [0, 30, 60, 100, 150, 200]) {
    const fromSql = (
      await sql<{ ticket_id: string }>`select t.ticket_id from rank_probe t left join rank_probe y on ${yieldJoinSql()}
        where t.queue_id = 'q' and t.status = 'WAITING' order by ${sql.join(rankOrderBySql(at(nowMin), P))}`.execute(db)
    ).rows.map((r) => r.ticket_id);
    t.strictSame(fromSql, rankTickets(rows, at(nowMin), P).map((r) => r.ticketId), `same order at +${nowMin} min`);
  }
});
