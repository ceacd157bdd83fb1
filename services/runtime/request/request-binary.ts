// A binary Protobuf request that does not decode is INVALID_ARGUMENT with details, the same on every
// server: ErrorInfo always, and a BadRequest violation naming the field when one can be named.
//
// protobuf-es's fromBinary reports only what went wrong ("premature EOF", or TextDecoder's "The
// encoded data was not valid for encoding utf-8"), never where; connect answered that as INTERNAL
// "parse binary: ..." and grpc-js servers as INVALID_ARGUMENT without details. When fromBinary fails,
// binaryDecodeError reads the same bytes again, strictly, against the message descriptor (as the
// JSON reader, request-json.ts, reads JSON) and follows the field path to the failure: invalid UTF-8
// in a string field is a violation of that field (INVALID_UTF8); anything else (the bytes end early,
// a broken tag, nesting too deep) is MALFORMED_REQUEST, saying in which field it happened.
//
// The second pass runs only for requests that failed: valid requests are decoded once, by protobuf-es.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { ConnectError } from "@connectrpc/connect";
import { domainConnectError, InvalidArgumentError, MalformedRequestError } from "../errors.js";

/** RECURSION_LIMIT is protobuf-es's default nesting limit for binary messages. */
const RECURSION_LIMIT = 100;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** BrokenAt is where the strict pass stopped: the field path (proto3 JSON names; "" for the message itself) and what was wrong. */
class BrokenAt extends Error {
  constructor(
    readonly field: string,
    readonly invalidUtf8: boolean,
    readonly what: string,
  ) {
    super(what);
  }
}

function child(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

/** what says in words what a reader error means; protobuf-es's own words are kept out of messages. */
function what(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  if (/premature EOF|out of range|index/i.test(message)) return "the bytes end early";
  if (/recursion|depth/i.test(message)) return `it is nested more than ${RECURSION_LIMIT} levels deep`;
  if (/varint/i.test(message)) return "a number in it is not a valid varint";
  return "its binary form is broken";
}

function readString(reader: BinaryReader, path: string, validate: boolean): void {
  const bytes = reader.bytes();
  if (!validate) return;
  try {
    strictUtf8.decode(bytes);
  } catch {
    throw new BrokenAt(path, true, "is not valid UTF-8");
  }
}

function readScalar(reader: BinaryReader, type: ScalarType, path: string, validate: boolean): void {
  switch (type) {
    case ScalarType.STRING:
      return readString(reader, path, validate);
    case ScalarType.BYTES:
      reader.bytes();
      return;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      reader.double();
      return;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      reader.float();
      return;
    case ScalarType.BOOL:
      reader.bool();
      return;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
      reader.int64();
      return;
    default:
      reader.uint32();
  }
}

function readMessageField(reader: BinaryReader, field: DescField & { message: DescMessage }, path: string, depth: number): void {
  const delimited = field.delimitedEncoding === true;
  readMessage(reader, field.message, path, delimited, delimited ? field.number : reader.uint32(), depth);
}

/** readField reads one occurrence of a known field as protobuf-es does (the wire type only decides packed lists). */
function readField(reader: BinaryReader, field: DescField, wireType: WireType, path: string, depth: number): void {
  switch (field.fieldKind) {
    case "scalar":
      return readScalar(reader, field.scalar, path, field.utf8Validation === true);
    case "enum":
      reader.int32();
      return;
    case "message":
      return readMessageField(reader, field, path, depth);
    case "list": {
      if (field.listKind === "message") return readMessageField(reader, field, path, depth);
      const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
      const packed = wireType === WireType.LengthDelimited && type !== ScalarType.STRING && type !== ScalarType.BYTES;
      if (!packed) return readScalar(reader, type, path, field.utf8Validation === true);
      const end = reader.uint32() + reader.pos;
      while (reader.pos < end) readScalar(reader, type, path, false);
      return;
    }
    case "map": {
      const end = reader.uint32() + reader.pos;
      while (reader.pos < end) {
        const [no] = reader.tag();
        if (no === 1) readScalar(reader, field.mapKey, path, field.utf8Validation === true);
        else if (no === 2 && field.mapKind === "scalar") readScalar(reader, field.scalar, path, field.utf8Validation === true);
        else if (no === 2 && field.mapKind === "enum") reader.int32();
        else if (no === 2 && field.mapKind === "message") readMessage(reader, field.message, path, false, reader.uint32(), depth);
      }
      return;
    }
  }
}

function readMessage(reader: BinaryReader, desc: DescMessage, path: string, delimited: boolean, lengthOrFieldNo: number, depth: number): void {
  if (depth > RECURSION_LIMIT) throw new BrokenAt(path, false, what(new Error("recursion")));
  const end = delimited ? reader.len : reader.pos + lengthOrFieldNo;
  let fieldNo = 0;
  let wireType: WireType | undefined;
  while (reader.pos < end) {
    [fieldNo, wireType] = reader.tag();
    if (delimited && wireType === WireType.EndGroup) break;
    const field = desc.fields.find((f) => f.number === fieldNo);
    if (!field) {
      reader.skip(wireType, fieldNo, RECURSION_LIMIT - depth);
      continue;
    }
    const at = child(path, field.jsonName);
    try {
      readField(reader, field, wireType, at, depth + 1);
    } catch (err) {
      throw err instanceof BrokenAt ? err : new BrokenAt(at, false, what(err));
    }
  }
  if (delimited && (wireType !== WireType.EndGroup || fieldNo !== lengthOrFieldNo)) throw new BrokenAt(path, false, "a group does not end where it should");
}

/**
 * findBinaryProblem reads `bytes` strictly as a `desc` message and says where it fails: the field
 * path ("" for the message itself), whether it is invalid UTF-8 in a string, and what; undefined
 * when it reads cleanly.
 */
export function findBinaryProblem(desc: DescMessage, bytes: Uint8Array): { field: string; invalidUtf8: boolean; what: string } | undefined {
  try {
    readMessage(new BinaryReader(bytes), desc, "", false, bytes.byteLength, 1);
    return undefined;
  } catch (err) {
    if (err instanceof BrokenAt) return { field: err.field, invalidUtf8: err.invalidUtf8, what: err.what };
    return { field: "", invalidUtf8: false, what: what(err) };
  }
}

/**
 * binaryDecodeError is the INVALID_ARGUMENT for binary request bytes that protobuf-es could not
 * decode as `desc`: a field violation (INVALID_UTF8) for invalid UTF-8 in a string field, else
 * MALFORMED_REQUEST saying where the bytes broke. Always with ErrorInfo; never quoting the bytes.
 * `bytes` undefined (not at hand) gives the MALFORMED_REQUEST without a place.
 */
export function binaryDecodeError(desc: DescMessage, bytes: Uint8Array | undefined): ConnectError {
  const problem = bytes === undefined ? undefined : findBinaryProblem(desc, bytes);
  if (problem?.invalidUtf8) {
    return domainConnectError(new InvalidArgumentError([{ field: problem.field, description: problem.what, reason: "INVALID_UTF8" }]));
  }
  const where = problem && problem.field !== "" ? ` at the field ${problem.field}` : "";
  const why = problem ? ` (${problem.what}${where})` : "";
  return domainConnectError(new MalformedRequestError(`the request body is not this call's request message in binary Protobuf${why}; send the request message the API describes`));
}
