import type { DescEnum } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError, quotable, type FieldViolation } from "../errors.js";
import { invalidPageToken, PAGE_TOKEN_MAX_LENGTH } from "../page-token.js";

/** ID_PATTERN is what an identifier looks like: 1-64 of [A-Za-z0-9_-] (RequestValidator.id). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const LOCAL_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const LOCAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** TIME_ZONE_NAME is the shape of an IANA name or alias ("Europe/Istanbul", "UTC", "Etc/GMT+3", "EST5EDT"). */
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
const NANOS_PER_MS = 1_000_000n;

/**
 * IANA_NAME_OF_CLDR_ID maps the zone ids that ICU (CLDR) keeps for stability to the IANA names that
 * replaced them: Intl's resolvedOptions() on Node 20 answers "Asia/Calcutta" for "Asia/Kolkata" and
 * "Europe/Kiev" for "Europe/Kyiv". (CLDR's timezone.xml names these pairs in its `iana` attribute;
 * newer ICU answers the IANA name itself, and then this table is simply not used.)
 */
const IANA_NAME_OF_CLDR_ID: Record<string, string> = {
  "Africa/Asmera": "Africa/Asmara",
  "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
  "America/Catamarca": "America/Argentina/Catamarca",
  "America/Coral_Harbour": "America/Atikokan",
  "America/Cordoba": "America/Argentina/Cordoba",
  "America/Godthab": "America/Nuuk",
  "America/Indianapolis": "America/Indiana/Indianapolis",
  "America/Jujuy": "America/Argentina/Jujuy",
  "America/Louisville": "America/Kentucky/Louisville",
  "America/Mendoza": "America/Argentina/Mendoza",
  "Asia/Calcutta": "Asia/Kolkata",
  "Asia/Katmandu": "Asia/Kathmandu",
  "Asia/Rangoon": "Asia/Yangon",
  "Asia/Saigon": "Asia/Ho_Chi_Minh",
  "Atlantic/Faeroe": "Atlantic/Faroe",
  "Europe/Kiev": "Europe/Kyiv",
  "Pacific/Enderbury": "Pacific/Kanton",
  "Pacific/Ponape": "Pacific/Pohnpei",
  "Pacific/Truk": "Pacific/Chuuk",
};

/**
 * canonicalTimeZone is the canonical IANA name of a time zone name or alias given in any letter
 * case ("europe/ISTANBUL" -> "Europe/Istanbul", "utc" and "Etc/UTC" -> "UTC", "US/Eastern" ->
 * "America/New_York", "Asia/Calcutta" -> "Asia/Kolkata"), or undefined when it names no zone this
 * runtime knows. The runtime's time zone database decides (Intl's resolvedOptions().timeZone), with
 * the ids ICU keeps for stability replaced by their current IANA names.
 */
export function canonicalTimeZone(zone: string): string | undefined {
  if (zone.length > 64 || !TIME_ZONE_NAME.test(zone)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  return IANA_NAME_OF_CLDR_ID[resolved] ?? resolved;
}

/** isTimeZone tells whether a string names an IANA time zone this runtime knows, in any letter case ("UTC" included). */
export function isTimeZone(zone: string): boolean {
  return canonicalTimeZone(zone) !== undefined;
}

/** durationToMs converts a google.protobuf.Duration to milliseconds (fractions of a ms truncated: RequestValidator.duration refuses them). */
export function durationToMs(d: Duration): number {
  return Number(d.seconds) * 1000 + Math.trunc(d.nanos / 1_000_000);
}

/** timestampToDate converts a google.protobuf.Timestamp to a Date (fractions of a ms truncated: RequestValidator.timestamp refuses them). */
export function timestampToDate(t: Timestamp): Date {
  return new Date(Number(t.seconds) * 1000 + Math.trunc(t.nanos / 1_000_000));
}

/** durationText is a Duration as its JSON form, e.g. "90.5s", for messages. */
function durationText(d: Duration): string {
  const negative = d.seconds < 0n || d.nanos < 0;
  const seconds = d.seconds < 0n ? -d.seconds : d.seconds;
  const nanos = Math.abs(d.nanos);
  const fraction = nanos === 0 ? "" : `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}`;
  return `"${negative ? "-" : ""}${seconds}${fraction}s"`;
}

/** timestampText is a Timestamp as its JSON form with every fraction digit, e.g. "2026-12-06T11:00:00.000001Z", for messages. */
function timestampText(t: Timestamp): string {
  const whole = new Date(Number(t.seconds) * 1000).toISOString().slice(0, 19);
  return `"${whole}${t.nanos === 0 ? "" : `.${String(t.nanos).padStart(9, "0").replace(/0+$/, "")}`}Z"`;
}

/**
 * describeDuration says a length of time in words, e.g. "8 hours", "1 hour 30 minutes", "5 seconds",
 * "250 milliseconds".
 */
export function describeDuration(ms: number): string {
  if (ms === 0) return "0 minutes";
  const units: [number, string][] = [
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1000, "second"],
    [1, "millisecond"],
  ];
  const parts: string[] = [];
  let rest = Math.abs(ms);
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
  }
  return `${ms < 0 ? "minus " : ""}${parts.join(" ")}`;
}

