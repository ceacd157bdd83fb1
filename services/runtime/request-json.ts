// JSON requests are read strictly, against the method's input descriptor, before protobuf-es parses
// them, so that bad input is INVALID_ARGUMENT naming the field and never silently becomes something
// else (DESIGN.md section 3). This is the one place where every JSON type mistake is found; what it
// lets through, protobuf-es parses without an error (test/runtime/request-json.test.ts checks that
// over every request message and a test message with every field kind).
//
// * The body must be UTF-8 and every string text: connect decodes with a TextDecoder that turns
//   invalid bytes into U+FFFD, and a JSON escape of a lone surrogate ("\ud800") has no UTF-8 form;
//   both were stored as U+FFFD.
// * Unknown field names are refused (UNKNOWN_FIELD), the proto3 JSON default ("parsers should reject
//   unknown fields by default"): connect ignores them, so a misspelt filter ("status" for "statuses")
//   silently listed everything. Binary Protobuf keeps unknown fields, as protobuf does: forward
//   compatibility lives there. A field given twice (a repeated key, or its proto and JSON names) is
//   refused too: JSON.parse keeps the last one without a word.
// * Every value must have its field's JSON form (proto3 JSON mapping), each mistake a field
//   violation with a reason and a message without proto type names (protobuf-es reports only the
//   first, as "cannot decode field medschedule....page_size from JSON: ..."): a number out of its
//   type's range (OUT_OF_RANGE), a fraction for an integer, a 64-bit integer as a JSON number past
//   2^53 (it would arrive rounded: send a string), a wrong JSON type for a string, bool, enum,
//   message, list or map, null inside a list or map, an enum name the enum does not have
//   (UNKNOWN_ENUM_VALUE: connect dropped those, so "TICKET_PRIORITY_VIP" became ROUTINE), and
//   Timestamps and Durations that are not exactly what the mapping says. protobuf-es is lenient
//   there and changes input silently: "2026-02-30T00:00:00Z" became March 2, "…T24:00:00Z" the next
//   day, "30sfoo" 30 s; all are refused (INVALID_TIMESTAMP, INVALID_DURATION). Precision finer than a
//   millisecond is left to the validators (RequestValidator.timestamp/duration), which see binary
//   requests too.
//
// How: connect's JSON serialization takes a `textDecoder` in its options; createStrictJsonOptions
// returns one per method that decodes strictly, checks the parsed document, and hands the same text
// on. It sees the decompressed, unframed message of every protocol (Connect POST and GET, gRPC-web,
// gRPC with +json), in both the in-process gateway and the forwarding one (which parses JSON itself
// before it forwards binary).
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { domainConnectError, InvalidArgumentError, MalformedRequestError, quotable, type FieldViolation } from "./errors.js";

/** LONE_SURROGATE matches UTF-16 that is not text (it has no UTF-8 encoding). */
const LONE_SURROGATE = /\p{Cs}/u;
/** REPLACEMENT is what a lenient decoder puts where the bytes were not UTF-8. */
const REPLACEMENT = "\ufffd";
/** MAX_DEPTH is how deeply messages and google.protobuf.Value may nest (protobuf-es's recursion limit). */
const MAX_DEPTH = 100;
/** A decimal number as JSON writes it, which the proto3 JSON mapping also accepts in a string. */
const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
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

/** StrictJsonOptions are connect JSON serialization options: the strict `textDecoder`, and unknown fields refused by protobuf-es too. */
export interface StrictJsonOptions {
  /** textDecoder decodes and checks a JSON request body (connect calls it before parsing). */
  textDecoder: { decode(input?: Uint8Array): string };
  /** ignoreUnknownFields is false: protobuf-es refuses what the strict reader refused already. */
  ignoreUnknownFields: false;
}

interface Check {
  violations: FieldViolation[];
  /** invalidUtf8 is set when the body was not UTF-8: strings holding U+FFFD are then reported. */
  invalidUtf8: boolean;
}

interface IntRange {
  min: bigint;
  max: bigint;
  bits: 32 | 64;
}

