// Wait estimates: how long until a waiting ticket is called, as a median (p50) and a 90th percentile.
//
// Two steps, both pure:
// 1. simulateWaits: a small Monte Carlo of the open counters working through the tickets ahead, with
//    service times drawn from the queue's recent real service times (a bootstrap: no distribution is
//    assumed) and busy counters' remaining time drawn from the samples longer than what has passed.
//    Few samples are not trusted alone (serviceSamplePool): until a queue has MIN_SERVICE_SAMPLES real
//    service times, the missing ones are the prior (DEFAULT_SERVICE_MS), so one ticket completed half
//    a second after its call moves the estimate by a twentieth, not to half a second per patient;
//    and once there are enough, the rare extreme one (a ticket left open over lunch, a double click)
//    is pulled in to a fence far outside the others, so it cannot dominate the p90 either.
// 2. calibrate: per priority class, recent tickets' actual waits divided by what step 1 predicted when
//    they were issued. The median and the 90th percentile of those ratios scale the raw median, so the
//    estimate learns what the simulation cannot know (later arrivals ranked ahead, skips, breaks).

/** Estimate is a wait estimate in milliseconds. */
export interface Estimate {
  /** p50Ms is the median wait. */
  p50Ms: number;
  /** p90Ms is the 90th percentile wait. */
  p90Ms: number;
}

/** SimulationInput describes a queue's counters and recent service times. */
export interface SimulationInput {
  /** positions is how many waiting positions to estimate (1..positions). */
  positions: number;
  /** openCounters is how many counters call tickets now (at least 1 is assumed). */
  openCounters: number;
  /** busyElapsedMs has, per open counter serving a ticket now, how long it has served it. */
  busyElapsedMs: number[];
  /** serviceSamplesMs are recent service times (called to completed), as read; serviceSamplePool weighs them. */
  serviceSamplesMs: number[];
  /** runs is the number of simulated futures (default 200). */
  runs?: number;
  /** seed makes the simulation repeatable (default 1). */
  seed?: number;
}

/** DEFAULT_SERVICE_MS is the service time assumed before a queue has completed any ticket (the prior). */
export const DEFAULT_SERVICE_MS = 5 * 60_000;

/** MIN_SERVICE_SAMPLES is how many real service times it takes to replace the prior entirely. */
export const MIN_SERVICE_SAMPLES = 20;

/** FENCE_MIN_SAMPLES is how many real service times outlier fences need; fewer are taken as they are. */
export const FENCE_MIN_SAMPLES = 8;

/**
 * serviceSamplePool is what the simulation draws service times from: the real samples, each pulled
 * inside log-scale Tukey fences (quartiles -+ 1.5 interquartile ranges of the logarithms, about 4x
 * the median either way for a typical spread) once there are FENCE_MIN_SAMPLES of them, plus
 * MIN_SERVICE_SAMPLES - n copies of the prior while there are fewer than MIN_SERVICE_SAMPLES. The
 * prior's weight falls with every real sample and is gone at MIN_SERVICE_SAMPLES.
 */
export function serviceSamplePool(samplesMs: readonly number[], priorMs = DEFAULT_SERVICE_MS): number[] {
  const real = samplesMs.filter((s) => Number.isFinite(s) && s >= 0);
  let pool = real;
  if (real.length >= FENCE_MIN_SAMPLES) {
    // Logarithms of at least 1 ms: a zero-length service is as fast as a sample can be.
    const logs = real.map((s) => Math.log(Math.max(1, s)));
    const q1 = quantile(logs, 0.25);
    const q3 = quantile(logs, 0.75);
    const iqr = q3 - q1;
    const lo = q1 - 1.5 * iqr;
    const hi = q3 + 1.5 * iqr;
    // Compared in log space, so a sample on a fence stays exactly as it was.
    pool = real.map((s, i) => (logs[i] > hi ? Math.exp(hi) : logs[i] < lo ? Math.exp(lo) : s));
  }
  const missing = Math.max(0, MIN_SERVICE_SAMPLES - pool.length);
  return missing === 0 ? pool : [...pool, ...Array.from({ length: missing }, () => priorMs)];
}

