// The wait estimator's pure parts: the counter simulation, how samples are fenced and weighed against
// the prior, the per-class calibration, estimates encoded as whole milliseconds, and loadQueueOptions.
import t from "tap";
import { toBinary } from "@bufbuild/protobuf";
import { TicketSchema } from "../../gen/medschedule/queue/v1/queue_pb.js";
import {
  calibrate,
  calibrationFloorMs,
  createRng,
  DEFAULT_SERVICE_MS,
  MIN_SERVICE_SAMPLES,
  quantile,
  serviceSamplePool,
  simulateWaits,
} from "../../services/queue/estimator.js";
import { loadQueueOptions } from "../../services/queue/queue-options.js";
import { toTicket } from "../../services/queue/mappers/ticket.mapper.js";
import type { TicketRow } from "../../services/queue/db/ticket.table.js";

const MIN = 60_000;
/** n copies of one service time: enough of them replace the prior entirely. */
const same = (ms: number, n = MIN_SERVICE_SAMPLES) => Array.from({ length: n }, () => ms);

t.test("simulateWaits: constant service times give exact waits", async (t) => {
  const est = simulateWaits({ positions: 5, openCounters: 2, busyElapsedMs: [], serviceSamplesMs: same(10 * MIN) });
  t.strictSame(est.map((e) => e.p50Ms / MIN), [0, 0, 10, 10, 20], "two idle counters take two at once, then every 10 min");
  const busy = simulateWaits({ positions: 2, openCounters: 1, busyElapsedMs: [4 * MIN], serviceSamplesMs: same(10 * MIN) });
  t.strictSame(busy.map((e) => e.p50Ms / MIN), [6, 16], "a busy counter's remaining time counts");
});

t.test("simulateWaits: spread service times give p90 above p50, growing with the position", async (t) => {
  const rng = createRng(3);
  const samples = Array.from({ length: 50 }, () => MIN * Math.exp(1.5 + 0.6 * (rng() - 0.5) * 3.4));
  const est = simulateWaits({ positions: 20, openCounters: 3, busyElapsedMs: [MIN, 2 * MIN, 0], serviceSamplesMs: samples, seed: 9 });
  t.ok(est.every((e) => e.p90Ms >= e.p50Ms), "p90 >= p50");
  t.ok(est[19].p50Ms > est[5].p50Ms, "later positions wait longer");
  t.same(simulateWaits({ positions: 20, openCounters: 3, busyElapsedMs: [MIN, 2 * MIN, 0], serviceSamplesMs: samples, seed: 9 }), est, "seeded: repeatable");
  t.equal(simulateWaits({ positions: 0, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: [] }).length, 0);
});

t.test("one fast sample does not collapse the estimate: the prior gives way only gradually", async (t) => {
  // The reported defect: one ticket completed 0.5 s after its call made the 4th in line wait "2 s".
  const none = simulateWaits({ positions: 4, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: [] });
  const one = simulateWaits({ positions: 4, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: [500] });
  t.ok(one[3].p50Ms >= 10 * MIN, `4th in line after one 0.5 s sample: ${one[3].p50Ms} ms, not ~2 s`);
  t.ok(one[3].p50Ms >= none[3].p50Ms * 0.8, "one sample moves the estimate by little");
  t.equal(none[3].p50Ms, 3 * DEFAULT_SERVICE_MS, "no samples: the prior alone");
  // Real samples take over as they come: at MIN_SERVICE_SAMPLES the prior is gone.
  const some = simulateWaits({ positions: 4, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: same(MIN, 10) });
  const enough = simulateWaits({ positions: 4, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: same(MIN) });
  t.ok(some[3].p50Ms < none[3].p50Ms && some[3].p50Ms > enough[3].p50Ms, "half the samples: between the prior and the data");
  t.equal(enough[3].p50Ms, 3 * MIN, "enough real samples: the data alone");
  t.equal(serviceSamplePool(same(MIN)).length, MIN_SERVICE_SAMPLES);
  t.equal(serviceSamplePool([MIN]).filter((s) => s === DEFAULT_SERVICE_MS).length, MIN_SERVICE_SAMPLES - 1, "the missing samples are the prior");
});

