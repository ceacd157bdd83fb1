// JSON requests are read strictly where protobuf-es and connect are lenient, so that bad input is
// INVALID_ARGUMENT and never silently becomes something else (DESIGN.md section 3):
//
// * The body must be UTF-8. connect decodes it with a TextDecoder that turns invalid bytes into
//   U+FFFD, which was then stored. Binary Protobuf already refuses invalid UTF-8 in strings.
// * Every string must be text: a JSON escape of a lone UTF-16 surrogate ("\ud800") has no UTF-8
//   form and would be stored as U+FFFD as well.
// * An enum given by name must be a name of that enum. connect parses with protobuf-es's
//   `ignoreUnknownFields: true`, which also drops an unknown enum *name* without a word (IssueTicket
//   with "TICKET_PRIORITY_VIP" became ROUTINE; a ListAppointments status filter of an unknown name
//   listed every status). protobuf-es has one option for both, so unknown names are found here,
//   against the method's input descriptor, before protobuf-es parses the same text.
//
// Unknown *field* names stay ignored, as connect does by default: a client built against a newer
// contract may send fields this server does not know yet, and only the meaning of fields it knows
// is checked. (A misspelt field name is therefore ignored too; the validators report the required
// field it left empty.)
//
// How: connect's JSON serialization takes a `textDecoder` in its options; createStrictJsonOptions
// returns one per method that decodes strictly, checks the parsed document, and hands the same text
// on. It sees the decompressed, unframed message of every protocol (Connect POST and GET, gRPC-web,
// gRPC with +json), in both the in-process gateway and the forwarding one (which parses JSON itself
// before it forwards binary).
import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { domainConnectError, InvalidArgumentError, type FieldViolation } from "./errors.js";

/** LONE_SURROGATE matches UTF-16 that is not text (it has no UTF-8 encoding). */
const LONE_SURROGATE = /\p{Cs}/u;
/** REPLACEMENT is what a lenient decoder puts where the bytes were not UTF-8. */
const REPLACEMENT = "\ufffd";

/** StrictJsonOptions are connect JSON serialization options; only `textDecoder` is set. */
export interface StrictJsonOptions {
  /** textDecoder decodes and checks a JSON request body (connect calls it before parsing). */
  textDecoder: { decode(input?: Uint8Array): string };
}

interface Check {
  violations: FieldViolation[];
  /** invalidUtf8 is set when the body was not UTF-8: strings holding U+FFFD are then reported. */
  invalidUtf8: boolean;
}

function enumNames(desc: DescEnum): string {
  return desc.values.filter((v) => v.number !== 0).map((v) => v.name).join(", ");
}

function checkString(c: Check, path: string, value: string): void {
  if (LONE_SURROGATE.test(value)) {
    c.violations.push({ field: path, description: "is not valid text (it holds a lone UTF-16 surrogate escape)", reason: "INVALID_UTF8" });
  } else if (c.invalidUtf8 && value.includes(REPLACEMENT)) {
    c.violations.push({ field: path, description: "is not valid UTF-8", reason: "INVALID_UTF8" });
  }
}

function checkEnum(c: Check, path: string, desc: DescEnum, value: unknown): void {
  if (typeof value === "string") {
    checkString(c, path, value);
    if (!desc.values.some((v) => v.name === value)) {
      c.violations.push({ field: path, description: `unknown value ${JSON.stringify(value)}; one of ${enumNames(desc)}`, reason: "UNKNOWN_ENUM_VALUE" });
    }
  }
}

/** checkAny checks every string of a value whose layout the contract does not fix (unknown fields, Struct, Any...). */
function checkAny(c: Check, path: string, value: unknown): void {
  if (typeof value === "string") checkString(c, path, value);
  else if (Array.isArray(value)) value.forEach((v, i) => checkAny(c, `${path}[${i}]`, v));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const p = path === "" ? k : `${path}.${k}`;
      checkString(c, p, k);
      checkAny(c, p, v);
    }
  }
}

function fieldOf(desc: DescMessage, key: string): DescField | undefined {
  return desc.fields.find((f) => f.jsonName === key || f.name === key);
}

/** checkItem checks one value of a field (a singular value, a list item or a map value). */
function checkItem(c: Check, path: string, field: DescField, value: unknown): void {
  if (field.enum) checkEnum(c, path, field.enum, value);
  else if (field.message) checkMessage(c, path, field.message, value);
  else checkAny(c, path, value);
}

function checkMessage(c: Check, path: string, desc: DescMessage, json: unknown): void {
  // Well-known types have their own JSON forms (a Timestamp is a string, a Struct any object).
  if (desc.typeName.startsWith("google.protobuf.") || json === null || typeof json !== "object" || Array.isArray(json)) {
    checkAny(c, path, json);
    return;
  }
  for (const [key, value] of Object.entries(json)) {
    const field = fieldOf(desc, key);
    const p = path === "" ? (field?.jsonName ?? key) : `${path}.${field?.jsonName ?? key}`;
    checkString(c, p, key);
    if (!field) {
      checkAny(c, p, value);
    } else if (field.fieldKind === "list" && Array.isArray(value)) {
      value.forEach((v, i) => checkItem(c, `${p}[${i}]`, field, v));
    } else if (field.fieldKind === "map" && value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) {
        const mp = `${p}[${JSON.stringify(k)}]`;
        checkString(c, mp, k);
        checkItem(c, mp, field, v);
      }
    } else {
      checkItem(c, p, field, value);
    }
  }
}

/** NOT_UTF8 is the message for a body that is not UTF-8 outside any string (no field to name). */
const NOT_UTF8 = "the request body is not valid UTF-8; send JSON as UTF-8";

function refuse(violations: FieldViolation[], message?: string): ConnectError {
  return domainConnectError(new InvalidArgumentError(violations, message));
}

/**
 * jsonRequestViolations checks a JSON request document against the input message: strings that are
 * not text, and enum names the enum does not have. `invalidUtf8` says the body had bytes that are not
 * UTF-8 (decoded as U+FFFD): the strings holding U+FFFD are named then.
 */
export function jsonRequestViolations(schema: DescMessage, json: unknown, invalidUtf8 = false): FieldViolation[] {
  const c: Check = { violations: [], invalidUtf8 };
  checkMessage(c, "", schema, json);
  return c.violations;
}

/**
 * createStrictJsonOptions returns connect `jsonOptions` for a method whose input is `schema`: its
 * textDecoder refuses a body that is not UTF-8, strings that are not text and unknown enum names
 * with INVALID_ARGUMENT naming the fields (see the header of request-json.ts), and otherwise
 * returns the text for connect to parse.
 */
export function createStrictJsonOptions(schema: DescMessage): StrictJsonOptions {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const lenient = new TextDecoder("utf-8");
  return {
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
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          if (invalidUtf8) throw refuse([], NOT_UTF8);
          // Not JSON: protobuf-es reports the syntax error (INVALID_ARGUMENT).
          return text;
        }
        const violations = jsonRequestViolations(schema, json, invalidUtf8);
        if (invalidUtf8 && !violations.some((v) => v.reason === "INVALID_UTF8")) throw refuse(violations, NOT_UTF8);
        if (violations.length > 0) throw refuse(violations);
        return text;
      },
    },
  };
}
