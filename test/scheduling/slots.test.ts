// The slot engine alone (no database): DESIGN.md invariant 8 at the DST switches of New York and
// Lord Howe, fixed-offset Istanbul, and a seeded property test over random schedules, zones and
// dates, every slot checked against the schedule with an independent minute-by-minute walk; then
// explainSlotStart: the one reason a start is refused, agreeing with isSlotStart everywhere.
import t from "tap";
import { closureAt, explainSlotStart, listSlots, isSlotStart, locationAt, type Interval, type Schedule, type SlotVerdict } from "../../services/scheduling/slots.js";
import type { MinuteInterval } from "../../services/scheduling/availability.validation.js";
import { instantsOfWall, wallOf, wallOfDate, localDateOf, isoDayOfWeek, addDays, firstInstantAtOrAfterWall } from "../../services/scheduling/zone-time.js";
import { seededRandom as prng } from "../helpers/seeded-random.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const everyDay = (start: number, end: number): MinuteInterval[] => [1, 2, 3, 4, 5, 6, 7].map((d) => ({ dayOfWeek: d as never, startMinute: start, endMinute: end }));

function schedule(timeZone: string, hours: MinuteInterval[], extra: Partial<Schedule> = {}): Schedule {
  return { timeZone, weeklyHours: hours, breaks: [], exceptions: [], slotMs: 30 * MIN, bufferMs: 0, ...extra };
}

function localTimes(slots: Interval[], zone: string): string[] {
  return slots.map((s) => new Date(wallOf(s.start, zone)).toISOString().slice(11, 16));
}

function dayRange(date: string, zone: string): Interval {
  return { start: firstInstantAtOrAfterWall(wallOfDate(date), zone), end: firstInstantAtOrAfterWall(wallOfDate(addDays(date, 1)), zone) };
}

t.test("zone math: gaps have no instant, overlaps two, first occurrence first", async (t) => {
  const ny = "America/New_York";
  t.same(instantsOfWall(Date.UTC(2026, 2, 8, 2, 30), ny), [], "02:30 on 2026-03-08 does not exist in New York");
  t.same(instantsOfWall(Date.UTC(2026, 10, 1, 1, 30), ny), [Date.UTC(2026, 10, 1, 5, 30), Date.UTC(2026, 10, 1, 6, 30)], "01:30 on 2026-11-01 happens twice");
  t.equal(firstInstantAtOrAfterWall(Date.UTC(2026, 2, 8, 2, 30), ny), Date.UTC(2026, 2, 8, 7, 0), "a time in the gap maps to the end of the gap");
  t.same(instantsOfWall(Date.UTC(2026, 9, 4, 2, 15), "Australia/Lord_Howe"), [], "Lord Howe's 30-minute gap");
  t.equal(instantsOfWall(Date.UTC(2026, 3, 5, 1, 45), "Australia/Lord_Howe").length, 2, "Lord Howe's 30-minute overlap");
  t.equal(instantsOfWall(Date.UTC(2026, 6, 1, 9, 0), "Europe/Istanbul")[0], Date.UTC(2026, 6, 1, 6, 0), "Istanbul is UTC+3 all year");
});

t.test("New York spring forward: nonexistent local times yield no slot, durations are real time", async (t) => {
  const zone = "America/New_York";
  const s = schedule(zone, everyDay(0, 6 * 60));
  const slots = listSlots(s, { range: dayRange("2026-03-08", zone), durationMs: 30 * MIN });
  t.same(localTimes(slots, zone), ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00", "04:30", "05:00", "05:30"]);
  const half = slots.find((x) => localTimes([x], zone)[0] === "01:30")!;
  t.equal(half.end - half.start, 30 * MIN, "01:30 EST lasts 30 real minutes, ending at 03:00 EDT");
});

t.test("New York fall back: the repeated hour yields its slots once, at the first occurrence", async (t) => {
  const zone = "America/New_York";
  const s = schedule(zone, everyDay(0, 4 * 60));
  const slots = listSlots(s, { range: dayRange("2026-11-01", zone), durationMs: 30 * MIN });
  t.same(localTimes(slots, zone), ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]);
  t.equal(slots[2].start, Date.UTC(2026, 10, 1, 5, 0), "01:00 is the EDT one (05:00Z), not the EST one");
  t.equal(new Set(slots.map((x) => x.start)).size, slots.length, "no slot twice");
  // A 60-minute appointment from 01:30 EDT lasts 60 real minutes: it ends at 01:30 EST.
  const long = listSlots(s, { range: dayRange("2026-11-01", zone), durationMs: 60 * MIN });
  const at130 = long.find((x) => x.start === Date.UTC(2026, 10, 1, 5, 30));
  t.ok(at130, "01:30 EDT for 60 min is offered");
  t.equal(at130!.end, Date.UTC(2026, 10, 1, 6, 30));
});

