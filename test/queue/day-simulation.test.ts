// A seeded day in a waiting room at 90% load, against the real service class and a real Postgres, on
// a fake clock: Poisson arrivals of four classes, 4 counters, lognormal service times whose median
// shifts at midday (the estimator is told none of this). Checks invariant 5's fairness bound over
// every pair of tickets, that p90 estimates cover 85-95% of actual waits, and that the median
// absolute error of p50 is within 25% of the median actual wait.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { durationMs, type Duration } from "@bufbuild/protobuf/wkt";
import { TicketPriority } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  CallNextRequestSchema,
  CompleteTicketRequestSchema,
  CreateQueueRequestSchema,
  IssueTicketRequestSchema,
  OpenCounterRequestSchema,
  QueueService,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { createRng, quantile } from "../../services/queue/estimator.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { createQueueDatabase, queueCtx } from "../helpers/queue.js";

t.setTimeout(150_000);

const MIN = 60_000;
const COUNTERS = 4;
const DAY_MS = 9 * 60 * MIN;
const WARM_UP_MS = 60 * MIN;
const LOAD = 0.9;
const SIGMA = 0.5;
const FAIRNESS_MS = 20 * MIN; // tighter than the default, and a 30 min head start, so the bound binds
const start = new Date("2026-01-05T06:00:00Z");

const rng = createRng(Number(process.env.QUEUE_SIM_SEED ?? 20260105));
const gaussian = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
/** Median service time: 5 min in the morning, 7 min from midday on. */
const medianServiceMs = (elapsed: number) => (elapsed < DAY_MS / 2 ? 5 : 7) * MIN;
const meanServiceMs = (elapsed: number) => medianServiceMs(elapsed) * Math.exp((SIGMA * SIGMA) / 2);
const serviceMs = (elapsed: number) => medianServiceMs(elapsed) * Math.exp(SIGMA * gaussian());

interface Record {
  ticketId: string;
  priority: TicketPriority;
  arrival: number;
  p50: number;
  p90: number;
  called?: number;
}

