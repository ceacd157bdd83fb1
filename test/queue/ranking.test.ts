// The ranking as a pure function, and its SQL twin: Postgres orders random tickets exactly as
// rankTickets does, so CallNext (SQL, under SKIP LOCKED) and positions (code) never disagree.
import t from "tap";
import { sql } from "kysely";
import { createRng } from "../../services/queue/estimator.js";
import { checkInTiming, DEFAULT_RANK_POLICY, rankOrderBySql, rankTickets, rankTime, type RankInput } from "../../services/queue/ranking.js";
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

t.test("fairness: nobody is called after a later non-urgent arrival once they waited the bound", async (t) => {
  const policy = { ...P, priorityHeadStartMs: 3 * 3_600_000 };
  const rng = createRng(7);
  const waiting: RankInput[] = [];
  const arrivedBy = new Map<string, number>();
  let violations = 0;
  for (let minute = 0; minute < 600; minute++) {
    if (rng() < 0.6) {
      const kinds: TicketPriorityName[] = ["ROUTINE", "PRIORITY", "URGENT"];
      const kind = kinds[Math.floor(rng() * (rng() < 0.05 ? 3 : 2))];
      const tk = { ...ticket(kind, minute), rankAt: rankTime({ priority: kind, arrivedAt: at(minute) }, policy) };
      waiting.push(tk);
      arrivedBy.set(tk.ticketId, minute);
    }
    if (minute % 2 === 0 && waiting.length > 0) {
      const [next] = rankTickets(waiting, at(minute), policy);
      waiting.splice(waiting.indexOf(next), 1);
      if (next.priority !== "URGENT") {
        for (const w of waiting) {
          if (w.priority === "URGENT") continue;
          if ((arrivedBy.get(w.ticketId) ?? 0) < (arrivedBy.get(next.ticketId) ?? 0) && minute - (arrivedBy.get(w.ticketId) ?? 0) > 45) violations++;
        }
      }
    }
  }
  t.equal(violations, 0, "no later non-urgent arrival overtakes a ticket that waited more than 45 min");
});

t.test("Postgres orders exactly like rankTickets", async (t) => {
  const database = await createQueueDatabase(t);
  const db = database.db;
  await sql`create temporary table rank_probe (ticket_id text, seq bigint, priority text, arrived_at timestamptz, rank_at timestamptz)`.execute(db);
  const rng = createRng(42);
  const kinds: TicketPriorityName[] = ["URGENT", "APPOINTMENT", "PRIORITY", "ROUTINE"];
  const rows: RankInput[] = [];
  for (let i = 0; i < 300; i++) {
    const kind = kinds[Math.floor(rng() * 4)];
    const arrived = Math.floor(rng() * 120);
    rows.push(ticket(kind, arrived, kind === "APPOINTMENT" ? arrived + Math.floor(rng() * 80) - 20 : undefined));
  }
  await db
    .insertInto("rank_probe")
    .values(rows.map((r) => ({ ticket_id: r.ticketId, seq: r.seq.toString(), priority: r.priority, arrived_at: r.arrivedAt, rank_at: r.rankAt })))
    .execute();
  for (const nowMin of [0, 30, 60, 100, 150, 200]) {
    let q = db.selectFrom("rank_probe").select("ticket_id");
    for (const e of rankOrderBySql(at(nowMin), P)) q = q.orderBy(e);
    const fromSql = (await q.execute()).map((r) => r.ticket_id as string);
    t.strictSame(fromSql, rankTickets(rows, at(nowMin), P).map((r) => r.ticketId), `same order at +${nowMin} min`);
  }
});