t.test("an extreme sample is fenced in, ordinary spread is kept", async (t) => {
  const rng = createRng(11);
  const typical = Array.from({ length: 30 }, () => 5 * MIN * Math.exp(0.5 * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())));
  const forgotten = [...typical, 4 * 60 * MIN]; // a ticket left open over lunch and the afternoon
  const misclick = [...typical, 500];
  const pool = serviceSamplePool(forgotten);
  t.ok(Math.max(...pool) < 40 * MIN, `the 4 h sample is pulled in to ${Math.round(Math.max(...pool) / MIN)} min`);
  t.ok(Math.min(...serviceSamplePool(misclick)) > 20_000, "the 0.5 s sample is pulled up to the lower fence");
  t.strictSame(serviceSamplePool(typical), typical, "ordinary samples stay as they are");
  const base = simulateWaits({ positions: 5, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: typical });
  const withOutlier = simulateWaits({ positions: 5, openCounters: 1, busyElapsedMs: [], serviceSamplesMs: forgotten });
  t.ok(withOutlier[4].p90Ms < base[4].p90Ms * 1.5, `p90 of the 5th: ${withOutlier[4].p90Ms} ms with the outlier vs ${base[4].p90Ms} ms without`);
});

t.test("an estimate with fractions of a millisecond encodes as whole milliseconds", async (t) => {
  // Such as a sample pulled in to its fence (exp of a logarithm).
  const fenced = 1_171_004_414.6969448;
  const row = { ticket_id: "t-1", queue_id: "q", number: "A-001", priority: "ROUTINE", status: "WAITING", arrived_at: new Date(0), recall_count: 0 } as TicketRow;
  const ticket = toTicket(row, { position: 1, estimate: { p50Ms: fenced, p90Ms: fenced * 1.5 } });
  t.doesNotThrow(() => toBinary(TicketSchema, ticket), "encodes");
  t.equal(Number(ticket.estimatedWait?.nanos ?? 0) % 1_000_000, 0, "whole milliseconds");
});

t.test("calibrate scales by recent actual/predicted ratios, and only with enough samples", async (t) => {
  const raw = { p50Ms: 10 * MIN, p90Ms: 12 * MIN };
  t.same(calibrate(raw, [{ predictedMs: MIN, actualMs: 2 * MIN }], MIN), raw, "too few samples: raw");
  const samples = Array.from({ length: 100 }, (_, i) => ({ predictedMs: 10 * MIN, actualMs: (10 + (i % 10)) * MIN }));
  const c = calibrate(raw, samples, MIN);
  t.equal(c.p50Ms, Math.round(10 * MIN * quantile(samples.map((s) => s.actualMs / s.predictedMs), 0.5)));
  t.ok(c.p90Ms > c.p50Ms && c.p90Ms <= 19 * MIN, "p90 from the upper ratios");
  t.equal(calibrationFloorMs([...same(4 * MIN, 10), ...same(8 * MIN, 10)]), 1.5 * MIN, "a quarter of the mean service time");
  t.equal(calibrationFloorMs([]), DEFAULT_SERVICE_MS / 4, "no samples: a quarter of the prior");
});

t.test("loadQueueOptions reads QUEUE_* and names every bad one", async (t) => {
  const o = loadQueueOptions({ QUEUE_FAIRNESS_BOUND: "30m", QUEUE_NO_SHOW_AFTER_SKIPS: "3" });
  t.equal(o.fairnessBoundMs, 30 * MIN);
  t.equal(o.noShowAfterSkips, 3);
  t.equal(loadQueueOptions({}).fairnessBoundMs, 45 * MIN, "default 45 min");
  t.throws(() => loadQueueOptions({ QUEUE_FAIRNESS_BOUND: "soon", QUEUE_NO_SHOW_AFTER_SKIPS: "0" }), /QUEUE_FAIRNESS_BOUND.*QUEUE_NO_SHOW_AFTER_SKIPS/);
});