const INT32: IntRange = { min: -(2n ** 31n), max: 2n ** 31n - 1n, bits: 32 };
const UINT32: IntRange = { min: 0n, max: 2n ** 32n - 1n, bits: 32 };
const INT64: IntRange = { min: -(2n ** 63n), max: 2n ** 63n - 1n, bits: 64 };
const UINT64: IntRange = { min: 0n, max: 2n ** 64n - 1n, bits: 64 };
const FLOAT_MAX = 3.4028234663852886e38;

function intRange(type: ScalarType): IntRange | undefined {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return INT32;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return UINT32;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return INT64;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return UINT64;
    default:
      return undefined;
  }
}

function add(c: Check, field: string, description: string, reason: string): void {
  c.violations.push({ field, description, reason });
}

function child(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/**
 * jsonType names the JSON type of a value for a message, never the value itself: what a client sent
 * in the wrong place may be patient data (a visit reason, a national id as a number).
 */
function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return "text";
    case "number":
      return "a number";
    case "boolean":
      return String(value);
    default:
      return "an object";
  }
}

function enumNames(desc: DescEnum): string {
  return desc.values.filter((v) => v.number !== 0).map((v) => v.name).join(", ");
}

function checkString(c: Check, path: string, value: string): void {
  if (LONE_SURROGATE.test(value)) {
    add(c, path, "is not valid text (it holds a lone UTF-16 surrogate escape)", "INVALID_UTF8");
  } else if (c.invalidUtf8 && value.includes(REPLACEMENT)) {
    add(c, path, "is not valid UTF-8", "INVALID_UTF8");
  }
}

/** checkAnyJson checks every string of a value whose layout the contract does not fix (google.protobuf.Struct, Value). */
function checkAnyJson(c: Check, path: string, value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) {
    add(c, path, `is nested more than ${MAX_DEPTH} levels deep`, "TOO_DEEP");
  } else if (typeof value === "string") {
    checkString(c, path, value);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkAnyJson(c, `${path}[${i}]`, v, depth + 1));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      checkString(c, child(path, k), k);
      checkAnyJson(c, child(path, k), v, depth + 1);
    }
  }
}

function rangeText(r: IntRange): string {
  return `from ${r.min} to ${r.max}`;
}

/** checkInteger checks a JSON integer of a protobuf integer type: a number, or a string of one. */
function checkInteger(c: Check, path: string, r: IntRange, value: unknown): void {
  const wrong = () => add(c, path, `must be a whole number ${rangeText(r)} (got ${jsonType(value)})`, "INVALID_VALUE");
  let n: bigint;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return add(c, path, `must be a whole number ${rangeText(r)}`, "OUT_OF_RANGE");
    if (!Number.isInteger(value)) return wrong();
    if (r.bits === 64 && !Number.isSafeInteger(value)) {
      return add(c, path, 'is too large to be exact as a JSON number; send it as a string in quotes, e.g. "9007199254740993"', "OUT_OF_RANGE");
    }
    n = BigInt(value);
  } else if (typeof value === "string") {
    if (r.bits === 64) {
      if (!/^-?\d+$/.test(value)) return wrong();
      n = BigInt(value);
    } else {
      if (!DECIMAL.test(value)) return wrong();
      const num = Number(value);
      if (!Number.isFinite(num)) return add(c, path, `must be a whole number ${rangeText(r)}`, "OUT_OF_RANGE");
      if (!Number.isInteger(num)) return wrong();
      n = BigInt(num);
    }
  } else {
    return wrong();
  }
  if (n < r.min || n > r.max) add(c, path, `must be a whole number ${rangeText(r)}`, "OUT_OF_RANGE");
}

