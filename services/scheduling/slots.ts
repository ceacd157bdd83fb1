// The slot engine: a provider's weekly pattern (local wall-clock times plus an IANA zone) turned into
// bookable UTC slots. Pure functions, no I/O: the repository supplies busy time.
//
// How local time maps to instants (DESIGN.md invariant 8):
// * Working intervals and breaks are converted to UTC with firstInstantAtOrAfterWall: a boundary in a
//   spring-forward gap moves to the end of the gap, a boundary in a fall-back overlap is its first
//   occurrence. Free time is then working time minus breaks, in real (UTC) time.
// * Slot starts are the local times start, start + slot, start + 2 slots, ... of each working
//   interval. A start that does not exist locally yields no slot; a repeated one yields one slot, at
//   its first occurrence. A slot lasts its duration in real elapsed time and must lie in free time.
// * Busy time (other appointments, each with the provider's buffer after it) must not overlap the
//   new slot plus its own buffer; rooms must be free during the slot itself.
import type { MinuteInterval, DateRange } from "./scheduling.validation.js";
import { addDays, firstInstantAtOrAfterWall, instantOfWall, isoDayOfWeek, localDateOf, offsetMs, wallOfDate, WALL } from "./zone-time.js";

/** Interval is a half-open span of UTC milliseconds [start, end). */
export interface Interval {
  /** start, inclusive. */
  start: number;
  /** end, exclusive. */
  end: number;
}

/** Schedule is a provider's availability as the engine needs it. */
export interface Schedule {
  /** timeZone is the provider's IANA zone. */
  timeZone: string;
  /** weeklyHours per ISO weekday, minutes after local midnight. */
  weeklyHours: MinuteInterval[];
  /** breaks per ISO weekday. */
  breaks: MinuteInterval[];
  /** exceptions are whole local dates without availability. */
  exceptions: DateRange[];
  /** slotMs is the slot length. */
  slotMs: number;
  /** bufferMs is kept free after every appointment. */
  bufferMs: number;
}

/** SlotQuery asks for slots of one length in a range. */
export interface SlotQuery {
  /** range: slots must start at or after range.start and end at or before range.end. */
  range: Interval;
  /** durationMs is the appointment length, a multiple of the slot length. */
  durationMs: number;
  /** providerBusy are the provider's active appointments, each extended by its buffer. */
  providerBusy?: Interval[];
  /** resourceBusy are the active bookings of the rooms and devices that must be free too. */
  resourceBusy?: Interval[];
}

function isExcepted(date: string, exceptions: DateRange[]): boolean {
  return exceptions.some((e) => e.startDate <= date && date <= e.endDate);
}

function toUtc(date: string, minute: number, timeZone: string): number {
  return firstInstantAtOrAfterWall(wallOfDate(date) + minute * WALL.MINUTE_MS, timeZone);
}

/**
 * fixedOffset is the zone's offset during a whole local date when it does not change then, else
 * undefined. Every instant whose local date is `date` lies between (midnight - 14 h) and
 * (midnight + 38 h) read as UTC (offsets stay within -12 h..+14 h), and switches are months apart: the
 * same offset at both ends means one offset all along, and wall times convert by subtraction.
 */
function fixedOffset(date: string, timeZone: string): number | undefined {
  const midnight = wallOfDate(date);
  const a = offsetMs(midnight - 14 * 60 * WALL.MINUTE_MS, timeZone);
  return a === offsetMs(midnight + 38 * 60 * WALL.MINUTE_MS, timeZone) ? a : undefined;
}

/** subtract removes `cut` from sorted disjoint intervals. */
function subtract(free: Interval[], cut: Interval): Interval[] {
  const out: Interval[] = [];
  for (const f of free) {
    if (cut.end <= f.start || cut.start >= f.end) {
      out.push(f);
      continue;
    }
    if (f.start < cut.start) out.push({ start: f.start, end: cut.start });
    if (cut.end < f.end) out.push({ start: cut.end, end: f.end });
  }
  return out;
}