t.test("Lord Howe's 30-minute shifts", async (t) => {
  const zone = "Australia/Lord_Howe";
  const s = schedule(zone, everyDay(60, 4 * 60), { slotMs: 15 * MIN });
  const spring = listSlots(s, { range: dayRange("2026-10-04", zone), durationMs: 15 * MIN });
  const times = localTimes(spring, zone);
  t.notOk(times.includes("02:00") || times.includes("02:15"), "02:00 and 02:15 do not exist on 2026-10-04");
  t.equal(spring.length, 12 - 2);
  const autumn = listSlots(s, { range: dayRange("2026-04-05", zone), durationMs: 15 * MIN });
  t.equal(autumn.length, 12, "01:30-02:00 happens twice but is offered once");
  t.equal(new Set(autumn.map((x) => x.start)).size, 12);
});

t.test("breaks, exceptions, buffers and busy time", async (t) => {
  const zone = "Europe/Istanbul";
  const s = schedule(zone, everyDay(9 * 60, 12 * 60), {
    breaks: [3].map((d) => ({ dayOfWeek: d as never, startMinute: 10 * 60, endMinute: 10 * 60 + 30 })),
    exceptions: [{ startDate: "2026-07-02", endDate: "2026-07-02", reason: "holiday" }],
    bufferMs: 10 * MIN,
  });
  // 2026-07-01 is a Wednesday (ISO 3): break 10:00-10:30.
  const wed = listSlots(s, { range: dayRange("2026-07-01", zone), durationMs: 30 * MIN });
  t.same(localTimes(wed, zone), ["09:00", "09:30", "10:30", "11:00", "11:30"]);
  t.same(listSlots(s, { range: dayRange("2026-07-02", zone), durationMs: 30 * MIN }), [], "exception date has no slots");
  // Busy 09:30-10:00 local plus 10 min buffer (06:30Z-07:10Z): 09:00 (+ its buffer to 09:40), 09:30 and 10:00 go.
  const busy = [{ start: Date.UTC(2026, 6, 3, 6, 30), end: Date.UTC(2026, 6, 3, 7, 10) }];
  const fri = listSlots(s, { range: dayRange("2026-07-03", zone), durationMs: 30 * MIN, providerBusy: busy });
  t.same(localTimes(fri, zone), ["10:30", "11:00", "11:30"]);
  const rooms = listSlots(s, { range: dayRange("2026-07-03", zone), durationMs: 60 * MIN, resourceBusy: [{ start: Date.UTC(2026, 6, 3, 7, 0), end: Date.UTC(2026, 6, 3, 7, 30) }] });
  t.same(localTimes(rooms, zone), ["09:00", "10:30", "11:00"], "60-min slots avoid the room's booking 10:00-10:30");
  t.ok(isSlotStart(s, Date.UTC(2026, 6, 3, 6, 0), 30 * MIN), "09:00 Friday is a slot start");
  t.notOk(isSlotStart(s, Date.UTC(2026, 6, 3, 6, 10), 30 * MIN), "09:10 is not on a slot boundary");
  t.notOk(isSlotStart(s, Date.UTC(2026, 6, 1, 7, 0), 30 * MIN), "10:00 Wednesday is in the break");
  t.notOk(isSlotStart(s, Date.UTC(2026, 6, 3, 8, 45), 30 * MIN), "11:45 runs past the end of hours");
});

t.test("24:00 ends the day at the next midnight", async (t) => {
  const zone = "America/New_York";
  const s = schedule(zone, everyDay(22 * 60, 24 * 60), { slotMs: 60 * MIN });
  t.same(localTimes(listSlots(s, { range: dayRange("2026-06-10", zone), durationMs: 60 * MIN }), zone), ["22:00", "23:00"]);
});

