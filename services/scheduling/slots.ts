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
// * Free time is one stretch wherever working time continues without a gap, across midnight too: a
//   provider working until 24:00 and again from 00:00 the next day (a night clinic) can take a visit
//   from 23:45 to 00:15. A stretch ends at an exception date or a day without hours at midnight, as
//   it ends at a break. Merging touching UTC intervals keeps invariant 8 (each day's boundaries are
//   converted on their own date first) and cannot make two appointments overlap (the database's
//   exclusion constraints decide that, whatever the engine offers).
// * Busy time (other appointments, each with the provider's buffer after it) must not overlap the
//   new slot plus its own buffer; rooms must be free during the slot itself.
// * Locations: each weekly-hours entry is worked at a location (its own, or the provider's). Free time
//   is kept per location, so a visit never runs from one location's hours into another's, and a
//   location's closures cut out its whole local dates, midnight to midnight in the LOCATION's zone
//   (which may differ from the provider's): a closure removes every slot there on those dates.
import type { MinuteInterval, DateRange } from "./availability.validation.js";
import { addDays, dateOfWall, firstInstantAtOrAfterWall, instantOfWall, isoDayOfWeek, localDateOf, offsetMs, wallOf, wallOfDate, WALL } from "./zone-time.js";

/** Interval is a half-open span of UTC milliseconds [start, end). */
export interface Interval {
  /** start, inclusive. */
  start: number;
  /** end, exclusive. */
  end: number;
}

/** ScheduleLocation is a location weekly hours are worked at, as the engine needs it. */
export interface ScheduleLocation {
  /** displayName is the location's name, for messages. */
  displayName: string;
  /** timeZone is the location's IANA zone: its closures are whole dates there. */
  timeZone: string;
  /** closures are whole local dates the location is closed. */
  closures: DateRange[];
}

/** LocationClosed is a location's closure met by an appointment's time (closureAt). */
export interface LocationClosed {
  /** locationName is the location's display name. */
  locationName: string;
  /** timeZone is the location's zone, in which localDate is a date. */
  timeZone: string;
  /** localDate is the first closed local date the appointment would touch, "YYYY-MM-DD". */
  localDate: string;
  /** closure is the closure met. */
  closure: DateRange;
}

