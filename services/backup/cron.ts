// The BACKUP_SCHEDULE_* cron expressions: five fields (minute hour day-of-month month day-of-week),
// evaluated in UTC, with numbers, "*", lists "1,15", ranges "1-5", steps "*/15" and "0-30/10", names
// JAN-DEC and SUN-SAT, and 7 for Sunday. As in Vixie cron, when both day fields are restricted a day
// matching either runs. croner (a maintained cron library, no dependencies) parses and evaluates;
// this file keeps the expression to that Vixie subset, and says in a person's words what is wrong.
import { Cron } from "croner";

/** CronSchedule is a parsed cron expression. */
export interface CronSchedule {
  /** source is the expression as given. */
  readonly source: string;
  /** next is the first matching minute strictly after `after`; CronError when the expression never matches. */
  next(after: Date): Date;
}

/** CronError is a malformed cron expression. */
export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

/** FieldSpec is one of the five fields: its name in messages, its range, where "N/step" ends, and croner's largest step. */
interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** last is where "N/step" ends: the field's end (Saturday for the day of week, as "*" there is 0-6). */
  last: number;
  /** maxStep is the largest step croner takes; any larger step keeps only the first value, as this one does. */
  maxStep: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59, last: 59, maxStep: 60 },
  { name: "hour", min: 0, max: 23, last: 23, maxStep: 24 },
  { name: "day of month", min: 1, max: 31, last: 31, maxStep: 31 },
  { name: "month", min: 1, max: 12, last: 12, maxStep: 12 },
  { name: "day of week", min: 0, max: 7, last: 6, maxStep: 7 },
];

/** CRONER_OPTIONS: five fields only, UTC, day of month OR day of week (Vixie cron). */
const CRONER_OPTIONS = { mode: "5-part", timezone: "UTC", domAndDow: false } as const;

/** One list element of a field: "*", a value or a range of values (numbers, or three-letter names), and an optional step. */
const ELEMENT = /^(?:\*|(\d+|[A-Za-z]{3})(?:-(\d+|[A-Za-z]{3}))?)(?:\/(\d+))?$/;

/**
 * vixie rewrites the two step forms croner reads otherwise than Vixie cron into ones it reads alike:
 * "N/step" runs from N to the field's end (croner refuses it), and a step larger than croner takes
 * becomes the largest it takes (either way only the range's first value matches).
 */
function vixie(part: string, spec: FieldSpec): string {
  const m = ELEMENT.exec(part);
  if (!m || m[3] === undefined) return part;
  const [, from, to, step] = m;
  const every = Math.min(Number(step), spec.maxStep);
  if (from === undefined) return `*/${every}`;
  if (to === undefined && !(/^\d+$/.test(from) && Number(from) > spec.last)) return `${from}-${spec.last}/${every}`;
  return `${from}${to === undefined ? "" : `-${to}`}/${every}`;
}

/** croner returns a Cron for `pattern`, or the error croner throws for it. */
function croner(pattern: string): Cron | Error {
  try {
    return new Cron(pattern, CRONER_OPTIONS);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** alone is the five-field pattern with `part` in field `index` and "*" in the others, to ask croner about one part. */
function alone(index: number, part: string): string {
  return FIELDS.map((_, i) => (i === index ? part : "*")).join(" ");
}

/**
 * checkElement throws a CronError saying what is wrong with one list element of field `index` (the
 * grammar is checked here; values, names and ranges are croner's to accept): not a number or name,
 * outside the field's range, a step of 0, a range that runs backwards.
 */
function checkElement(expr: string, index: number, part: string): void {
  const spec = FIELDS[index];
  const at = `cron ${JSON.stringify(expr)}:`;
  const m = ELEMENT.exec(part);
  if (!m) {
    const [base, ...steps] = part.split("/");
    if (steps.length > 1 || (steps.length === 1 && !/^\d+$/.test(steps[0])) || base === "") throw new CronError(`${at} bad ${spec.name} ${JSON.stringify(part)}`);
    const values = base === "*" ? [] : base.split("-");
    if (values.length > 2) throw new CronError(`${at} bad ${spec.name} range ${JSON.stringify(base)}`);
    const odd = values.find((v) => !/^\d+$/.test(v)) ?? base;
    throw new CronError(`${at} ${spec.name} ${JSON.stringify(odd)} is not a number`);
  }
  const [, from, to, step] = m;
  if (step !== undefined && Number(step) < 1) throw new CronError(`${at} ${spec.name} step must be at least 1`);
  for (const value of [from, to]) {
    if (value === undefined || !(croner(alone(index, value)) instanceof Error)) continue;
    if (!/^\d+$/.test(value)) throw new CronError(`${at} ${spec.name} ${JSON.stringify(value)} is not a number`);
    throw new CronError(`${at} ${spec.name} ${Number(value)} is outside ${spec.min}-${spec.max}`);
  }
  if (to !== undefined && croner(alone(index, `${from}-${to}`)) instanceof Error) {
    throw new CronError(`${at} ${spec.name} range ${JSON.stringify(`${from}-${to}`)} runs backwards`);
  }
  const refused = croner(alone(index, vixie(part, spec)));
  if (refused instanceof Error) throw new CronError(`${at} bad ${spec.name} ${JSON.stringify(part)} (${refused.message.replace(/^CronPattern: /, "")})`);
}

/** parseCron parses a five-field cron expression (UTC), or throws CronError saying what is wrong (also when no date ever matches). */
export function parseCron(expr: string): CronSchedule {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(`cron ${JSON.stringify(expr)} must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  fields.forEach((field, i) => {
    for (const part of field.split(",")) checkElement(expr, i, part);
  });
  // A list holding "*" is every value, and its day field counts as unrestricted: croner reads only a lone "*" so.
  const pattern = fields.map((field, i) => (field.split(",").includes("*") ? "*" : field.split(",").map((part) => vixie(part, FIELDS[i])).join(",")));
  const cron = croner(pattern.join(" "));
  if (cron instanceof Error) throw new CronError(`cron ${JSON.stringify(expr)}: ${cron.message.replace(/^CronPattern: /, "")}`);
  // A date that no year has (February 30th, April 31st) is refused here, when the configuration is read.
  if (!cron.nextRun(new Date(0))) throw new CronError(`cron ${JSON.stringify(expr)} never matches`);
  return {
    source: expr,
    next(after: Date): Date {
      const at = cron.nextRun(after);
      if (!at) throw new CronError(`cron ${JSON.stringify(expr)} never matches`);
      return at;
    },
  };
}
