// What SetAvailability and GetAvailability accept: a provider's weekly working hours and breaks
// (well-formed, a day's intervals not overlapping, every break inside working hours, every working
// interval with at least one whole slot, each at its location or the provider's), date exceptions,
// slot length and buffer; and whole-date ranges as a location's closures use them too.
import type { GetAvailabilityRequest, SetAvailabilityRequest } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { DayOfWeekSchema, type DateException, type DayOfWeek, type WeeklyInterval } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { describeDuration, isLocalDate, validate, type DurationRule, type RequestValidator } from "../runtime/request/validation.js";
import { freeText, MAX_APPOINTMENT_MS, MAX_REASON, MINUTE_MS } from "./scheduling.validation.js";

const HOUR_MS = 60 * MINUTE_MS;

/** Intervals per list in SetAvailability, at most (per list, not per day). */
const MAX_WEEKLY_INTERVALS = 100;
/** Date exceptions in SetAvailability, at most. */
const MAX_EXCEPTIONS = 500;
/** A provider's slot length: whole minutes from 5 minutes to 8 hours, required. */
const SLOT_DURATION: DurationRule = { required: true, minMs: 5 * MINUTE_MS, maxMs: MAX_APPOINTMENT_MS, multipleOfMs: MINUTE_MS };
/** Free time after each appointment: whole minutes from 0 to 2 hours; 0 when unset. */
const BUFFER_DURATION: DurationRule = { minMs: 0, maxMs: 2 * HOUR_MS, multipleOfMs: MINUTE_MS };

/** MinuteInterval is a weekly interval parsed into minutes after local midnight (end exclusive, up to 1440). */
export interface MinuteInterval {
  /** dayOfWeek is the ISO weekday, 1 (Monday) to 7 (Sunday). */
  dayOfWeek: DayOfWeek;
  /** startMinute is the first minute, 0-1439. */
  startMinute: number;
  /** endMinute is the minute after the last one, startMinute+1 to 1440. */
  endMinute: number;
  /** locationId is the location worked at (weekly hours only); absent: the provider's own location. */
  locationId?: string;
}

/** DateRange is a validated availability exception: whole local dates, both inclusive. */
export interface DateRange {
  /** startDate is the first date, "YYYY-MM-DD". */
  startDate: string;
  /** endDate is the last date, "YYYY-MM-DD", not before startDate. */
  endDate: string;
  /** reason is why, possibly empty. */
  reason: string;
}

/** ValidSetAvailability is a validated SetAvailabilityRequest, times in minutes and durations in ms. */
export interface ValidSetAvailability {
  /** providerId is the provider whose availability is replaced. */
  providerId: string;
  /** weeklyHours sorted by day and start; intervals of one day do not overlap. */
  weeklyHours: MinuteInterval[];
  /** breaks sorted by day and start; each lies within one working interval of its day. */
  breaks: MinuteInterval[];
  /** exceptions in request order. */
  exceptions: DateRange[];
  /** slotMs is the slot length. */
  slotMs: number;
  /** bufferMs is the free time kept after every appointment (0 when unset). */
  bufferMs: number;
  /** namedLocations are the locations weekly-hours entries name, each with the field that names it (for NOT_FOUND). */
  namedLocations: { locationId: string; field: string }[];
}

/**
 * validateSetAvailability checks a SetAvailabilityRequest: every interval well-formed, intervals of a
 * day not overlapping (touching is fine), every break inside one working interval of its day, date
 * exceptions in order, slot length and buffer in range.
 */