/** Schedule is a provider's availability as the engine needs it. */
export interface Schedule {
  /** timeZone is the provider's IANA zone: weekly hours, breaks and exceptions are in it. */
  timeZone: string;
  /** locationId is the provider's own location, where weekly hours naming none are worked (absent: unnamed). */
  locationId?: string;
  /** locations are the locations of the weekly hours by id, with their zones and closures (one absent has no closures). */
  locations?: Record<string, ScheduleLocation>;
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
  /** bufferBeforeMs is kept free of providerBusy before each slot (a visit type's buffer before); 0 when unset. */
  bufferBeforeMs?: number;
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

/** subtract removes `cut` from sorted disjoint intervals (keeping what else each carries). */
function subtract<T extends Interval>(free: T[], cut: Interval): T[] {
  const out: T[] = [];
  for (const f of free) {
    if (cut.end <= f.start || cut.start >= f.end) {
      out.push(f);
      continue;
    }
    if (f.start < cut.start) out.push({ ...f, start: f.start, end: cut.start });
    if (cut.end < f.end) out.push({ ...f, start: cut.end, end: f.end });
  }
  return out;
}

/** sortedMerged sorts intervals and merges overlapping ones, for binary search. */
export function sortedMerged(list: Interval[]): Interval[] {
  const sorted = list.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/** containedIn tells whether [start, end) lies inside one of the sorted merged intervals. */
function containedIn(sorted: Interval[], start: number, end: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  // First interval whose end is after start.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo].start <= start && end <= sorted[lo].end;
}

/** overlapsAny tells whether [start, end) overlaps one of the sorted merged intervals. */
export function overlapsAny(sorted: Interval[], start: number, end: number): boolean {
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

/** Located is an instant or interval at a location (`loc`: the location id, "" for the provider's unnamed one). */
type Located<T> = T & { loc: string };

/** DayPlan is one local date's working time as instants: the free stretches (hours minus breaks), the slot starts, and each break, each at its location. */
interface DayPlan {
  date: string;
  free: Located<Interval>[];
  starts: Located<{ at: number }>[];
  /** breaks of the date with their instants, in order. */
  breaks: { interval: MinuteInterval; start: number; end: number }[];
}

/**
 * planDay is one local date's plan: the free working time in UTC (working intervals minus breaks)
 * and the UTC slot starts (existing local times only, first occurrence of repeated ones); undefined
 * on an exception date or a date without hours.
 */
function planDay(schedule: Schedule, date: string): DayPlan | undefined {
  if (isExcepted(date, schedule.exceptions)) return undefined;
  const dow = isoDayOfWeek(date);
  const hours = schedule.weeklyHours.filter((w) => w.dayOfWeek === dow);
  if (hours.length === 0) return undefined;
  const slotMin = Math.round(schedule.slotMs / WALL.MINUTE_MS);
  // The common case, a date without a switch, converts by subtraction; the rest asks the zone.
  const fixed = fixedOffset(date, schedule.timeZone);
  const midnight = wallOfDate(date);
  const at = (minute: number) => (fixed !== undefined ? midnight + minute * WALL.MINUTE_MS - fixed : toUtc(date, minute, schedule.timeZone));
  let free: Located<Interval>[] = hours.map((w) => ({ start: at(w.startMinute), end: at(w.endMinute), loc: locationOf(schedule, w) }));
  const breaks = schedule.breaks.filter((x) => x.dayOfWeek === dow).map((b) => ({ interval: b, start: at(b.startMinute), end: at(b.endMinute) }));
  for (const b of breaks) free = subtract(free, b);
  const starts: Located<{ at: number }>[] = [];
  for (const w of hours) {
    const loc = locationOf(schedule, w);
    for (let m = w.startMinute; m + slotMin <= w.endMinute; m += slotMin) {
      const instant = fixed !== undefined ? midnight + m * WALL.MINUTE_MS - fixed : instantOfWall(midnight + m * WALL.MINUTE_MS, schedule.timeZone);
      if (instant !== undefined) starts.push({ at: instant, loc });
    }
  }
  return { date, free, starts, breaks: breaks.sort((a, b) => a.start - b.start) };
}

/** locationOf is the location a weekly-hours entry is worked at ("" when neither it nor the schedule names one). */
function locationOf(schedule: Schedule, w: MinuteInterval): string {
  return w.locationId ?? schedule.locationId ?? "";
}

/** closedIntervals are the closures of location `loc` touching [from, to), each as the instants of its whole local dates in the location's zone. */
function closedIntervals(schedule: Schedule, loc: string, from: number, to: number): (Interval & { closure: DateRange })[] {
  const l = schedule.locations?.[loc];
  if (!l || l.closures.length === 0) return [];
  const first = localDateOf(from, l.timeZone);
  const last = localDateOf(to, l.timeZone);
  return l.closures
    .filter((c) => c.endDate >= first && c.startDate <= last)
    .map((c) => ({ start: toUtc(c.startDate, 0, l.timeZone), end: toUtc(addDays(c.endDate, 1), 0, l.timeZone), closure: c }));
}

/**
 * freeByLocation is these dates' free working time per location, sorted and merged (stretches that
 * touch at midnight are one), without the dates the location is closed.
 */
function freeByLocation(schedule: Schedule, days: DayPlan[]): Map<string, Interval[]> {
  const byLoc = new Map<string, Interval[]>();
  for (const f of days.flatMap((d) => d.free)) {
    const list = byLoc.get(f.loc);
    if (list) list.push(f);
    else byLoc.set(f.loc, [f]);
  }
  for (const [loc, list] of byLoc) {
    let free = sortedMerged(list);
    if (free.length > 0) for (const c of closedIntervals(schedule, loc, free[0].start, free[free.length - 1].end)) free = subtract(free, c);
    byLoc.set(loc, free);
  }
  return byLoc;
}

/** entryAt is the weekly-hours entry whose local time (the provider's zone) contains the instant, if any. */
function entryAt(schedule: Schedule, start: number): MinuteInterval | undefined {
  const wall = wallOf(start, schedule.timeZone);
  const date = dateOfWall(wall);
  const minute = (wall - wallOfDate(date)) / WALL.MINUTE_MS;
  return schedule.weeklyHours.find((w) => w.dayOfWeek === isoDayOfWeek(date) && w.startMinute <= minute && minute < w.endMinute);
}

/** locationAt is the location of the weekly hours an appointment starting at `start` is in: where the visit takes place (undefined outside hours or unnamed). */
export function locationAt(schedule: Schedule, start: number): string | undefined {
  const w = entryAt(schedule, start);
  const loc = w && locationOf(schedule, w);
  return loc === "" ? undefined : loc;
}

/**
 * closureAt tells whether an appointment of durationMs starting at `start` meets a closure of the
 * location of the weekly hours it starts in, and which: the location, its first closed local date the
 * time touches (in the location's zone) and the closure.
 */
export function closureAt(schedule: Schedule, start: number, durationMs: number): LocationClosed | undefined {
  const w = entryAt(schedule, start);
  const loc = w && locationOf(schedule, w);
  const l = loc === undefined ? undefined : schedule.locations?.[loc];
  if (loc === undefined || !l) return undefined;
  const hit = closedIntervals(schedule, loc, start, start + durationMs).find((c) => c.start < start + durationMs && start < c.end);
  if (!hit) return undefined;
  return { locationName: l.displayName, timeZone: l.timeZone, localDate: localDateOf(Math.max(start, hit.start), l.timeZone), closure: hit.closure };
}

/**
 * candidateDays lists the plan of every local date whose working time may touch [from, to).
 */
function candidateDays(schedule: Schedule, from: number, to: number): DayPlan[] {
  const days: DayPlan[] = [];
  const first = addDays(localDateOf(from, schedule.timeZone), -1);
  const last = addDays(localDateOf(to, schedule.timeZone), 1);
  for (let date = first; date <= last; date = addDays(date, 1)) {
    const day = planDay(schedule, date);
    if (day) days.push(day);
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
  const days = candidateDays(schedule, query.range.start, query.range.end);
  // Free time of all these dates per location: stretches that touch at midnight are one.
  const free = freeByLocation(schedule, days);
  const seen = new Set<number>();
  const out: Interval[] = [];
  for (const day of days) {
    for (const { at: start, loc } of day.starts) {
      const end = start + query.durationMs;
      if (start < query.range.start || end > query.range.end || seen.has(start)) continue;
      // The whole slot inside one free stretch of working time at its location.
      if (!containedIn(free.get(loc) ?? [], start, end)) continue;
      if (overlapsAny(providerBusy, start - (query.bufferBeforeMs ?? 0), end + schedule.bufferMs)) continue;
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

/**
 * SlotVerdict says whether an appointment of a given length may start at an instant, and when not,
 * the one reason why (each with what a message needs; local times as minutes after local midnight of
 * `date`, the local date of the start in the schedule's zone):
 * * ON_EXCEPTION: the date lies in an availability exception (closed that day);
 * * OUTSIDE_WORKING_HOURS: no working interval of that weekday contains the start (`hours` lists the
 *   day's intervals, empty when the provider does not work that weekday);
 * * IN_BREAK: the start lies in a break;
 * * NOT_ON_SLOT_BOUNDARY: the start is not on the slot grid of its working interval; `before` and
 *   `after` are the nearest starts that day where an appointment of this length fits (busy time aside);
 * * REPEATED_LOCAL_TIME: the start is the second occurrence of a local time that happens twice (the
 *   clocks went back); slots start at the first one, `firstOccurrence`;
 * * ENDS_AFTER_WORKING_HOURS: the start is fine but the appointment would end after the stretch of
 *   working time it starts in (`freeEnd`; a stretch that reaches midnight goes on into the next
 *   date's working time when that starts at midnight);
 * * RUNS_INTO_BREAK: it would run into a break;
 * * NOT_A_SLOT: none of the above applies, yet the engine offers no such slot (not expected; a
 *   safety net so that the verdict never claims more than listSlots).
 * An instant always has a local time, so a local time skipped by a spring-forward gap cannot be
 * asked for; such times simply have no slot (listSlots). A closure of the location is closureAt's
 * to tell (ask it first): here it only shortens free time.
 */
export type SlotVerdict =
  | { kind: "SLOT" }
  | { kind: "ON_EXCEPTION"; date: string; exception: DateRange }
  | { kind: "OUTSIDE_WORKING_HOURS"; date: string; hours: MinuteInterval[] }
  | { kind: "IN_BREAK"; date: string; break: MinuteInterval }
  | { kind: "NOT_ON_SLOT_BOUNDARY"; date: string; before: number | undefined; after: number | undefined }
  | { kind: "REPEATED_LOCAL_TIME"; date: string; firstOccurrence: number }
  | { kind: "ENDS_AFTER_WORKING_HOURS"; date: string; end: number; freeEnd: number }
  | { kind: "RUNS_INTO_BREAK"; date: string; end: number; break: MinuteInterval }
  | { kind: "NOT_A_SLOT"; date: string };

/**
 * explainSlotStart is isSlotStart with the reason: SLOT exactly when isSlotStart is true (busy time
 * aside), otherwise the first cause that applies, checked in the order a receptionist thinks of them
 * (closed that day, not working then, on a break, not a start time, too long).
 */
export function explainSlotStart(schedule: Schedule, start: number, durationMs: number): SlotVerdict {
  const wall = wallOf(start, schedule.timeZone);
  const date = dateOfWall(wall);
  const exception = schedule.exceptions.find((e) => e.startDate <= date && date <= e.endDate);
  if (exception) return { kind: "ON_EXCEPTION", date, exception };
  const dow = isoDayOfWeek(date);
  const hours = schedule.weeklyHours.filter((w) => w.dayOfWeek === dow).sort((a, b) => a.startMinute - b.startMinute);
  const minute = (wall - wallOfDate(date)) / WALL.MINUTE_MS;
  const within = hours.find((w) => w.startMinute <= minute && minute < w.endMinute);
  if (!within) return { kind: "OUTSIDE_WORKING_HOURS", date, hours };
  const inBreak = schedule.breaks.find((b) => b.dayOfWeek === dow && b.startMinute <= minute && minute < b.endMinute);
  if (inBreak) return { kind: "IN_BREAK", date, break: inBreak };
  const plan = planDay(schedule, date);
  const slotMin = schedule.slotMs / WALL.MINUTE_MS;
  if (!plan || schedule.slotMs <= 0) return { kind: "NOT_A_SLOT", date };
  // The same free time listSlots judges by: these dates' stretches at the location, merged across midnight.
  const days = candidateDays(schedule, start, start + durationMs);
  const byLoc = freeByLocation(schedule, days);
  const free = byLoc.get(locationOf(schedule, within)) ?? [];
  if (!Number.isInteger(minute) || (minute - within.startMinute) % slotMin !== 0) {
    const fits = fittingStarts(plan, byLoc, durationMs);
    return { kind: "NOT_ON_SLOT_BOUNDARY", date, before: fits.filter((s) => s < start).pop(), after: fits.find((s) => s > start) };
  }
  const first = instantOfWall(wall, schedule.timeZone);
  if (first !== undefined && first !== start) return { kind: "REPEATED_LOCAL_TIME", date, firstOccurrence: first };
  const end = start + durationMs;
  const stretch = free.find((f) => f.start <= start && start < f.end);
  if (!stretch) return { kind: "NOT_A_SLOT", date };
  if (end > stretch.end) {
    const next = days.flatMap((d) => d.breaks).find((b) => b.start === stretch.end);
    if (next) return { kind: "RUNS_INTO_BREAK", date, end, break: next.interval };
    return { kind: "ENDS_AFTER_WORKING_HOURS", date, end, freeEnd: stretch.end };
  }
  return plan.starts.some((s) => s.at === start) ? { kind: "SLOT" } : { kind: "NOT_A_SLOT", date };
}

/** fittingStarts are a day's slot starts where an appointment of durationMs fits in free time at their location (`free`, sorted and merged), in order. */
function fittingStarts(plan: DayPlan, free: Map<string, Interval[]>, durationMs: number): number[] {
  const fits = plan.starts.filter((s) => containedIn(free.get(s.loc) ?? [], s.at, s.at + durationMs)).map((s) => s.at);
  return [...new Set(fits)].sort((a, b) => a - b);
}
