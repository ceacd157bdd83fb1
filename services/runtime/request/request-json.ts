// JSON requests are read strictly, against the method's input descriptor, before protobuf-es parses
// them, so that bad input is INVALID_ARGUMENT naming the field and never silently becomes something
// else (DESIGN.md section 3). This is the one place where every JSON type mistake is found; what it
// lets through, protobuf-es parses without an error (test/runtime/request/request-json.test.ts checks that
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
//
// Where: this file walks messages, lists and maps and refuses the body; the checks of one scalar or
// enum value are in request-json-values.ts, the well-known types' JSON forms in
// request-json-well-known.ts, repeated keys in request-json-duplicate-keys.ts.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { domainConnectError, InvalidArgumentError, MalformedRequestError, type FieldViolation } from "../errors.js";
import { duplicateKeys } from "./request-json-duplicate-keys.js";
import { add, checkEnum, checkScalar, checkString, child, intRange, jsonType, MAX_DEPTH, rangeText, type Check } from "./request-json-values.js";
import { checkWellKnown } from "./request-json-well-known.js";

/** StrictJsonOptions are connect JSON serialization options: the strict `textDecoder`, and unknown fields refused by protobuf-es too. */
export interface StrictJsonOptions {
  /** textDecoder decodes and checks a JSON request body (connect calls it before parsing). */
  textDecoder: { decode(input?: Uint8Array): string };
  /** ignoreUnknownFields is false: protobuf-es refuses what the strict reader refused already. */
  ignoreUnknownFields: false;
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