t.test("a day at 90% load", async (t) => {
  const database = await createQueueDatabase(t);
  const clock = createFakeClock(start);
  const svc = new QueueServiceImpl({ db: database.db, clock }, { listen: false, fairnessBoundMs: FAIRNESS_MS, priorityHeadStartMs: 30 * MIN });
  t.teardown(() => svc.close());
  const m = QueueService.method;
  const as = { role: "receptionist" as const, subject: "kiosk" };
  const queueId = "sim";
  await svc.createQueue(create(CreateQueueRequestSchema, { queueId, displayName: "Sim", prefix: "S", timeZone: "UTC" }), queueCtx(m.createQueue, as));
  for (let c = 0; c < COUNTERS; c++) await svc.openCounter(create(OpenCounterRequestSchema, { queueId, counterId: `c${c}` }), queueCtx(m.openCounter, as));

  // Events in time order: arrivals up front (rate follows the service time to keep the load at 90%).
  type Ev = { at: number; kind: "arrive" } | { at: number; kind: "done"; counter: number; ticketId: string };
  const events: Ev[] = [];
  for (let at = 0; ; ) {
    at += -Math.log(1 - rng()) / ((LOAD * COUNTERS) / meanServiceMs(at));
    if (at >= DAY_MS) break;
    events.push({ at, kind: "arrive" });
  }
  const push = (e: Ev) => {
    let i = events.length;
    while (i > 0 && events[i - 1].at > e.at) i--;
    events.splice(i, 0, e);
  };
  const records = new Map<string, Record>();
  const busy = new Array<boolean>(COUNTERS).fill(false);
  let n = 0;
  const tryCall = async (c: number, at: number) => {
    if (busy[c]) return;
    const r = await svc.callNext(create(CallNextRequestSchema, { queueId, counterId: `c${c}` }), queueCtx(m.callNext, as));
    if (!r.ticket) return;
    busy[c] = true;
    const ticketId = r.ticket.ticketId ?? "";
    const rec = records.get(ticketId);
    if (rec && rec.called === undefined) rec.called = at;
    push({ at: at + serviceMs(at), kind: "done", counter: c, ticketId });
  };
  while (events.length > 0) {
    const e = events.shift()!;
    clock.set(new Date(start.getTime() + e.at));
    if (e.kind === "arrive") {
      const u = rng();
      const priority = u < 0.05 ? TicketPriority.URGENT : u < 0.2 ? TicketPriority.APPOINTMENT : u < 0.4 ? TicketPriority.PRIORITY : TicketPriority.ROUTINE;
      const booked = priority === TicketPriority.APPOINTMENT ? new Date(start.getTime() + e.at + (rng() * 50 - 10) * MIN) : undefined;
      const res = await svc.issueTicket(
        create(IssueTicketRequestSchema, {
          requestId: `sim-${++n}`,
          queueId,
          priority,
          appointmentId: booked ? `apt-${n}` : "",
          appointmentTime: booked ? timestampFromDate(booked) : undefined,
        }),
        // Appointment tickets come from scheduling's check-in (the service role), walk-ins from the kiosk.
        queueCtx(m.issueTicket, booked ? { role: "service", subject: "scheduling" } : as),
      );
      const tk = res.ticket!;
      const ticketId = tk.ticketId ?? "";
      records.set(ticketId, { ticketId, priority, arrival: e.at, p50: durationMs(tk.estimatedWait as Duration), p90: durationMs(tk.estimatedWaitP90 as Duration) });
    } else {
      await svc.completeTicket(create(CompleteTicketRequestSchema, { ticketId: e.ticketId, counterId: `c${e.counter}` }), queueCtx(m.completeTicket, as));
      busy[e.counter] = false;
    }
    for (let c = 0; c < COUNTERS; c++) await tryCall(c, e.at);
  }

  const all = [...records.values()];
  t.ok(all.length > 250, `${all.length} tickets over the day`);
  t.ok(all.every((r) => r.called !== undefined), "every ticket was called");

  // Invariant 5: whenever a later non-urgent arrival was called first, the earlier ticket had waited
  // at most the bound at that moment.
  let overtakes = 0;
  let violations = 0;
  for (const x of all) {
    for (const y of all) {
      if (y.priority === TicketPriority.URGENT || y.arrival <= x.arrival || y.called! >= x.called!) continue;
      overtakes++;
      if (y.called! - x.arrival > FAIRNESS_MS) violations++;
    }
  }
  t.ok(overtakes > 0, `later arrivals did overtake (${overtakes} times): the bound is exercised`);
  t.equal(violations, 0, "nobody waited longer than the fairness bound behind a later non-urgent arrival");

  // Estimates, after a warm-up hour in which the estimator learns the room.
  const scored = all.filter((r) => r.arrival >= WARM_UP_MS);
  const waits = scored.map((r) => r.called! - r.arrival);
  const covered = scored.filter((r) => r.called! - r.arrival <= r.p90).length / scored.length;
  const absErr = scored.map((r) => Math.abs(r.p50 - (r.called! - r.arrival)));
  const medianWait = quantile(waits, 0.5);
  const medianAbsErr = quantile(absErr, 0.5);
  t.comment(`waits: median ${(medianWait / MIN).toFixed(1)} min, p90 ${(quantile(waits, 0.9) / MIN).toFixed(1)} min; p90 coverage ${(covered * 100).toFixed(1)}%; median |p50-actual| ${(medianAbsErr / MIN).toFixed(1)} min`);
  t.ok(covered >= 0.85 && covered <= 0.95, `p90 covers ${(covered * 100).toFixed(1)}% of actual waits (85-95%)`);
  t.ok(medianAbsErr <= 0.25 * medianWait, `median |p50 - actual| ${(medianAbsErr / MIN).toFixed(1)} min is within 25% of the median wait ${(medianWait / MIN).toFixed(1)} min`);
});