/** unitOf names a multiple in words: "minutes" for 60 s, "seconds" for 1 s, else "multiples of 15 minutes". */
function unitOf(ms: number): string {
  if (ms === 60_000) return "a whole number of minutes";
  if (ms === 1000) return "a whole number of seconds";
  if (ms === 1) return "a whole number of milliseconds";
  return `a whole multiple of ${describeDuration(ms)}`;
}

/** minutesOfLocalTime parses "HH:MM" (and "24:00" when allowed) into minutes after midnight. */
export function minutesOfLocalTime(value: string, allowEndOfDay = false): number | undefined {
  if (allowEndOfDay && value === "24:00") return 24 * 60;
  const m = LOCAL_TIME.exec(value);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** isLocalDate tells whether a string is a real calendar date "YYYY-MM-DD". */
export function isLocalDate(value: string): boolean {
  const m = LOCAL_DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && y >= 1900;
}

/** DurationRule bounds a duration field. */
export interface DurationRule {
  /** required rejects an unset field. */
  required?: boolean;
  /** minMs is the smallest allowed value. */
  minMs?: number;
  /** minExclusive makes minMs itself invalid (e.g. "more than 0"). */
  minExclusive?: boolean;
  /** maxMs is the largest allowed value. */
  maxMs?: number;
  /** multipleOfMs requires a whole multiple (e.g. whole minutes). */
  multipleOfMs?: number;
}

/**
 * maskFieldNames lists update-mask paths as a person types them: lowerCamel, the JSON form of a
 * FieldMask ("given_name" -> "givenName"); a JSON client's "given_name" is refused by the decoder.
 */
export function maskFieldNames(paths: readonly string[]): string {
  return paths.map((p) => p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())).join(", ");
}

/**
 * RequestValidator collects every violation of a request, so one INVALID_ARGUMENT names all bad
 * fields at once. Field names are proto3 JSON (lowerCamel) paths.
 */
export class RequestValidator {
  /** violations found so far. */
  readonly violations: FieldViolation[] = [];

  /** add records a violation; `reason` is its stable code (FieldViolation.reason), INVALID_VALUE when not given. */
  add(field: string, description: string, reason = "INVALID_VALUE"): this {
    this.violations.push({ field, description, reason });
    return this;
  }

  /** string checks a string: required (non-blank) unless `optional`, at most `max` characters. */
  string(field: string, value: string, opts: { optional?: boolean; max?: number; min?: number } = {}): this {
    const max = opts.max ?? 200;
    if (value.trim() === "") {
      if (!opts.optional) this.add(field, "is required", "REQUIRED");
      return this;
    }
    if (value.length > max) this.add(field, `must be at most ${max} characters (got ${value.length})`, "TOO_LONG");
    if (opts.min !== undefined && value.length < opts.min) this.add(field, `must be at least ${opts.min} characters`, "TOO_SHORT");
    if (/[\u0000-\u001f]/.test(value)) this.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
    return this;
  }

  /** id checks an identifier: 1-64 of [A-Za-z0-9_-]; required unless `optional`. */
  id(field: string, value: string, opts: { optional?: boolean } = {}): this {
    if (value === "") {
      if (!opts.optional) this.add(field, "is required", "REQUIRED");
    } else if (!ID_PATTERN.test(value)) {
      this.add(field, "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'", "INVALID_ID");
    }
    return this;
  }