t.test("working time that runs through midnight takes a visit across it; a gap, a day off or an exception at midnight ends it", async (t) => {
  const zone = "Europe/Istanbul";
  const at = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00+03:00`);
  // 2026-07-01 is a Wednesday. Open all day every day, 15-minute slots.
  const allDay = schedule(zone, everyDay(0, 24 * 60), { slotMs: 15 * MIN });
  t.ok(isSlotStart(allDay, at("2026-07-01", "23:45"), 30 * MIN), "23:45 + 30 min on a provider open 00:00-24:00");
  t.same(explainSlotStart(allDay, at("2026-07-01", "23:45"), 30 * MIN), { kind: "SLOT" });
  const night = listSlots(allDay, { range: { start: at("2026-07-01", "23:00"), end: at("2026-07-02", "01:00") }, durationMs: 60 * MIN });
  t.same(localTimes(night, zone), ["23:00", "23:15", "23:30", "23:45", "00:00"], "hour-long visits through midnight");
  // A night shift: 20:00-24:00 and 00:00-06:00.
  const shift = schedule(zone, [1, 2, 3, 4, 5, 6, 7].flatMap((d) => [{ dayOfWeek: d as never, startMinute: 20 * 60, endMinute: 24 * 60 }, { dayOfWeek: d as never, startMinute: 0, endMinute: 6 * 60 }]));
  t.ok(isSlotStart(shift, at("2026-07-01", "23:30"), 60 * MIN), "23:30 for an hour on a night shift");
  // The next day off, excepted, or starting later: the visit ends after working hours.
  const dayOff = schedule(zone, [{ dayOfWeek: 3 as never, startMinute: 0, endMinute: 24 * 60 }], { slotMs: 15 * MIN });
  t.same(explainSlotStart(dayOff, at("2026-07-01", "23:45"), 30 * MIN), { kind: "ENDS_AFTER_WORKING_HOURS", date: "2026-07-01", end: at("2026-07-02", "00:15"), freeEnd: at("2026-07-02", "00:00") }, "Thursday off");
  const excepted = { ...allDay, exceptions: [{ startDate: "2026-07-02", endDate: "2026-07-02", reason: "" }] };
  t.notOk(isSlotStart(excepted, at("2026-07-01", "23:45"), 30 * MIN), "the next day is an exception");
  t.equal(explainSlotStart(excepted, at("2026-07-01", "23:45"), 30 * MIN).kind, "ENDS_AFTER_WORKING_HOURS");
  const lateStart = schedule(zone, everyDay(60, 24 * 60), { slotMs: 15 * MIN });
  t.notOk(isSlotStart(lateStart, at("2026-07-01", "23:45"), 30 * MIN), "the next day starts at 01:00");
  const breakAtMidnight = { ...allDay, breaks: [1, 2, 3, 4, 5, 6, 7].map((d) => ({ dayOfWeek: d as never, startMinute: 0, endMinute: 30 })) };
  t.same(explainSlotStart(breakAtMidnight, at("2026-07-01", "23:45"), 30 * MIN), { kind: "RUNS_INTO_BREAK", date: "2026-07-01", end: at("2026-07-02", "00:15"), break: breakAtMidnight.breaks[3] }, "a break from midnight");
});

// ---- property test ------------------------------------------------------------------------------

const ZONES = ["Europe/Istanbul", "America/New_York", "Australia/Lord_Howe", "Europe/London", "Asia/Kolkata", "Pacific/Chatham", "UTC"];
// Dates around switches: New York 2026-03-08 / 2026-11-01, Lord Howe 2026-04-05 / 2026-10-04, London 2026-03-29 / 2026-10-25.
const CENTRES = ["2026-03-08", "2026-11-01", "2026-04-05", "2026-10-04", "2026-03-29", "2026-10-25", "2026-07-15", "2026-01-20"];

function minuteOfWall(wall: number): number {
  return Math.round((wall - wallOfDate(new Date(wall).toISOString().slice(0, 10))) / MIN);
}

/**
 * workingAt: instant x is working time of `s`, by the rule of DESIGN.md invariant 8 stated directly:
 * each date's intervals and breaks span, in real time, from the first instant at or after their local
 * start to the first instant at or after their local end; x is working when it lies in an interval
 * of a date that is no exception and in no break of that date. With `endOk` x may be an interval's
 * end. (A repeated hour is thus working time in both passes when its interval covers it, and a break
 * in it blocks the first pass: durations are real elapsed time.)
 */
function workingAt(s: Schedule, x: number, endOk: boolean): boolean {
  const date = localDateOf(x, s.timeZone);
  return [addDays(date, -1), date, addDays(date, 1)].some((d) => {
    if (s.exceptions.some((e) => e.startDate <= d && d <= e.endDate)) return false;
    const dow = isoDayOfWeek(d);
    const f = (minute: number) => firstInstantAtOrAfterWall(wallOfDate(d) + minute * MIN, s.timeZone);
    const inHours = s.weeklyHours.some((w) => w.dayOfWeek === dow && f(w.startMinute) <= x && (endOk ? x <= f(w.endMinute) : x < f(w.endMinute)));
    return inHours && (endOk || !s.breaks.some((b) => b.dayOfWeek === dow && f(b.startMinute) <= x && x < f(b.endMinute)));
  });
}

/** contains: the local wall time of instant x, on `date`, lies in one of `intervals` (end exclusive unless `endOk`). */
function inIntervals(x: number, date: string, zone: string, intervals: MinuteInterval[], endOk: boolean): boolean {
  const wall = wallOf(x, zone);
  const d = new Date(wall).toISOString().slice(0, 10);
  const m = d === date ? minuteOfWall(wall) : d === addDays(date, 1) && minuteOfWall(wall) === 0 ? 1440 : -1;
  return intervals.some((w) => w.startMinute <= m && (endOk ? m <= w.endMinute : m < w.endMinute));
}


/**
 * randomSchedule draws a schedule from `rnd` in a zone of ZONES around a date of CENTRES: hours
 * anywhere in the day, including the small hours where switches happen, often from midnight, and
 * often an evening interval to 24:00 (so that working time runs through midnight); breaks with
 * `breakChance`, sometimes a date exception, and a buffer drawn too when `buffers`.
 */
function randomSchedule(rnd: () => number, opts: { breakChance: number; buffers: boolean }): { centre: string; schedule: Schedule } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const zone = pick(ZONES);
  const slotMin = pick([10, 15, 20, 30, 45, 60]);
  const weeklyHours: MinuteInterval[] = [];
  const breaks: MinuteInterval[] = [];
  for (let d = 1; d <= 7; d++) {
    if (rnd() < 0.15) continue;
    const start = rnd() < 0.3 ? 0 : Math.floor(rnd() * 16) * 30;
    const end = Math.min(1440, start + 60 + Math.floor(rnd() * 20) * 30);
    weeklyHours.push({ dayOfWeek: d as never, startMinute: start, endMinute: end });
    if (rnd() < 0.4) weeklyHours.push({ dayOfWeek: d as never, startMinute: 1440 - (2 + Math.floor(rnd() * 6)) * 30, endMinute: 1440 });
    if (rnd() < opts.breakChance && end - start >= 120) {
      const bs = start + 30 + Math.floor(rnd() * ((end - start - 90) / 15)) * 15;
      breaks.push({ dayOfWeek: d as never, startMinute: bs, endMinute: bs + 30 });
    }
  }
  const centre = pick(CENTRES);
  const exceptions = rnd() < 0.3 ? [{ startDate: addDays(centre, 1), endDate: addDays(centre, 1 + Math.floor(rnd() * 2)), reason: "" }] : [];
  const bufferMs = opts.buffers ? pick([0, 0, 5, 10, 15]) * MIN : 0;
  return { centre, schedule: { timeZone: zone, weeklyHours, breaks, exceptions, slotMs: slotMin * MIN, bufferMs } };
}

t.test("property: every slot follows the schedule and invariant 8", async (t) => {
  const rnd = prng(20261123);
  let checked = 0;
  let acrossMidnight = 0;
  for (let run = 0; run < 250; run++) {
    const { centre, schedule: s } = randomSchedule(rnd, { breakChance: 0.5, buffers: true });
    const { timeZone: zone, weeklyHours, breaks, exceptions } = s;
    const slotMin = s.slotMs / MIN;
    const range: Interval = { start: Date.parse(`${centre}T00:00:00Z`) - 2 * DAY + Math.floor(rnd() * 24) * HOUR, end: 0 };
    range.end = range.start + (1 + Math.floor(rnd() * 5)) * DAY;
    const busy: Interval[] = [];
    for (let i = 0; i < 6; i++) {
      const b = range.start + Math.floor(rnd() * ((range.end - range.start) / MIN / 5)) * 5 * MIN;
      busy.push({ start: b, end: b + (1 + Math.floor(rnd() * 8)) * 15 * MIN });
    }
    const durationMs = slotMin * MIN * (1 + Math.floor(rnd() * 3));
    const slots = listSlots(s, { range, durationMs, providerBusy: busy });
    const ctx = `run ${run}: ${zone} ${centre} slot ${slotMin}m dur ${durationMs / MIN}m`;
    const starts = new Set<number>();
    for (const slot of slots) {
      checked++;
      const fail = (why: string) => t.fail(`${ctx}: slot ${new Date(slot.start).toISOString()} ${why}`);
      if (slot.end - slot.start !== durationMs) fail("has the wrong real duration");
      if (slot.start < range.start || slot.end > range.end) fail("is outside the range");
      if (starts.has(slot.start)) fail("is listed twice");
      starts.add(slot.start);
      const date = localDateOf(slot.start, zone);
      if (exceptions.some((e) => e.startDate <= date && date <= e.endDate)) fail("is on an exception date");
      const dow = isoDayOfWeek(date);
      const hours = weeklyHours.filter((w) => w.dayOfWeek === dow);
      const dayBreaks = breaks.filter((w) => w.dayOfWeek === dow);
      // Invariant 8: the start exists locally and is its first occurrence.
      const occurrences = instantsOfWall(wallOf(slot.start, zone), zone);
      if (occurrences[0] !== slot.start) fail("is not the first occurrence of its local time");
      // On the slot grid of a working interval.
      const m = minuteOfWall(wallOf(slot.start, zone));
      if (!hours.some((w) => m >= w.startMinute && (m - w.startMinute) % slotMin === 0)) fail(`local ${m} min is not a slot start`);
      if (!inIntervals(slot.start, date, zone, hours, false) || inIntervals(slot.start, date, zone, dayBreaks, false)) fail("does not start in working time");
      // Walk the slot in real time, 5 minutes at a time (every boundary here is on a 5-minute mark):
      // always working time of the minute's own date (a slot may run on past midnight), never a break.
      for (let x = slot.start; x < slot.end; x += 5 * MIN) {
        if (!workingAt(s, x, false)) {
          fail(`minute ${new Date(x).toISOString()} is outside working hours or in a break`);
          break;
        }
      }
      if (!workingAt(s, slot.end, true)) fail("ends outside working hours");
      if (localDateOf(slot.end - 1, zone) !== date) acrossMidnight++;
      if (busy.some((b) => slot.start < b.end && b.start < slot.end + s.bufferMs)) fail("overlaps a booking or its buffer");
    }
    // Completeness on plain days: a candidate the walk accepts and nothing blocks must be listed.
    for (let date = localDateOf(range.start, zone); date <= localDateOf(range.end, zone); date = addDays(date, 1)) {
      if (exceptions.some((e) => e.startDate <= date && date <= e.endDate)) continue;
      const dow = isoDayOfWeek(date);
      for (const w of weeklyHours.filter((x) => x.dayOfWeek === dow)) {
        for (let mm = w.startMinute; mm + slotMin <= w.endMinute; mm += slotMin) {
          const first = instantsOfWall(wallOfDate(date) + mm * MIN, zone)[0];
          if (first === undefined) continue;
          const end = first + durationMs;
          if (first < range.start || end > range.end) continue;
          let ok = true;
          for (let x = first; x < end && ok; x += 5 * MIN) ok = workingAt(s, x, false);
          if (ok && !workingAt(s, end, true)) ok = false;
          if (ok && busy.some((b) => first < b.end && b.start < end + s.bufferMs)) ok = false;
          if (ok && !starts.has(first)) t.fail(`${ctx}: ${date} ${mm} min fits but is not offered`);
        }
      }
    }
  }
  t.ok(checked > 1000, `checked ${checked} slots`);
  t.ok(acrossMidnight > 0, `${acrossMidnight} of them across midnight`);
});

// ---- explainSlotStart ----------------------------------------------------------------------------

t.test("explainSlotStart names the one reason a start is refused", async (t) => {
  const ist = "Europe/Istanbul";
  // 2026-07-01 is a Wednesday: hours 09:00-12:00 and 13:00-17:00 (Istanbul, UTC+3), break 10:00-10:30; 2026-07-02 is a holiday; no hours on Sundays.
  const days = [1, 2, 3, 4, 5, 6];
  const s = schedule(ist, days.flatMap((d) => [{ dayOfWeek: d as never, startMinute: 540, endMinute: 720 }, { dayOfWeek: d as never, startMinute: 780, endMinute: 1020 }]), {
    breaks: days.map((d) => ({ dayOfWeek: d as never, startMinute: 600, endMinute: 630 })),
    exceptions: [{ startDate: "2026-07-02", endDate: "2026-07-03", reason: "holiday" }],
  });
  const at = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00+03:00`);
  const cases: { name: string; start: number; minutes?: number; want: SlotVerdict }[] = [
    { name: "a slot", start: at("2026-07-01", "09:00"), want: { kind: "SLOT" } },
    { name: "a slot after the lunch gap", start: at("2026-07-01", "13:00"), want: { kind: "SLOT" } },
    { name: "closed that day", start: at("2026-07-02", "09:00"), want: { kind: "ON_EXCEPTION", date: "2026-07-02", exception: s.exceptions[0] } },
    { name: "no hours on Sundays", start: at("2026-07-05", "09:00"), want: { kind: "OUTSIDE_WORKING_HOURS", date: "2026-07-05", hours: [] } },
    { name: "before hours", start: at("2026-07-01", "08:30"), want: { kind: "OUTSIDE_WORKING_HOURS", date: "2026-07-01", hours: s.weeklyHours.filter((w) => w.dayOfWeek === 3) } },
    { name: "in the lunch gap", start: at("2026-07-01", "12:00"), want: { kind: "OUTSIDE_WORKING_HOURS", date: "2026-07-01", hours: s.weeklyHours.filter((w) => w.dayOfWeek === 3) } },
    { name: "at the very end", start: at("2026-07-01", "17:00"), want: { kind: "OUTSIDE_WORKING_HOURS", date: "2026-07-01", hours: s.weeklyHours.filter((w) => w.dayOfWeek === 3) } },
    { name: "in the break", start: at("2026-07-01", "10:00"), want: { kind: "IN_BREAK", date: "2026-07-01", break: s.breaks[2] } },
    { name: "off the grid", start: at("2026-07-01", "09:10"), want: { kind: "NOT_ON_SLOT_BOUNDARY", date: "2026-07-01", before: at("2026-07-01", "09:00"), after: at("2026-07-01", "09:30") } },
    { name: "off the grid by seconds", start: at("2026-07-01", "09:30") + 5_000, want: { kind: "NOT_ON_SLOT_BOUNDARY", date: "2026-07-01", before: at("2026-07-01", "09:30"), after: at("2026-07-01", "10:30") } },
    { name: "off the grid, the nearest where a long visit fits (not 09:30, which runs into the break)", start: at("2026-07-01", "09:40"), minutes: 60, want: { kind: "NOT_ON_SLOT_BOUNDARY", date: "2026-07-01", before: at("2026-07-01", "09:00"), after: at("2026-07-01", "10:30") } },
    { name: "past the end of hours", start: at("2026-07-01", "16:30"), minutes: 60, want: { kind: "ENDS_AFTER_WORKING_HOURS", date: "2026-07-01", end: at("2026-07-01", "17:30"), freeEnd: at("2026-07-01", "17:00") } },
    { name: "into the break", start: at("2026-07-01", "09:30"), minutes: 60, want: { kind: "RUNS_INTO_BREAK", date: "2026-07-01", end: at("2026-07-01", "10:30"), break: s.breaks[2] } },
  ];
  for (const c of cases) {
    const durationMs = (c.minutes ?? 30) * MIN;
    t.same(explainSlotStart(s, c.start, durationMs), c.want, c.name);
    t.equal(isSlotStart(s, c.start, durationMs), c.want.kind === "SLOT", `${c.name}: agrees with isSlotStart`);
  }
  // New York, 2026-11-01: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST); the slot is the first.
  const ny = schedule("America/New_York", everyDay(0, 4 * 60));
  t.same(explainSlotStart(ny, Date.UTC(2026, 10, 1, 6, 30), 30 * MIN), { kind: "REPEATED_LOCAL_TIME", date: "2026-11-01", firstOccurrence: Date.UTC(2026, 10, 1, 5, 30) }, "the second 01:30");
  t.same(explainSlotStart(ny, Date.UTC(2026, 10, 1, 5, 30), 30 * MIN), { kind: "SLOT" }, "the first 01:30");
  // Spring forward, 2026-03-08: 02:00-03:00 does not exist; 03:00 EDT (07:00Z) is a slot, 01:30 EST for 60 min runs to 03:30 EDT.
  t.same(explainSlotStart(ny, Date.UTC(2026, 2, 8, 7, 0), 30 * MIN), { kind: "SLOT" }, "03:00 right after the gap");
  t.same(explainSlotStart(ny, Date.UTC(2026, 2, 8, 6, 30), 60 * MIN), { kind: "SLOT" }, "01:30 EST for a real hour");
});

