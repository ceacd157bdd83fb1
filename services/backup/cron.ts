// A five-field cron expression (minute hour day-of-month month day-of-week), evaluated in UTC:
// numbers, "*", lists "1,15", ranges "1-5", steps "*/15" and "0-30/10", names JAN-DEC and SUN-SAT,
// and 7 for Sunday. As in Vixie cron, when both day fields are restricted a day matching either runs.

/** CronSchedule is a parsed cron expression. */
export interface CronSchedule {
  /** source is the expression as given. */
  readonly source: string;
  /** next is the first matching minute strictly after `after`. */
  next(after: Date): Date;
}

/** CronError is a malformed cron expression. */
export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesFrom?: number;
}

const FIELDS: FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: "day of week", min: 0, max: 7, names: DAYS, namesFrom: 0 },
];

function parseValue(raw: string, spec: FieldSpec, expr: string): number {
  const upper = raw.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (spec.namesFrom ?? 0);
  if (!/^\d+$/.test(raw)) throw new CronError(`cron ${JSON.stringify(expr)}: ${spec.name} ${JSON.stringify(raw)} is not a number`);
  const n = Number(raw);
  if (n < spec.min || n > spec.max) throw new CronError(`cron ${JSON.stringify(expr)}: ${spec.name} ${n} is outside ${spec.min}-${spec.max}`);
  return n;
}

function parseField(field: string, spec: FieldSpec, expr: string): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  for (const part of field.split(",")) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new CronError(`cron ${JSON.stringify(expr)}: bad ${spec.name} ${JSON.stringify(part)}`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new CronError(`cron ${JSON.stringify(expr)}: ${spec.name} step must be at least 1`);
    let lo: number;
    let hi: number;
    if (m[1] === "*") {
      lo = spec.min;
      hi = spec.name === "day of week" ? 6 : spec.max;
      if (m[2] === undefined) star = true;
    } else if (m[1].includes("-")) {
      const [a, b, ...rest] = m[1].split("-");
      if (rest.length > 0) throw new CronError(`cron ${JSON.stringify(expr)}: bad ${spec.name} range ${JSON.stringify(m[1])}`);
      lo = parseValue(a, spec, expr);
      hi = parseValue(b, spec, expr);
      if (hi < lo) throw new CronError(`cron ${JSON.stringify(expr)}: ${spec.name} range ${JSON.stringify(m[1])} runs backwards`);
    } else {
      lo = parseValue(m[1], spec, expr);
      hi = m[2] === undefined ? lo : spec.name === "day of week" ? 6 : spec.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(spec.name === "day of week" && v === 7 ? 0 : v);
  }
  return { values, star };
}

/** parseCron parses a five-field cron expression (UTC), or throws CronError saying what is wrong. */
export function parseCron(expr: string): CronSchedule {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(`cron ${JSON.stringify(expr)} must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  const [min, hour, dom, month, dow] = fields.map((f, i) => parseField(f, FIELDS[i], expr));
  const dayMatches = (d: Date): boolean => {
    const domOk = dom.values.has(d.getUTCDate());
    const dowOk = dow.values.has(d.getUTCDay());
    if (dom.star && dow.star) return true;
    if (dom.star) return dowOk;
    if (dow.star) return domOk;
    return domOk || dowOk;
  };
  return {
    source: expr,
    next(after: Date): Date {
      const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
      // At most ~4 years of days (Feb 29 on a given weekday) are ever skipped.
      const limit = after.getTime() + 5 * 366 * 86_400_000;
      while (t.getTime() <= limit) {
        if (!month.values.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        if (!dayMatches(t)) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
          continue;
        }
        if (!hour.values.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
          continue;
        }
        if (!min.values.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
          continue;
        }
        return t;
      }
      throw new CronError(`cron ${JSON.stringify(expr)} never matches`);
    },
  };
}