/** checkFloat checks a JSON float or double: a number, a string of one, or "NaN", "Infinity", "-Infinity". */
function checkFloat(c: Check, path: string, float: boolean, value: unknown): void {
  let n: number;
  if (typeof value === "number") n = value;
  else if (value === "NaN" || value === "Infinity" || value === "-Infinity") return;
  else if (typeof value === "string" && DECIMAL.test(value)) n = Number(value);
  else return add(c, path, `must be a number (got ${jsonType(value)})`, "INVALID_VALUE");
  if (!Number.isFinite(n) || (float && Math.abs(n) > FLOAT_MAX)) {
    add(c, path, `must be a number from -${float ? FLOAT_MAX : Number.MAX_VALUE} to ${float ? FLOAT_MAX : Number.MAX_VALUE}`, "OUT_OF_RANGE");
  }
}

/** checkScalar checks a JSON value of a scalar field (not null: the callers handle that). */
function checkScalar(c: Check, path: string, type: ScalarType, value: unknown): void {
  const range = intRange(type);
  if (range) return checkInteger(c, path, range, value);
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return checkFloat(c, path, type === ScalarType.FLOAT, value);
    case ScalarType.BOOL:
      if (typeof value !== "boolean") add(c, path, `must be true or false (got ${jsonType(value)})`, "INVALID_VALUE");
      return;
    case ScalarType.STRING:
      if (typeof value === "string") checkString(c, path, value);
      else add(c, path, `must be text in double quotes (got ${jsonType(value)})`, "INVALID_VALUE");
      return;
    case ScalarType.BYTES:
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value) || value.replace(/=+$/, "").length % 4 === 1) {
        add(c, path, `must be base64 text (got ${jsonType(value)})`, "INVALID_VALUE");
      }
      return;
  }
}

function checkEnum(c: Check, path: string, desc: DescEnum, value: unknown): void {
  if (typeof value === "string") {
    checkString(c, path, value);
    if (!desc.values.some((v) => v.name === value)) {
      // An enum-looking name is quoted (quotable); any other text may be patient data and is not.
      const shown = quotable(value);
      add(c, path, `${shown ? `unknown value ${shown}` : "is not a value of this list"}; one of ${enumNames(desc)}`, "UNKNOWN_ENUM_VALUE");
    }
  } else if (typeof value === "number") {
    // A number is for the validators to judge (enums are open); it must be an int32.
    checkInteger(c, path, INT32, value);
  } else {
    add(c, path, `must be one of ${enumNames(desc)} (got ${jsonType(value)})`, "INVALID_VALUE");
  }
}

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
function checkWellKnown(c: Check, path: string, desc: DescMessage, value: unknown, depth: number): boolean {
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

/** checkItem checks one non-null value of a field: a singular value, a list item or a map value. */
function checkItem(c: Check, path: string, field: DescField, value: unknown, depth: number): void {
  if (field.enum) checkEnum(c, path, field.enum, value);
  else if (field.message) checkMessage(c, path, field.message, value, depth + 1);
  else if (field.scalar !== undefined) checkScalar(c, path, field.scalar, value);
}

/** allowsNull tells whether null is a value of this field's items (google.protobuf.Value's null, NullValue). */
function allowsNull(field: DescField): boolean {
  return field.message?.typeName === "google.protobuf.Value" || field.enum?.typeName === "google.protobuf.NullValue";
}

function checkMapKey(c: Check, path: string, type: ScalarType, key: string): string {
  if (type === ScalarType.BOOL) {
    if (key !== "true" && key !== "false") add(c, path, "the key must be true or false", "INVALID_VALUE");
    return key;
  }
  const range = intRange(type);
  if (!range) return key;
  if (!/^-?\d+$/.test(key)) {
    add(c, path, `the key must be a whole number ${rangeText(range)}`, "INVALID_VALUE");
    return key;
  }
  const n = BigInt(key);
  if (n < range.min || n > range.max) add(c, path, `the key must be a whole number ${rangeText(range)}`, "OUT_OF_RANGE");
  return String(n);
}

function checkField(c: Check, path: string, field: DescField, value: unknown, depth: number): void {
  if (value === null && !(field.fieldKind !== "list" && field.fieldKind !== "map" && allowsNull(field))) return;
  if (field.fieldKind === "list") {
    if (!Array.isArray(value)) return add(c, path, `must be a list [...] (got ${jsonType(value)})`, "INVALID_VALUE");
    value.forEach((v, i) => {
      if (v === null && !allowsNull(field)) add(c, `${path}[${i}]`, "must not be null", "INVALID_VALUE");
      else checkItem(c, `${path}[${i}]`, field, v, depth);
    });
  } else if (field.fieldKind === "map") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return add(c, path, `must be an object {...} (got ${jsonType(value)})`, "INVALID_VALUE");
    const keys = new Map<string, string>();
    for (const [k, v] of Object.entries(value)) {
      const p = `${path}[${JSON.stringify(k)}]`;
      checkString(c, p, k);
      const canonical = checkMapKey(c, p, field.mapKey, k);
      const first = keys.get(canonical);
      if (first !== undefined) add(c, p, `is the same key as ${JSON.stringify(first)}`, "DUPLICATE_FIELD");
      keys.set(canonical, k);
      if (v === null && !allowsNull(field)) add(c, p, "must not be null", "INVALID_VALUE");
      else checkItem(c, p, field, v, depth);
    }
  } else {
    checkItem(c, path, field, value, depth);
  }
}

