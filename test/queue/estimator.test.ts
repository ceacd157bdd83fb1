// The wait estimator's pure parts: the counter simulation and the per-class calibration.
import t from "tap";
import { calibrate, calibrationFloorMs, createRng, quantile, simulateWaits } from "../../services/queue/estimator.js";
import { loadQueueOptions } from "../../services/queue/queue-options.js";

const MIN = 60_000;

t.test("simulateWaits: constant service times give exact waits", async (t) => {
  const est = simulateWaits({ positions: 5, openCounters: 2, busyElapsedMs: [], serviceSamplesMs: [10 * MIN] });
  t.strictSame(est.map((e) => e.p50Ms / MIN), [0, 0, 10, 10, 20], "two idle counters take two at once, then every 10 min");
  const busy = simulateWaits({ positions: 2, openCounters: 1, busyElapsedMs: [4 * MIN], serviceSamplesMs: [10 * MIN] });
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

t.test("calibrate scales by recent actual/predicted ratios, and only with enough samples", async (t) => {
  const raw = { p50Ms: 10 * MIN, p90Ms: 12 * MIN };
  t.same(calibrate(raw, [{ predictedMs: MIN, actualMs: 2 * MIN }], MIN), raw, "too few samples: raw");
  const samples = Array.from({ length: 100 }, (_, i) => ({ predictedMs: 10 * MIN, actualMs: (10 + (i % 10)) * MIN }));
  const c = calibrate(raw, samples, MIN);
  t.equal(c.p50Ms, Math.round(10 * MIN * quantile(samples.map((s) => s.actualMs / s.predictedMs), 0.5)));
  t.ok(c.p90Ms > c.p50Ms && c.p90Ms <= 19 * MIN, "p90 from the upper ratios");
  t.equal(calibrationFloorMs([4 * MIN, 8 * MIN]), 1.5 * MIN, "a quarter of the mean service time");
});

t.test("loadQueueOptions reads QUEUE_* and names every bad one", async (t) => {
  const o = loadQueueOptions({ QUEUE_FAIRNESS_BOUND: "30m", QUEUE_NO_SHOW_AFTER_SKIPS: "3" });
  t.equal(o.fairnessBoundMs, 30 * MIN);
  t.equal(o.noShowAfterSkips, 3);
  t.equal(loadQueueOptions({}).fairnessBoundMs, 45 * MIN, "default 45 min");
  t.throws(() => loadQueueOptions({ QUEUE_FAIRNESS_BOUND: "soon", QUEUE_NO_SHOW_AFTER_SKIPS: "0" }), /QUEUE_FAIRNESS_BOUND.*QUEUE_NO_SHOW_AFTER_SKIPS/);
});