t.test("property: explainSlotStart says SLOT exactly when isSlotStart holds, and otherwise a real reason", async (t) => {
  const rnd = prng(20261205);
  const kinds = new Map<string, number>();
  let disagreements = 0;
  for (let run = 0; run < 200; run++) {
    const { centre, schedule: s } = randomSchedule(rnd, { breakChance: 0.6, buffers: false });
    const { timeZone: zone, weeklyHours, breaks, exceptions } = s;
    const slotMin = s.slotMs / MIN;
    for (let i = 0; i < 40; i++) {
      const start = Date.parse(`${centre}T00:00:00Z`) - 2 * DAY + Math.floor(rnd() * 4 * 24 * 12) * 5 * MIN + (rnd() < 0.05 ? 30_000 : 0);
      const durationMs = slotMin * MIN * (1 + Math.floor(rnd() * 3));
      const verdict = explainSlotStart(s, start, durationMs);
      kinds.set(verdict.kind, (kinds.get(verdict.kind) ?? 0) + 1);
      const ctx = `${zone} slot ${slotMin}m, ${new Date(start).toISOString()} for ${durationMs / MIN}m`;
      if ((verdict.kind === "SLOT") !== isSlotStart(s, start, durationMs)) {
        disagreements++;
        t.fail(`${ctx}: ${verdict.kind} but isSlotStart says ${isSlotStart(s, start, durationMs)}`);
      }
      if (verdict.kind === "NOT_A_SLOT") t.fail(`${ctx}: no reason found`);
      if (verdict.kind === "NOT_ON_SLOT_BOUNDARY") {
        for (const near of [verdict.before, verdict.after]) {
          if (near !== undefined && !isSlotStart(s, near, durationMs)) t.fail(`${ctx}: the nearest start ${new Date(near).toISOString()} is no slot`);
        }
      }
      if (verdict.kind === "REPEATED_LOCAL_TIME" && !isSlotStart(s, verdict.firstOccurrence, durationMs) && explainSlotStart(s, verdict.firstOccurrence, durationMs).kind === "SLOT") {
        t.fail(`${ctx}: the first occurrence disagrees`);
      }
    }
  }
  t.equal(disagreements, 0, "no disagreement");
  for (const k of ["SLOT", "ON_EXCEPTION", "OUTSIDE_WORKING_HOURS", "IN_BREAK", "NOT_ON_SLOT_BOUNDARY", "ENDS_AFTER_WORKING_HOURS", "RUNS_INTO_BREAK"]) {
    t.ok((kinds.get(k) ?? 0) > 0, `${k} came up (${kinds.get(k) ?? 0} times)`);
  }
});