  /** requestId checks an idempotency key: required, 1-128 printable characters. */
  requestId(field: string, value: string): this {
    if (value === "") return this.add(field, "is required: a unique key per operation, reused on retries", "REQUIRED");
    if (value.length > 128 || !/^[\x21-\x7e]+$/.test(value)) {
      this.add(field, "must be 1-128 printable ASCII characters without spaces", "INVALID_REQUEST_ID");
    }
    return this;
  }

  /** enumValue checks an enum field: a known value, and not the _UNSPECIFIED zero unless `optional`. */
  enumValue(field: string, value: number, desc: DescEnum, opts: { optional?: boolean } = {}): this {
    const known = desc.values.find((v) => v.number === value);
    if (!known) {
      this.add(field, `unknown value ${quotable(value) ?? "(not a whole number)"}; one of ${desc.values.filter((v) => v.number !== 0).map((v) => v.name).join(", ")}`, "UNKNOWN_ENUM_VALUE");
    } else if (value === 0 && !opts.optional) {
      this.add(field, `is required: one of ${desc.values.filter((v) => v.number !== 0).map((v) => v.name).join(", ")}`, "REQUIRED");
    }
    return this;
  }

  /**
   * timeZone checks an IANA zone name such as "Europe/Istanbul", in any letter case, and returns the
   * zone's canonical name (canonicalTimeZone), which is what is stored and shown; undefined when bad.
   */
  timeZone(field: string, value: string): string | undefined {
    if (value === "") {
      this.add(field, 'is required: an IANA time zone such as "Europe/Istanbul"', "REQUIRED");
      return undefined;
    }
    const zone = canonicalTimeZone(value);
    // The name sent is not quoted (errors.ts, quotable): it is free text and may be anything.
    if (zone === undefined) this.add(field, 'is not a time zone this server knows; use an IANA name such as "Europe/Istanbul" or "America/New_York"', "UNKNOWN_TIME_ZONE");
    return zone;
  }

  /**
   * timestamp checks a Timestamp: present unless `optional`, within years 1970-9999, and exactly what
   * is kept: whole milliseconds (finer precision is refused, never rounded: TOO_PRECISE) or, with
   * `wholeMinute` (an appointment start: slots begin on whole minutes), no seconds at all. Returns it
   * as a Date.
   */
  timestamp(field: string, value: Timestamp | undefined, opts: { optional?: boolean; wholeMinute?: boolean } = {}): Date | undefined {
    if (!value) {
      if (!opts.optional) this.add(field, 'is required: a date and time such as "2026-01-05T09:00:00Z"', "REQUIRED");
      return undefined;
    }
    if (value.seconds < 0n || value.seconds > 253402300799n || value.nanos < 0 || value.nanos > 999_999_999) {
      this.add(field, "must be between 1970-01-01 and 9999-12-31", "OUT_OF_RANGE");
      return undefined;
    }
    if (opts.wholeMinute && (value.seconds % 60n !== 0n || value.nanos !== 0)) {
      this.add(field, `must be on a whole minute, without seconds (got ${timestampText(value)}), e.g. "2026-01-05T09:15:00Z"`, "NOT_WHOLE_MINUTE");
      return undefined;
    }
    if (BigInt(value.nanos) % NANOS_PER_MS !== 0n) {
      this.add(field, `must be given to the millisecond at most: finer fractions of a second are not kept (got ${timestampText(value)})`, "TOO_PRECISE");
      return undefined;
    }
    return timestampToDate(value);
  }