export function validateSetAvailability(req: SetAvailabilityRequest): ValidSetAvailability {
  return validate((v) => {
    v.id("providerId", req.providerId);
    const weeklyHours = weeklyIntervals(v, "weeklyHours", req.weeklyHours);
    const hoursValid = !v.violations.some((x) => x.field.startsWith("weeklyHours"));
    const breaks = weeklyIntervals(v, "breaks", req.breaks);
    // Breaks are only judged against working hours that are themselves valid.
    if (hoursValid) {
      for (const b of breaks) {
        const inside = weeklyHours.some(
          (w) => w.dayOfWeek === b.dayOfWeek && w.startMinute <= b.startMinute && b.endMinute <= w.endMinute,
        );
        if (!inside) {
          v.add(`breaks[${b.index}]`, `${describe(b)} is not within any working interval (weeklyHours) of that day`, "BREAK_OUTSIDE_HOURS");
        }
      }
    }
    const exceptions = dateRanges(v, "exceptions", req.exceptions, MAX_EXCEPTIONS);
    const slotMs = v.duration("slotDuration", req.slotDuration, SLOT_DURATION);
    const bufferMs = v.duration("buffer", req.buffer, BUFFER_DURATION);
    if (hoursValid && slotMs !== undefined) everyIntervalHasASlot(v, weeklyHours, breaks, slotMs);
    return {
      providerId: req.providerId,
      weeklyHours: weeklyHours.map(stripIndex),
      breaks: breaks.map(stripIndex),
      exceptions,
      slotMs: slotMs ?? 0,
      bufferMs: bufferMs ?? 0,
      namedLocations: req.weeklyHours.flatMap((w, i) => (w.locationId === "" ? [] : [{ locationId: w.locationId, field: `weeklyHours[${i}].locationId` }])),
    };
  });
}

/**
 * dateRanges checks a list of whole-date ranges (availability exceptions, a location's closures; field
 * `list`): at most `max`, each date real, end not before start, reason free text. Returns the valid
 * ones in request order, reasons trimmed.
 */
export function dateRanges(v: RequestValidator, list: string, ranges: readonly DateException[], max: number): DateRange[] {
  if (ranges.length > max) v.add(list, `must have at most ${max} entries (got ${ranges.length})`, "TOO_MANY");
  const out: DateRange[] = [];
  ranges.forEach((e, i) => {
    const field = `${list}[${i}]`;
    v.localDate(`${field}.startDate`, e.startDate);
    v.localDate(`${field}.endDate`, e.endDate);
    freeText(v, `${field}.reason`, e.reason, MAX_REASON);
    if (isLocalDate(e.startDate) && isLocalDate(e.endDate)) {
      // "YYYY-MM-DD" strings sort like the dates they name.
      if (e.endDate < e.startDate) v.add(`${field}.endDate`, `must not be before startDate (${e.startDate})`, "END_BEFORE_START");
      else out.push({ startDate: e.startDate, endDate: e.endDate, reason: e.reason.trim() });
    }
  });
  return out;
}

/** validateGetAvailability checks a GetAvailabilityRequest. */
export function validateGetAvailability(req: GetAvailabilityRequest): { providerId: string } {
  return validate((v) => {
    v.id("providerId", req.providerId);
    return { providerId: req.providerId };
  });
}

type IndexedInterval = MinuteInterval & { index: number };

