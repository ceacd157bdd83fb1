// Wait estimates: how long until a waiting ticket is called, as a median (p50) and a 90th percentile.
//
// Two steps, both pure:
// 1. simulateWaits: a small Monte Carlo of the open counters working through the tickets ahead, with
//    service times drawn from the queue's recent real service times (a bootstrap: no distribution is
//    assumed) and busy counters' remaining time drawn from the samples longer than what has passed.
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
  /** serviceSamplesMs are recent service times (called to completed). */
  serviceSamplesMs: number[];
  /** runs is the number of simulated futures (default 200). */
  runs?: number;
  /** seed makes the simulation repeatable (default 1). */
  seed?: number;
}

/** DEFAULT_SERVICE_MS is the service time assumed before a queue has completed any ticket. */
export const DEFAULT_SERVICE_MS = 5 * 60_000;

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
  const samples = input.serviceSamplesMs.length > 0 ? input.serviceSamplesMs : [DEFAULT_SERVICE_MS];
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

/** calibrationFloorMs is the smallest raw estimate calibration scales from: a quarter of a mean service. */
export function calibrationFloorMs(serviceSamplesMs: readonly number[]): number {
  if (serviceSamplesMs.length === 0) return DEFAULT_SERVICE_MS / 4;
  return serviceSamplesMs.reduce((a, b) => a + b, 0) / serviceSamplesMs.length / 4;
}
