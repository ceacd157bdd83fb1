// The checks of the well-known types that have their own JSON form (google.protobuf.Timestamp,
// Duration, FieldMask, Struct, Value, ListValue, Any and the wrappers), for request-json.ts: a
// Timestamp must be a real date and time and a Duration exactly seconds and "s", since protobuf-es
// silently changes what it does not refuse (see request-json.ts's header).
import { ScalarType, type DescMessage } from "@bufbuild/protobuf";
import { add, checkAnyJson, checkScalar, checkString, jsonType, type Check } from "./request-json-values.js";

/** An RFC 3339 date-time as google.protobuf.Timestamp's JSON form: upper-case T and Z, at most 9 fraction digits. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;
/** google.protobuf.Duration's JSON form: seconds with up to 9 fraction digits, then "s". */
const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000n;
/** The first and last whole seconds a Timestamp holds: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
const MIN_TIMESTAMP_MS = -62_135_596_800_000;
const MAX_TIMESTAMP_MS = 253_402_300_799_000;
const TIMESTAMP_EXAMPLE = '"2026-01-05T09:00:00Z" or "2026-01-05T12:00:00+03:00"';
const DURATION_EXAMPLE = '"900s" for 15 minutes, "1.5s"';

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** checkTimestamp checks google.protobuf.Timestamp's JSON form: a real date and time, 0001-01-01 to 9999-12-31 in UTC. */
function checkTimestamp(c: Check, path: string, value: unknown): void {
  if (typeof value !== "string") return add(c, path, `must be a date and time in quotes, e.g. ${TIMESTAMP_EXAMPLE} (got ${jsonType(value)})`, "INVALID_TIMESTAMP");
  checkString(c, path, value);
  const m = RFC3339.exec(value);
  const [year, month, day, hour, minute, second] = (m ?? []).slice(1, 7).map(Number);
  const real = m !== null && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59 &&
    (m[8] === "Z" || (Number(m[10]) <= 23 && Number(m[11]) <= 59));
  if (!real) return add(c, path, `is not a real date and time; write it as ${TIMESTAMP_EXAMPLE} (RFC 3339)`, "INVALID_TIMESTAMP");
  const offsetMinutes = m[8] === "Z" ? 0 : (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute - offsetMinutes, second, 0);
  if (at.getTime() < MIN_TIMESTAMP_MS || at.getTime() > MAX_TIMESTAMP_MS) {
    add(c, path, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z", "OUT_OF_RANGE");
  }
}

/** checkDuration checks google.protobuf.Duration's JSON form: seconds with up to 9 fraction digits and "s", within ±10,000 years. */
function checkDuration(c: Check, path: string, value: unknown): void {
  if (typeof value !== "string") return add(c, path, `must be a duration in quotes, e.g. ${DURATION_EXAMPLE} (got ${jsonType(value)})`, "INVALID_DURATION");
  checkString(c, path, value);
  const m = DURATION.exec(value);
  if (!m) return add(c, path, `is not a duration; write seconds followed by "s", e.g. ${DURATION_EXAMPLE}`, "INVALID_DURATION");
  if (BigInt(m[2]) > MAX_DURATION_SECONDS) add(c, path, `must be at most ${MAX_DURATION_SECONDS} seconds either way`, "OUT_OF_RANGE");
}

function checkFieldMask(c: Check, path: string, value: unknown): void {
  if (typeof value !== "string") return add(c, path, `must be a comma-separated list of field names in quotes (got ${jsonType(value)})`, "INVALID_VALUE");
  checkString(c, path, value);
  if (value !== "" && !value.split(",").every((p) => /^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/.test(p))) {
    add(c, path, 'must be a comma-separated list of lowerCamel field names, e.g. "displayName,timeZone"', "INVALID_VALUE");
  }
}

const WRAPPERS: Record<string, ScalarType> = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

/** checkWellKnown checks a well-known type with its own JSON form; false when `desc` is an ordinary message. */
export function checkWellKnown(c: Check, path: string, desc: DescMessage, value: unknown, depth: number): boolean {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      checkTimestamp(c, path, value);
      return true;
    case "google.protobuf.Duration":
      checkDuration(c, path, value);
      return true;
    case "google.protobuf.FieldMask":
      checkFieldMask(c, path, value);
      return true;
    case "google.protobuf.Value":
      checkAnyJson(c, path, value, depth);
      return true;
    case "google.protobuf.Struct":
    case "google.protobuf.ListValue": {
      const struct = desc.typeName === "google.protobuf.Struct";
      const ok = struct ? value !== null && typeof value === "object" && !Array.isArray(value) : Array.isArray(value);
      if (ok) checkAnyJson(c, path, value, depth);
      else add(c, path, `must be ${struct ? "an object {...}" : "a list [...]"} (got ${jsonType(value)})`, "INVALID_VALUE");
      return true;
    }
    case "google.protobuf.Any":
      if (value === null || typeof value !== "object" || Array.isArray(value)) add(c, path, `must be an object {...} (got ${jsonType(value)})`, "INVALID_VALUE");
      else if (Object.keys(value).length > 0) add(c, path, "must be empty: no message types are known for it", "INVALID_VALUE");
      return true;
  }
  const wrapped = WRAPPERS[desc.typeName];
  if (wrapped === undefined) return false;
  checkScalar(c, path, wrapped, value);
  return true;
}