/** editDistance is the Levenshtein distance of two short strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function unknownField(desc: DescMessage, key: string): string {
  const names = desc.fields.map((f) => f.jsonName);
  if (names.length === 0) return "is not a field here: this takes no fields";
  const lower = key.toLowerCase().replace(/_/g, "");
  const near = names
    .map((n) => ({ n, d: n.toLowerCase() === lower ? 0 : editDistance(key.toLowerCase(), n.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0];
  if (near && near.d <= Math.max(2, Math.floor(near.n.length / 4))) return `is not a field here; did you mean "${near.n}"?`;
  return `is not a field here; the fields are ${names.join(", ")}`;
}

function checkMessage(c: Check, path: string, desc: DescMessage, json: unknown, depth: number): void {
  if (depth > MAX_DEPTH) return add(c, path, `is nested more than ${MAX_DEPTH} levels deep`, "TOO_DEEP");
  if (checkWellKnown(c, path, desc, json, depth)) return;
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return add(c, path, `must be an object {...} (got ${jsonType(json)})`, "INVALID_VALUE");
  }
  const seen = new Map<DescField, string>();
  const oneofs = new Map<unknown, string>();
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    const p = child(path, field?.jsonName ?? key);
    checkString(c, p, key);
    if (!field) {
      add(c, child(path, key), unknownField(desc, key), "UNKNOWN_FIELD");
      continue;
    }
    const other = seen.get(field);
    if (other !== undefined) {
      add(c, p, `is given twice (as "${other}" and "${key}")`, "DUPLICATE_FIELD");
      continue;
    }
    seen.set(field, key);
    // As protobuf-es counts them: a null scalar does not set its oneof member.
    if (field.oneof && !(value === null && field.fieldKind === "scalar")) {
      const set = oneofs.get(field.oneof);
      if (set !== undefined) add(c, p, `cannot be given together with "${set}": they are alternatives`, "ONEOF_CONFLICT");
      else oneofs.set(field.oneof, field.jsonName);
    }
    checkField(c, p, field, value, depth);
  }
}

/**
 * duplicateKeys lists the paths of object keys that a JSON text repeats inside one object (JSON.parse
 * keeps the last silently). `text` must be valid JSON.
 */
export function duplicateKeys(text: string): string[] {
  type Frame = { object: true; seen: Set<string>; key: string; path: string } | { object: false; index: number; path: string };
  const out: string[] = [];
  const stack: Frame[] = [];
  let expectKey = false;
  const valuePath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return "";
    return top.object ? child(top.path, top.key) : `${top.path}[${top.index}]`;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{") {
      stack.push({ object: true, seen: new Set(), key: "", path: valuePath() });
      expectKey = true;
    } else if (ch === "[") {
      stack.push({ object: false, index: 0, path: valuePath() });
      expectKey = false;
    } else if (ch === "}" || ch === "]") {
      stack.pop();
      expectKey = false;
    } else if (ch === ",") {
      const top = stack[stack.length - 1];
      if (top && !top.object) top.index++;
      expectKey = top?.object === true;
    } else if (ch === ":") {
      expectKey = false;
    } else if (ch === '"') {
      const open = i;
      let escaped = false;
      for (i++; text[i] !== '"'; i++) {
        if (text[i] === "\\") {
          escaped = true;
          i++;
        }
      }
      const top = stack[stack.length - 1];
      if (expectKey && top?.object) {
        const name = escaped ? (JSON.parse(text.slice(open, i + 1)) as string) : text.slice(open + 1, i);
        if (top.seen.has(name)) out.push(child(top.path, name));
        top.seen.add(name);
        top.key = name;
        expectKey = false;
      }
    }
  }
  return out;
}

