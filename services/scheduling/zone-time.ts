// Local wall-clock time in an IANA zone, with Intl only (no time-zone library). A "wall" value is the
// local date and time written as if it were UTC milliseconds: Date.UTC(year, month - 1, day, h, m).
// DESIGN.md invariant 8: a local time that does not exist (spring forward) has no instant; a repeated
// one (fall back) resolves to its first occurrence.

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formats.set(timeZone, f);
  }
  return f;
}

function wallFromParts(instantMs: number, timeZone: string): number {
  const parts = formatFor(timeZone).formatToParts(new Date(instantMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
}

// Offsets cached per zone and quarter hour: since 1970 every zone's offset is a multiple of 15
// minutes, so its transitions fall on quarter hours of UTC, and the offset is constant within one.
const QUARTER_MS = 15 * MINUTE_MS;
const SINCE = Date.UTC(1970, 0, 1);
const offsetCache = new Map<string, Map<number, number>>();

/** offsetMs is the zone's UTC offset at an instant (local minus UTC), in ms. */
export function offsetMs(instantMs: number, timeZone: string): number {
  const quarter = Math.floor(instantMs / QUARTER_MS);
  let cache = offsetCache.get(timeZone);
  if (!cache) {
    cache = new Map();
    offsetCache.set(timeZone, cache);
  }
  const hit = cache.get(quarter);
  if (hit !== undefined) return hit;
  const start = quarter * QUARTER_MS;
  const o = wallFromParts(start, timeZone) - start;
  // Before 1970 offsets were not always quarter hours (local mean time): no caching there.
  if (start < SINCE) return wallFromParts(Math.floor(instantMs / 1000) * 1000, timeZone) - Math.floor(instantMs / 1000) * 1000;
  if (cache.size > 200_000) cache.clear();
  cache.set(quarter, o);
  return o;
}

/** wallOf is the local wall-clock time of an instant in a zone, as wall milliseconds. */
export function wallOf(instantMs: number, timeZone: string): number {
  return instantMs + offsetMs(instantMs, timeZone);
}

/**
 * instantsOfWall lists the instants (ascending) whose local time in the zone is exactly `wall`:
 * none in a spring-forward gap, two in a fall-back overlap, otherwise one.
 */
export function instantsOfWall(wall: number, timeZone: string): number[] {
  // Offsets in force around the wall time: transitions are far apart (months), so a day either side sees them all.
  const offsets = new Set([offsetMs(wall - DAY_MS, timeZone), offsetMs(wall, timeZone), offsetMs(wall + DAY_MS, timeZone)]);
  const found = new Set<number>();
  for (const o of offsets) {
    const instant = wall - o;
    if (offsetMs(instant, timeZone) === o) found.add(instant);
  }
  return [...found].sort((a, b) => a - b);
}

/** instantOfWall is the first occurrence of a local wall time, or undefined when it does not exist. */
export function instantOfWall(wall: number, timeZone: string): number | undefined {
  return instantsOfWall(wall, timeZone)[0];
}

/**
 * firstInstantAtOrAfterWall is the earliest instant whose local time is `wall` or later: the first
 * occurrence when the time exists, the end of the gap (the transition) when it falls in one.
 */
export function firstInstantAtOrAfterWall(wall: number, timeZone: string): number {
  const exact = instantOfWall(wall, timeZone);
  if (exact !== undefined) return exact;
  // In a gap: the transition lies between wall - (larger offset) and wall - (smaller offset).
  const a = offsetMs(wall - DAY_MS, timeZone);
  const b = offsetMs(wall + DAY_MS, timeZone);
  let lo = wall - Math.max(a, b); // before the transition: its wall time is earlier than `wall`
  let hi = wall - Math.min(a, b); // after: its wall time is later
  // Transitions fall on whole minutes (or seconds in old history): bisect to the second.
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (wallOf(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** localDateOf is the local date "YYYY-MM-DD" of an instant in a zone. */
export function localDateOf(instantMs: number, timeZone: string): string {
  return new Date(wallOf(instantMs, timeZone)).toISOString().slice(0, 10);
}

/** wallOfDate is the wall milliseconds of local midnight starting a "YYYY-MM-DD" date. */
export function wallOfDate(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

/** dateOfWall is the "YYYY-MM-DD" date of a wall value. */
export function dateOfWall(wall: number): string {
  return new Date(wall).toISOString().slice(0, 10);
}

/** isoDayOfWeek is the ISO weekday (1 Monday ... 7 Sunday) of a "YYYY-MM-DD" date. */
export function isoDayOfWeek(date: string): number {
  const d = new Date(wallOfDate(date)).getUTCDay();
  return d === 0 ? 7 : d;
}

/** addDays shifts a "YYYY-MM-DD" date by whole days. */
export function addDays(date: string, days: number): string {
  return dateOfWall(wallOfDate(date) + days * DAY_MS);
}

/** MINUTE and DAY in ms, for callers doing wall arithmetic. */
export const WALL = { MINUTE_MS, DAY_MS };