/** sortedMerged sorts intervals and merges overlapping ones, for binary search. */
function sortedMerged(list: Interval[]): Interval[] {
  const sorted = list.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/** overlapsAny tells whether [start, end) overlaps one of the sorted merged intervals. */
function overlapsAny(sorted: Interval[], start: number, end: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  // First interval whose end is after start.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo].start < end;
}

/** CandidateDay is one local date's free working time and slot starts. */
interface CandidateDay {
  date: string;
  free: Interval[];
  starts: number[];
}

/**
 * candidateDays lists, for every local date whose working time may touch [from, to), the free working
 * time in UTC (working intervals minus breaks) and the UTC slot starts (existing local times only,
 * first occurrence of repeated ones).
 */
function candidateDays(schedule: Schedule, from: number, to: number): CandidateDay[] {
  const days: CandidateDay[] = [];
  const first = addDays(localDateOf(from, schedule.timeZone), -1);
  const last = addDays(localDateOf(to, schedule.timeZone), 1);
  const slotMin = Math.round(schedule.slotMs / WALL.MINUTE_MS);
  for (let date = first; date <= last; date = addDays(date, 1)) {
    if (isExcepted(date, schedule.exceptions)) continue;
    const dow = isoDayOfWeek(date);
    const hours = schedule.weeklyHours.filter((w) => w.dayOfWeek === dow);
    if (hours.length === 0) continue;
    // The common case, a date without a switch, converts by subtraction; the rest asks the zone.
    const fixed = fixedOffset(date, schedule.timeZone);
    const midnight = wallOfDate(date);
    const at = (minute: number) => (fixed !== undefined ? midnight + minute * WALL.MINUTE_MS - fixed : toUtc(date, minute, schedule.timeZone));
    let free: Interval[] = hours.map((w) => ({ start: at(w.startMinute), end: at(w.endMinute) }));
    for (const b of schedule.breaks.filter((x) => x.dayOfWeek === dow)) {
      free = subtract(free, { start: at(b.startMinute), end: at(b.endMinute) });
    }
    const starts: number[] = [];
    for (const w of hours) {
      for (let m = w.startMinute; m + slotMin <= w.endMinute; m += slotMin) {
        const instant = fixed !== undefined ? midnight + m * WALL.MINUTE_MS - fixed : instantOfWall(midnight + m * WALL.MINUTE_MS, schedule.timeZone);
        if (instant !== undefined) starts.push(instant);
      }
    }
    days.push({ date, free: sortedMerged(free), starts });
  }
  return days;
}

/**
 * listSlots lists the bookable slots of a schedule in a range, in time order: each starts at a slot
 * start that exists in local time, lasts durationMs of real time inside free working time, and
 * (with its buffer) overlaps no busy time.
 */
export function listSlots(schedule: Schedule, query: SlotQuery): Interval[] {
  if (schedule.weeklyHours.length === 0 || schedule.slotMs <= 0 || query.durationMs <= 0) return [];
  const providerBusy = sortedMerged(query.providerBusy ?? []);
  const resourceBusy = sortedMerged(query.resourceBusy ?? []);
  const seen = new Set<number>();
  const out: Interval[] = [];
  for (const day of candidateDays(schedule, query.range.start, query.range.end)) {
    for (const start of day.starts) {
      const end = start + query.durationMs;
      if (start < query.range.start || end > query.range.end || seen.has(start)) continue;
      // The whole slot inside one free stretch of this date's working time.
      if (!day.free.some((f) => f.start <= start && end <= f.end)) continue;
      if (overlapsAny(providerBusy, start, end + schedule.bufferMs)) continue;
      if (overlapsAny(resourceBusy, start, end)) continue;
      seen.add(start);
      out.push({ start, end });
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * isSlotStart tells whether an appointment of durationMs starting at `start` fits the schedule (slot
 * start, free working time, no break or exception), ignoring busy time: the booking check before the
 * database's exclusion constraints decide about other appointments.
 */
export function isSlotStart(schedule: Schedule, start: number, durationMs: number): boolean {
  return listSlots(schedule, { range: { start, end: start + durationMs }, durationMs }).some((s) => s.start === start);
}