  /**
   * duration checks a Duration against a rule, on its exact value: whole milliseconds at most (finer
   * precision is refused, never truncated: TOO_PRECISE), or whole multiples of `multipleOfMs`.
   * Returns milliseconds, or undefined when unset or bad.
   */
  duration(field: string, value: Duration | undefined, rule: DurationRule = {}): number | undefined {
    if (!value) {
      if (rule.required) this.add(field, 'is required: a length of time such as "900s" (15 minutes)', "REQUIRED");
      return undefined;
    }
    if ((value.seconds < 0n && value.nanos > 0) || (value.seconds > 0n && value.nanos < 0) || Math.abs(value.nanos) > 999_999_999) {
      this.add(field, `is not a valid length of time (got ${value.seconds} seconds and ${value.nanos} nanoseconds)`, "INVALID_DURATION");
      return undefined;
    }
    const nanos = value.seconds * 1_000_000_000n + BigInt(value.nanos);
    const before = this.violations.length;
    const atLeast = (ms: number) => nanos >= BigInt(ms) * NANOS_PER_MS;
    const atMost = (ms: number) => nanos <= BigInt(ms) * NANOS_PER_MS;
    const got = `(got ${durationText(value)})`;
    if (rule.minMs !== undefined) {
      const tooShort = rule.minExclusive ? atMost(rule.minMs) : !atLeast(rule.minMs);
      if (tooShort && rule.minMs === 0) this.add(field, `${rule.minExclusive ? "must be longer than zero" : "must not be negative"} ${got}`, "OUT_OF_RANGE");
      else if (tooShort) this.add(field, `must be ${rule.minExclusive ? "longer than" : "at least"} ${describeDuration(rule.minMs)} ${got}`, "OUT_OF_RANGE");
    } else if (nanos < 0n) {
      this.add(field, `must not be negative ${got}`, "OUT_OF_RANGE");
    }
    if (rule.maxMs !== undefined && !atMost(rule.maxMs)) this.add(field, `must be at most ${describeDuration(rule.maxMs)} ${got}`, "OUT_OF_RANGE");
    if (rule.multipleOfMs !== undefined && nanos % (BigInt(rule.multipleOfMs) * NANOS_PER_MS) !== 0n) {
      this.add(field, `must be ${unitOf(rule.multipleOfMs)} ${got}`, "NOT_A_MULTIPLE");
    } else if (nanos % NANOS_PER_MS !== 0n) {
      this.add(field, `must be given to the millisecond at most: finer fractions of a second are not kept ${got}`, "TOO_PRECISE");
    }
    return this.violations.length === before ? Number(nanos / NANOS_PER_MS) : undefined;
  }

  /** localTime checks "HH:MM" (and "24:00" when `allowEndOfDay`). Returns minutes after midnight. */
  localTime(field: string, value: string, opts: { allowEndOfDay?: boolean } = {}): number | undefined {
    if (value === "") {
      this.add(field, "is required: a local time \"HH:MM\"", "REQUIRED");
      return undefined;
    }
    const minutes = minutesOfLocalTime(value, opts.allowEndOfDay);
    if (minutes === undefined) this.add(field, `must be a local time "HH:MM" (24 h)${opts.allowEndOfDay ? " or \"24:00\"" : ""}`, "INVALID_LOCAL_TIME");
    return minutes;
  }

  /** localDate checks a calendar date "YYYY-MM-DD"; required unless `optional`. */
  localDate(field: string, value: string, opts: { optional?: boolean } = {}): this {
    if (value === "") {
      if (!opts.optional) this.add(field, "is required: a local date \"YYYY-MM-DD\"", "REQUIRED");
    } else if (!isLocalDate(value)) {
      this.add(field, "must be a real date \"YYYY-MM-DD\"", "INVALID_LOCAL_DATE");
    }
    return this;
  }

  /** pageSize checks a page size: 0 (default) to `max`. */
  pageSize(field: string, value: number, max = 500): this {
    if (value < 0 || value > max) this.add(field, `must be between 0 (default) and ${max}`, "OUT_OF_RANGE");
    return this;
  }

  /** pageToken checks an opaque page token's shape (base64url, at most PAGE_TOKEN_MAX_LENGTH); PageTokens.open checks the rest. */
  pageToken(field: string, value: string): this {
    if (value !== "" && (value.length > PAGE_TOKEN_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(value))) {
      for (const v of invalidPageToken().violations) this.add(field, v.description, v.reason);
    }
    return this;
  }

  /** throwIfInvalid throws one InvalidArgumentError naming every violation, if any. */
  throwIfInvalid(): void {
    if (this.violations.length > 0) throw new InvalidArgumentError(this.violations);
  }
}

/** validate runs `fn` with a fresh RequestValidator and throws INVALID_ARGUMENT if it found anything. */
export function validate<T>(fn: (v: RequestValidator) => T): T {
  const v = new RequestValidator();
  const result = fn(v);
  v.throwIfInvalid();
  return result;
}