/** createRng returns a seeded uniform [0, 1) generator (mulberry32). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** quantile returns the q-quantile (0..1) of values by linear interpolation; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * simulateWaits returns, for positions 1..n, the raw p50 and p90 time until that position is
 * called: each run lets the counters take tickets in order as they become free.
 */
export function simulateWaits(input: SimulationInput): Estimate[] {
  const n = Math.max(0, input.positions);
  if (n === 0) return [];
  const samples = serviceSamplePool(input.serviceSamplesMs);
  const counters = Math.max(1, input.openCounters);
  const runs = input.runs ?? (n > 200 ? 100 : 200);
  const rng = createRng(input.seed ?? 1);
  const draw = () => samples[Math.floor(rng() * samples.length)];
  // The samples longer than each busy counter's elapsed time, found once (not once per run).
  const longerByCounter = input.busyElapsedMs.slice(0, counters).map((elapsed) => samples.filter((s) => s > elapsed));
  const remaining = (c: number) => {
    // The remaining time of a service already `elapsed` long: a sample longer than that, minus it.
    const longer = longerByCounter[c];
    if (longer.length === 0) return draw() / 2;
    return longer[Math.floor(rng() * longer.length)] - input.busyElapsedMs[c];
  };
  const waits: Float64Array[] = Array.from({ length: n }, () => new Float64Array(runs));
  const free = new Float64Array(counters);
  for (let r = 0; r < runs; r++) {
    for (let c = 0; c < counters; c++) {
      free[c] = c < input.busyElapsedMs.length ? remaining(c) : 0;
    }
    for (let k = 0; k < n; k++) {
      let best = 0;
      for (let c = 1; c < counters; c++) if (free[c] < free[best]) best = c;
      waits[k][r] = free[best];
      free[best] += draw();
    }
  }
  return waits.map((w) => {
    const sorted = w.sort(); // a Float64Array sorts numerically, in place
    return { p50Ms: sorted[Math.floor((runs - 1) * 0.5)], p90Ms: sorted[Math.floor((runs - 1) * 0.9)] };
  });
}

/** CalibrationSample is one called ticket: what the simulation predicted at issue, and what happened. */
export interface CalibrationSample {
  /** predictedMs is the raw p50 at issue. */
  predictedMs: number;
  /** actualMs is the real wait from issue to first call. */
  actualMs: number;
}

/**
 * P90_CALIBRATION_QUANTILE is the ratio quantile behind p90: a little above 0.9, because the samples
 * lag behind (waits still running are not in them yet, and the room changes during the day).
 */
export const P90_CALIBRATION_QUANTILE = 0.93;

/** MIN_CALIBRATION_SAMPLES is how many samples calibration needs; with fewer the raw estimate stands. */
export const MIN_CALIBRATION_SAMPLES = 20;

/**
 * calibrate turns a raw estimate into the reported one: raw p50 (at least `floorMs`, so short waits
 * still scale) times the median and the 90th percentile of recent actual/predicted ratios. With too
 * few samples it returns the raw estimate.
 */
export function calibrate(raw: Estimate, samples: readonly CalibrationSample[], floorMs: number): Estimate {
  if (samples.length < MIN_CALIBRATION_SAMPLES) return raw;
  const ratios = samples.map((s) => s.actualMs / Math.max(s.predictedMs, floorMs));
  const base = Math.max(raw.p50Ms, floorMs);
  const p50 = base * quantile(ratios, 0.5);
  const p90 = base * quantile(ratios, P90_CALIBRATION_QUANTILE);
  return { p50Ms: Math.round(p50), p90Ms: Math.round(Math.max(p50, p90)) };
}

/** calibrationFloorMs is the smallest raw estimate calibration scales from: a quarter of a mean service (of serviceSamplePool). */
export function calibrationFloorMs(serviceSamplesMs: readonly number[]): number {
  const pool = serviceSamplePool(serviceSamplesMs);
  return pool.reduce((a, b) => a + b, 0) / pool.length / 4;
}