function stripIndex({ dayOfWeek, startMinute, endMinute, locationId }: IndexedInterval): MinuteInterval {
  return locationId === undefined ? { dayOfWeek, startMinute, endMinute } : { dayOfWeek, startMinute, endMinute, locationId };
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

function describe(i: MinuteInterval): string {
  const name = DayOfWeekSchema.values.find((x) => x.number === i.dayOfWeek)?.localName ?? String(i.dayOfWeek);
  return `${name.charAt(0)}${name.slice(1).toLowerCase()} ${hhmm(i.startMinute)}-${hhmm(i.endMinute)}`;
}

/**
 * everyIntervalHasASlot reports the working intervals that would silently yield no slot: shorter
 * than one slot (SHORTER_THAN_SLOT), or with breaks covering part of every slot of the interval's
 * grid (slots start at the interval's start and every slot length after: NO_SLOT_LEFT).
 */
function everyIntervalHasASlot(v: RequestValidator, hours: IndexedInterval[], breaks: IndexedInterval[], slotMs: number): void {
  const slotMin = slotMs / MINUTE_MS;
  const slot = describeDuration(slotMs);
  for (const w of hours) {
    const field = `weeklyHours[${w.index}]`;
    const length = w.endMinute - w.startMinute;
    if (length < slotMin) {
      v.add(field, `${describe(w)} is ${describeDuration(length * MINUTE_MS)} long, shorter than one slot (${slot}), so it would offer no appointment: make it at least ${slot} long, or shorten slotDuration`, "SHORTER_THAN_SLOT");
      continue;
    }
    const inside = breaks.filter((b) => b.dayOfWeek === w.dayOfWeek && b.startMinute < w.endMinute && w.startMinute < b.endMinute);
    let fits = false;
    for (let m = w.startMinute; !fits && m + slotMin <= w.endMinute; m += slotMin) {
      fits = !inside.some((b) => b.startMinute < m + slotMin && m < b.endMinute);
    }
    if (!fits) {
      const named = inside.map((b) => `breaks[${b.index}] (${hhmm(b.startMinute)}-${hhmm(b.endMinute)})`).join(", ");
      v.add(field, `${describe(w)} has no whole slot (${slot}) outside its breaks ${named} (slots start at ${hhmm(w.startMinute)} and every ${slot} after), so it would offer no appointment: move or shorten the breaks, or shorten slotDuration`, "NO_SLOT_LEFT");
    }
  }
}

/**
 * weeklyIntervals checks a list of weekly intervals (field `list`) and returns the well-formed ones,
 * sorted by day and start, after reporting overlaps between intervals of one day.
 */
function weeklyIntervals(v: RequestValidator, list: string, intervals: WeeklyInterval[]): IndexedInterval[] {
  if (intervals.length > MAX_WEEKLY_INTERVALS) {
    v.add(list, `must have at most ${MAX_WEEKLY_INTERVALS} entries (got ${intervals.length})`, "TOO_MANY");
  }
  const parsed: IndexedInterval[] = [];
  intervals.forEach((w, index) => {
    const field = `${list}[${index}]`;
    const before = v.violations.length;
    v.enumValue(`${field}.dayOfWeek`, w.dayOfWeek, DayOfWeekSchema);
    const startMinute = v.localTime(`${field}.startTime`, w.startTime);
    const endMinute = v.localTime(`${field}.endTime`, w.endTime, { allowEndOfDay: true });
    if (startMinute !== undefined && endMinute !== undefined && endMinute <= startMinute) {
      v.add(`${field}.endTime`, `must be after startTime (${w.startTime})`, "END_BEFORE_START");
    }
    // Weekly hours name their location; a break is at the location of the hours it lies in (the
    // contract: breaks ignore location_id, which must still be well-formed).
    v.id(`${field}.locationId`, w.locationId, { optional: true });
    const locationId = list === "weeklyHours" && w.locationId !== "" ? w.locationId : undefined;
    if (v.violations.length === before && startMinute !== undefined && endMinute !== undefined) {
      parsed.push({ dayOfWeek: w.dayOfWeek, startMinute, endMinute, index, ...(locationId === undefined ? {} : { locationId }) });
    }
  });
  parsed.sort((a, b) => a.dayOfWeek - b.dayOfWeek || a.startMinute - b.startMinute || a.index - b.index);
  // Intervals are half-open: 09:00-12:00 and 12:00-13:00 touch but do not overlap.
  let reach: IndexedInterval | undefined;
  for (const cur of parsed) {
    if (reach && reach.dayOfWeek === cur.dayOfWeek && cur.startMinute < reach.endMinute) {
      v.add(`${list}[${cur.index}]`, `${describe(cur)} overlaps ${list}[${reach.index}] (${describe(reach)})`, "OVERLAPS");
    }
    if (!reach || reach.dayOfWeek !== cur.dayOfWeek || cur.endMinute > reach.endMinute) reach = cur;
  }
  return parsed;
}
