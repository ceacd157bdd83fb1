// The checks of one JSON value of a request against a scalar or enum type, and the state every
// check of request-json.ts adds to (Check): numbers in their type's range, bools, base64 bytes,
// enum names, and strings that are text (the UTF-8 rules in request-json.ts's header). Messages,
// lists and maps are walked in request-json.ts; well-known types in request-json-well-known.ts.
import { ScalarType, type DescEnum } from "@bufbuild/protobuf";
import { quotable, type FieldViolation } from "../errors.js";

/** LONE_SURROGATE matches UTF-16 that is not text (it has no UTF-8 encoding). */
const LONE_SURROGATE = /\p{Cs}/u;
/** REPLACEMENT is what a lenient decoder puts where the bytes were not UTF-8. */
const REPLACEMENT = "\ufffd";
/** MAX_DEPTH is how deeply messages and google.protobuf.Value may nest (protobuf-es's recursion limit). */
export const MAX_DEPTH = 100;
/** A decimal number as JSON writes it, which the proto3 JSON mapping also accepts in a string. */
const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Check collects the field violations of one request as the checks find them. */
export interface Check {
  violations: FieldViolation[];
  /** invalidUtf8 is set when the body was not UTF-8: strings holding U+FFFD are then reported. */
  invalidUtf8: boolean;
}

/** IntRange is the range of a protobuf integer type and its width. */
export interface IntRange {
  min: bigint;
  max: bigint;
  bits: 32 | 64;
}

const INT32: IntRange = { min: -(2n ** 31n), max: 2n ** 31n - 1n, bits: 32 };
const UINT32: IntRange = { min: 0n, max: 2n ** 32n - 1n, bits: 32 };
const INT64: IntRange = { min: -(2n ** 63n), max: 2n ** 63n - 1n, bits: 64 };
const UINT64: IntRange = { min: 0n, max: 2n ** 64n - 1n, bits: 64 };
const FLOAT_MAX = 3.4028234663852886e38;

/** intRange is the range of an integer scalar type; undefined for any other type. */
export function intRange(type: ScalarType): IntRange | undefined {
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

/** add records a field violation. */
export function add(c: Check, field: string, description: string, reason: string): void {
  c.violations.push({ field, description, reason });
}

/** child is the path of `key` inside `path` ("" is the request itself). */
export function child(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/**
 * jsonType names the JSON type of a value for a message, never the value itself: what a client sent
 * in the wrong place may be patient data (a visit reason, a national id as a number).
 */
export function jsonType(value: unknown): string {
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

/** checkString checks that a string is text: no lone surrogate, no U+FFFD where the body was not UTF-8. */
export function checkString(c: Check, path: string, value: string): void {
  if (LONE_SURROGATE.test(value)) {
    add(c, path, "is not valid text (it holds a lone UTF-16 surrogate escape)", "INVALID_UTF8");
  } else if (c.invalidUtf8 && value.includes(REPLACEMENT)) {
    add(c, path, "is not valid UTF-8", "INVALID_UTF8");
  }
}

/** checkAnyJson checks every string of a value whose layout the contract does not fix (google.protobuf.Struct, Value). */
export function checkAnyJson(c: Check, path: string, value: unknown, depth: number): void {
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

/** rangeText words an integer range for a message. */
export function rangeText(r: IntRange): string {
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
export function checkScalar(c: Check, path: string, type: ScalarType, value: unknown): void {
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

/** checkEnum checks a JSON value of an enum field: one of its names, or an int32 for the validators to judge. */
export function checkEnum(c: Check, path: string, desc: DescEnum, value: unknown): void {
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