/** NOT_UTF8 is the message for a body that is not UTF-8 outside any string (no field to name). */
const NOT_UTF8 = "the request body is not valid UTF-8; send JSON as UTF-8";

function refuse(violations: FieldViolation[], message?: string): ConnectError {
  return domainConnectError(violations.length > 0 ? new InvalidArgumentError(violations, message) : new MalformedRequestError(message ?? NOT_UTF8));
}

/**
 * jsonSyntaxError says where a body stops being JSON. JSON.parse's own message quotes the text around
 * the mistake, which may be patient data: only the position is kept.
 */
function jsonSyntaxError(err: unknown): string {
  const at = /position (\d+)/.exec(err instanceof Error ? err.message : "");
  return `the request body is not valid JSON${at ? ` (the mistake is at character ${at[1]})` : ""}; send a JSON object`;
}

/**
 * jsonRequestViolations checks a parsed JSON request against the input message (see the header of
 * request-json.ts): unknown fields, values without their field's JSON form, enum names the enum does
 * not have, strings that are not text. `invalidUtf8` says the body had bytes that are not UTF-8
 * (decoded as U+FFFD): the strings holding U+FFFD are named then.
 */
export function jsonRequestViolations(schema: DescMessage, json: unknown, invalidUtf8 = false): FieldViolation[] {
  const c: Check = { violations: [], invalidUtf8 };
  checkMessage(c, "", schema, json, 1);
  return c.violations;
}

/**
 * checkJsonRequest checks a JSON request body's text against the input message: it must be JSON, an
 * object, without repeated keys, and pass jsonRequestViolations. It returns the parsed document, or
 * throws INVALID_ARGUMENT.
 */
export function checkJsonRequest(schema: DescMessage, text: string, invalidUtf8 = false): unknown {
  if (text.trim() === "") throw refuse([], invalidUtf8 ? NOT_UTF8 : "the request body is empty; send a JSON object ({} when there is nothing to say)");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw refuse([], invalidUtf8 ? NOT_UTF8 : jsonSyntaxError(err));
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw refuse([], `the request body must be a JSON object {...}, not ${jsonType(json)}`);
  }
  const repeated = duplicateKeys(text).map((field) => ({ field, description: "is given more than once", reason: "DUPLICATE_FIELD" }));
  const violations = [...repeated, ...jsonRequestViolations(schema, json, invalidUtf8)];
  if (invalidUtf8 && !violations.some((v) => v.reason === "INVALID_UTF8")) throw refuse(violations, NOT_UTF8);
  if (violations.length > 0) throw refuse(violations);
  return json;
}

/**
 * createStrictJsonOptions returns connect `jsonOptions` for a method whose input is `schema`: its
 * textDecoder refuses, with INVALID_ARGUMENT naming the fields, whatever checkJsonRequest finds (see
 * the header of request-json.ts), and otherwise returns the text for connect to parse.
 */
export function createStrictJsonOptions(schema: DescMessage): StrictJsonOptions {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const lenient = new TextDecoder("utf-8");
  return {
    ignoreUnknownFields: false,
    textDecoder: {
      decode(input?: Uint8Array): string {
        let text: string;
        let invalidUtf8 = false;
        try {
          text = strict.decode(input);
        } catch {
          text = lenient.decode(input);
          invalidUtf8 = true;
        }
        checkJsonRequest(schema, text, invalidUtf8);
        return text;
      },
    },
  };
}