t.test("property: a location's closures remove exactly its slots on its own local dates, and closureAt names them", async (t) => {
  const rnd = prng(20261207);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  let closedStarts = 0;
  let checked = 0;
  for (let run = 0; run < 150; run++) {
    const { centre, schedule: base } = randomSchedule(rnd, { breakChance: 0.4, buffers: false });
    // Own location A; some entries at B; each location in its own zone, closed on a date or two near the centre.
    const weeklyHours = base.weeklyHours.map((w) => (rnd() < 0.4 ? { ...w, locationId: "B" } : w));
    const closures = (): { startDate: string; endDate: string; reason: string }[] =>
      rnd() < 0.8 ? [{ startDate: addDays(centre, Math.floor(rnd() * 3) - 1), endDate: addDays(centre, Math.floor(rnd() * 3) + 1), reason: "holiday" }] : [];
    const locations = { A: { displayName: "A", timeZone: pick(ZONES), closures: closures() }, B: { displayName: "B", timeZone: pick(ZONES), closures: closures() } };
    const open: Schedule = { ...base, weeklyHours, locationId: "A" };
    const s: Schedule = { ...open, locations };
    const locationOfStart = (start: number) => {
      const wall = wallOf(start, s.timeZone);
      const date = localDateOf(start, s.timeZone);
      const minute = (wall - wallOfDate(date)) / MIN;
      const w = weeklyHours.find((x) => x.dayOfWeek === isoDayOfWeek(date) && x.startMinute <= minute && minute < x.endMinute);
      return w === undefined ? undefined : (w.locationId ?? "A");
    };
    const closedAt = (loc: "A" | "B", from: number, to: number) =>
      locations[loc].closures.some((c) => {
        const start = firstInstantAtOrAfterWall(wallOfDate(c.startDate), locations[loc].timeZone);
        const end = firstInstantAtOrAfterWall(wallOfDate(addDays(c.endDate, 1)), locations[loc].timeZone);
        return start < to && from < end;
      });
    const slotMin = s.slotMs / MIN;
    const durationMs = slotMin * MIN * (1 + Math.floor(rnd() * 2));
    const range: Interval = { start: Date.parse(`${centre}T00:00:00Z`) - 2 * DAY, end: Date.parse(`${centre}T00:00:00Z`) + 3 * DAY };
    const slots = listSlots(s, { range, durationMs });
    const ctx = `run ${run}: provider ${s.timeZone}, A ${locations.A.timeZone}, B ${locations.B.timeZone}`;
    for (const slot of slots) {
      checked++;
      const loc = locationOfStart(slot.start);
      if (loc === undefined) t.fail(`${ctx}: slot ${new Date(slot.start).toISOString()} outside hours`);
      else if (closedAt(loc as "A" | "B", slot.start, slot.end)) t.fail(`${ctx}: slot ${new Date(slot.start).toISOString()} on a closed date of ${loc}`);
      else if (locationOfStart(slot.end - MIN) !== loc) t.fail(`${ctx}: slot ${new Date(slot.start).toISOString()} runs from ${loc}'s hours into another location's`);
    }
    // Every slot the closures took away is named by closureAt, and only those.
    const kept = new Set(slots.map((x) => x.start));
    for (const slot of listSlots(open, { range, durationMs })) {
      const closed = closureAt(s, slot.start, durationMs);
      if (kept.has(slot.start) === (closed !== undefined)) t.fail(`${ctx}: ${new Date(slot.start).toISOString()} kept ${kept.has(slot.start)} but closureAt says ${closed?.localDate}`);
      if (closed) {
        closedStarts++;
        const loc = locationOfStart(slot.start) as "A" | "B";
        if (closed.timeZone !== locations[loc].timeZone) t.fail(`${ctx}: closure named in the wrong zone`);
        if (!locations[loc].closures.some((c) => c.startDate <= closed.localDate && closed.localDate <= c.endDate)) t.fail(`${ctx}: ${closed.localDate} is not a closed date of ${loc}`);
      }
      if (locationAt(s, slot.start) !== locationOfStart(slot.start)) t.fail(`${ctx}: locationAt disagrees`);
    }
  }
  t.ok(checked > 1000, `${checked} slots checked`);
  t.ok(closedStarts > 100, `${closedStarts} slots closed`);
});
