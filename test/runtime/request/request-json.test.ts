// The strict JSON reading of requests, alone (issue 18, defects 4, 5 and 12): every JSON mistake is a
// field violation with the field's JSON path, a reason and words without proto type names, found
// before protobuf-es parses (which reported only the first mistake, as "cannot decode field
// medschedule....page_size from JSON: ...", or changed the input silently: "2026-02-30" became
// March 2, "30sfoo" 30 s, an unknown field name was ignored). Checked field kind by field kind on a
// message with every kind (test/fixtures/every-field-kind.ts) and on the real requests; then a
// seeded property test: whatever the reader accepts, protobuf-es parses, over every request message
// of every service and thousands of generated documents.
import t from "tap";
import { fromJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { IssueTicketRequestSchema, QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import {
  ListAppointmentsRequestSchema,
  ListProvidersRequestSchema,
  SchedulingService,
  SetAvailabilityRequestSchema,
} from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { checkJsonRequest, createStrictJsonOptions, jsonRequestViolations } from "../../../services/runtime/request/request-json.js";
import { duplicateKeys } from "../../../services/runtime/request/request-json-duplicate-keys.js";
import { KindsSchema } from "../../fixtures/every-field-kind.js";
import { seededRandom as prng } from "../../helpers/seeded-random.js";

const fields = (schema: DescMessage, json: string) => jsonRequestViolations(schema, JSON.parse(json)).map((v) => [v.field, v.reason]);

/** refusal runs checkJsonRequest and returns its error, or undefined when it accepted the text. */
function refusal(schema: DescMessage, text: string): ConnectError | undefined {
  try {
    checkJsonRequest(schema, text);
  } catch (err) {
    return err as ConnectError;
  }
  return undefined;
}

/** Each case: a field of Kinds, a JSON value, and the reason expected (undefined: accepted). */
const KIND_CASES: [string, string, string | undefined][] = [
  // 32-bit integers: numbers or decimal strings, whole, in range.
  ["int32Value", "7", undefined],
  ["int32Value", '"7"', undefined],
  ["int32Value", '"1e2"', undefined],
  ["int32Value", "-2147483648", undefined],
  ["int32Value", "2147483647", undefined],
  ["int32Value", "2147483648", "OUT_OF_RANGE"],
  ["int32Value", '"2147483648"', "OUT_OF_RANGE"],
  ["int32Value", "-2147483649", "OUT_OF_RANGE"],
  ["int32Value", "1.5", "INVALID_VALUE"],
  ["int32Value", '"1.5"', "INVALID_VALUE"],
  ["int32Value", '" 7"', "INVALID_VALUE"],
  ["int32Value", '"0x10"', "INVALID_VALUE"],
  ["int32Value", '""', "INVALID_VALUE"],
  ["int32Value", "true", "INVALID_VALUE"],
  ["int32Value", "[]", "INVALID_VALUE"],
  ["int32Value", "{}", "INVALID_VALUE"],
  ["int32Value", "null", undefined],
  ["uint32Value", "-1", "OUT_OF_RANGE"],
  ["uint32Value", "4294967295", undefined],
  ["uint32Value", "4294967296", "OUT_OF_RANGE"],
  ["sint32Value", "-5", undefined],
  ["fixed32Value", "-5", "OUT_OF_RANGE"],
  ["sfixed32Value", "1e10", "OUT_OF_RANGE"],
  // 64-bit integers: strings, or numbers that are exact in JSON.
  ["int64Value", '"9223372036854775807"', undefined],
  ["int64Value", '"9223372036854775808"', "OUT_OF_RANGE"],
  ["int64Value", '"-9223372036854775808"', undefined],
  ["int64Value", "9007199254740991", undefined],
  ["int64Value", "9007199254740993", "OUT_OF_RANGE"],
  ["int64Value", '"1e3"', "INVALID_VALUE"],
  ["int64Value", "1.5", "INVALID_VALUE"],
  ["uint64Value", '"18446744073709551615"', undefined],
  ["uint64Value", '"18446744073709551616"', "OUT_OF_RANGE"],
  ["uint64Value", '"-1"', "OUT_OF_RANGE"],
  ["uint64Value", "-1", "OUT_OF_RANGE"],
  ["sint64Value", '"-12"', undefined],
  ["fixed64Value", '"12"', undefined],
  ["sfixed64Value", "false", "INVALID_VALUE"],
  // Floating point: numbers, decimal strings and the three special names.
  ["doubleValue", "1.5", undefined],
  ["doubleValue", '"1.5"', undefined],
  ["doubleValue", '"NaN"', undefined],
  ["doubleValue", '"-Infinity"', undefined],
  ["doubleValue", '"nan"', "INVALID_VALUE"],
  ["doubleValue", "1e999", "OUT_OF_RANGE"],
  ["doubleValue", "true", "INVALID_VALUE"],
  ["floatValue", "1e38", undefined],
  ["floatValue", "1e39", "OUT_OF_RANGE"],
  // bool, string, bytes.
  ["boolValue", "true", undefined],
  ["boolValue", '"true"', "INVALID_VALUE"],
  ["boolValue", "1", "INVALID_VALUE"],
  ["stringValue", '"x"', undefined],
  ["stringValue", "5", "INVALID_VALUE"],
  ["stringValue", '"\\ud800"', "INVALID_UTF8"],
  ["bytesValue", '"AAEC"', undefined],
  ["bytesValue", '"AA-_"', undefined],
  ["bytesValue", '"AAE="', undefined],
  ["bytesValue", '"A"', "INVALID_VALUE"],
  ["bytesValue", '"!!"', "INVALID_VALUE"],
  ["bytesValue", "5", "INVALID_VALUE"],
  // Enums: a name of the enum, or an int32 number (the validators judge numbers).
  ["color", '"COLOR_RED"', undefined],
  ["color", "2", undefined],
  ["color", '"COLOR_BLUE"', "UNKNOWN_ENUM_VALUE"],
  ["color", '"color_red"', "UNKNOWN_ENUM_VALUE"],
  ["color", '"1"', "UNKNOWN_ENUM_VALUE"],
  ["color", "1.5", "INVALID_VALUE"],
  ["color", "2147483648", "OUT_OF_RANGE"],
  ["color", "true", "INVALID_VALUE"],
  // Messages.
  ["child", "{}", undefined],
  ["child", '"x"', "INVALID_VALUE"],
  ["child", "[]", "INVALID_VALUE"],
  ["child", "null", undefined],
  // Lists: arrays (null is the empty list), never null items.
  ["strings", '["a","b"]', undefined],
  ["strings", "null", undefined],
  ["strings", '"a"', "INVALID_VALUE"],
  ["strings", "{}", "INVALID_VALUE"],
  ["numbers", "[1,2147483648]", "OUT_OF_RANGE"],
  ["colors", '["COLOR_RED",null]', "INVALID_VALUE"],
  ["children", "[{},5]", "INVALID_VALUE"],
  // Maps: objects with keys of the key type, values of the value type, no null values.
  ["byName", '{"a":1}', undefined],
  ["byName", '{"a":"x"}', "INVALID_VALUE"],
  ["byName", '{"a":null}', "INVALID_VALUE"],
  ["byName", "[]", "INVALID_VALUE"],
  ["byInt64", '{"12":"a","-3":"b"}', undefined],
  ["byInt64", '{"x":"a"}', "INVALID_VALUE"],
  ["byInt64", '{"1":"a","01":"b"}', "DUPLICATE_FIELD"],
  ["byInt64", '{"9223372036854775808":"a"}', "OUT_OF_RANGE"],
  ["byBool", '{"true":{}}', undefined],
  ["byBool", '{"yes":{}}', "INVALID_VALUE"],
  ["byUint32", '{"1":"COLOR_RED"}', undefined],
  ["byUint32", '{"-1":"COLOR_RED"}', "OUT_OF_RANGE"],
  ["byUint32", '{"1":"COLOR_PINK"}', "UNKNOWN_ENUM_VALUE"],
  // Timestamps: a real RFC 3339 date and time, 0001 to 9999.
  ["time", '"2026-01-05T09:00:00Z"', undefined],
  ["time", '"2026-01-05T09:00:00.123456789+03:00"', undefined],
  ["time", '"2024-02-29T00:00:00Z"', undefined],
  ["time", '"0001-01-01T00:00:00Z"', undefined],
  ["time", '"9999-12-31T23:59:59.999Z"', undefined],
  ["time", '"2026-13-01T00:00:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-02-30T00:00:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-02-29T00:00:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2100-02-29T00:00:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-12-31T24:00:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-12-31T23:59:60Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-01-05T09:00:00+24:00"', "INVALID_TIMESTAMP"],
  ["time", '"2026-01-05t09:00:00z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-01-05 09:00:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-01-05T09:00Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-01-05T09:00:00.1234567890Z"', "INVALID_TIMESTAMP"],
  ["time", '"2026-01-05"', "INVALID_TIMESTAMP"],
  ["time", '"0001-01-01T00:00:00+01:00"', "OUT_OF_RANGE"],
  ["time", '"9999-12-31T23:59:59-01:00"', "OUT_OF_RANGE"],
  ["time", "1767603600", "INVALID_TIMESTAMP"],
  ["time", "{}", "INVALID_TIMESTAMP"],
  ["times", '["2026-01-05T09:00:00Z","tomorrow"]', "INVALID_TIMESTAMP"],
  // Durations: seconds, up to 9 fraction digits, then "s".
  ["length", '"900s"', undefined],
  ["length", '"1.5s"', undefined],
  ["length", '"-0.5s"', undefined],
  ["length", '"0.000000001s"', undefined],
  ["length", '"315576000000s"', undefined],
  ["length", '"315576000001s"', "OUT_OF_RANGE"],
  ["length", '"5 minutes"', "INVALID_DURATION"],
  ["length", '"30sfoo"', "INVALID_DURATION"],
  ["length", '"1.0000000001s"', "INVALID_DURATION"],
  ["length", '"1e3s"', "INVALID_DURATION"],
  ["length", '".5s"', "INVALID_DURATION"],
  ["length", '"PT15M"', "INVALID_DURATION"],
  ["length", "900", "INVALID_DURATION"],
  // The other well-known types.
  ["mask", '"displayName,timeZone"', undefined],
  ["mask", '"display_name"', "INVALID_VALUE"],
  ["mask", "5", "INVALID_VALUE"],
  ["structValue", '{"a":[1,{"b":null}]}', undefined],
  ["structValue", "[]", "INVALID_VALUE"],
  ["anyJson", "null", undefined],
  ["anyJson", '{"x":[true]}', undefined],
  ["anyList", "[null,1]", undefined],
  ["listValue", '[1,"a"]', undefined],
  ["listValue", "{}", "INVALID_VALUE"],
  ["int32Wrapper", "5", undefined],
  ["int32Wrapper", "null", undefined],
  ["int32Wrapper", '"x"', "INVALID_VALUE"],
  ["int64Wrapper", '"5"', undefined],
  ["stringWrapper", "5", "INVALID_VALUE"],
  ["boolWrapper", '"no"', "INVALID_VALUE"],
  ["packed", "{}", undefined],
  ["packed", '{"@type":"type.googleapis.com/medschedule.Nope"}', "INVALID_VALUE"],
  ["nothing", "{}", undefined],
  ["nothing", '{"a":1}', "UNKNOWN_FIELD"],
  ["maybe", "0", undefined],
];

t.test("every JSON type mistake, field kind by field kind: the field's path and a reason", async (t) => {
  for (const [field, value, reason] of KIND_CASES) {
    const got = jsonRequestViolations(KindsSchema, JSON.parse(`{"${field}":${value}}`));
    if (reason === undefined) {
      t.same(got, [], `${field}: ${value} is accepted`);
      // and protobuf-es parses it, as the property test below checks at large
      t.doesNotThrow(() => fromJson(KindsSchema, JSON.parse(`{"${field}":${value}}`) as JsonValue, { ignoreUnknownFields: false }), `${field}: ${value} parses`);
    } else {
      t.ok(got.length > 0 && got.every((v) => v.field.startsWith(field) && v.reason === reason), `${field}: ${value} is ${reason}`, { got });
      for (const v of got) t.notMatch(v.description, /google\.protobuf|medschedule\.|cannot decode/, `${field}: ${value}: no proto names (${v.description})`);
    }
  }
});

t.test("nested paths are JSON names, every mistake reported at once", async (t) => {
  t.same(
    fields(KindsSchema, '{"child":{"int32_value":1.5,"children":[{},{"color":"PINK"}]},"byName":{"k":[]},"times":[null]}'),
    [
      ["child.int32Value", "INVALID_VALUE"],
      ["child.children[1].color", "UNKNOWN_ENUM_VALUE"],
      ['byName["k"]', "INVALID_VALUE"],
      ["times[0]", "INVALID_VALUE"],
    ],
  );
  t.same(fields(KindsSchema, '{"choiceText":"a","choiceNumber":2}'), [["choiceNumber", "ONEOF_CONFLICT"]], "two members of one oneof");
  t.same(fields(KindsSchema, '{"choiceText":null,"choiceNumber":2}'), [], "a null member does not count");
  t.same(fields(KindsSchema, '{"int32Value":1,"int32_value":2}'), [["int32Value", "DUPLICATE_FIELD"]], "one field by both its names");
});

t.test("the real requests: the reported cases and their kin", async (t) => {
  t.same(fields(ListProvidersRequestSchema, '{"pageSize":2147483648}'), [["pageSize", "OUT_OF_RANGE"]]);
  t.same(fields(ListProvidersRequestSchema, '{"pageSize":"1.5"}'), [["pageSize", "INVALID_VALUE"]]);
  const [v] = jsonRequestViolations(ListProvidersRequestSchema, { pageSize: 2147483648 });
  t.equal(v.description, "must be a whole number from -2147483648 to 2147483647", "the value sent is not repeated");
  t.same(fields(IssueTicketRequestSchema, '{"priority":"TICKET_PRIORITY_VIP"}'), [["priority", "UNKNOWN_ENUM_VALUE"]]);
  t.same(fields(IssueTicketRequestSchema, '{"priority":"TICKET_PRIORITY_URGENT","appointmentTime":"2026-13-01T00:00:00Z"}'), [["appointmentTime", "INVALID_TIMESTAMP"]]);
  t.same(fields(ListAppointmentsRequestSchema, '{"statuses":["APPOINTMENT_STATUS_BOOKED","NOPE"]}'), [["statuses[1]", "UNKNOWN_ENUM_VALUE"]]);
  t.same(fields(ListAppointmentsRequestSchema, '{"statuses":"APPOINTMENT_STATUS_BOOKED"}'), [["statuses", "INVALID_VALUE"]]);
  t.same(
    fields(SetAvailabilityRequestSchema, '{"weekly_hours":[{"dayOfWeek":"DAY_OF_WEEK_MONDAY"},{"day_of_week":"FUNDAY"}],"slotDuration":"5 minutes","buffer":300}'),
    [["weeklyHours[1].dayOfWeek", "UNKNOWN_ENUM_VALUE"], ["slotDuration", "INVALID_DURATION"], ["buffer", "INVALID_DURATION"]],
    "by proto or JSON name, reported by JSON name",
  );
  const described = jsonRequestViolations(IssueTicketRequestSchema, { priority: "VIP" })[0]?.description ?? "";
  t.match(described, /TICKET_PRIORITY_URGENT/, "the description lists the names there are");
});

t.test("unknown field names are refused, with the field meant when it is near", async (t) => {
  const status = jsonRequestViolations(ListAppointmentsRequestSchema, { providerId: "p", status: ["APPOINTMENT_STATUS_BOOKED"] });
  t.same(status.map((v) => [v.field, v.reason]), [["status", "UNKNOWN_FIELD"]], "a misspelt filter no longer lists everything");
  t.match(status[0].description, /did you mean "statuses"/);
  t.same(fields(IssueTicketRequestSchema, '{"futureField":{"deep":[1,"x"]},"queueId":"q"}'), [["futureField", "UNKNOWN_FIELD"]]);
  t.match(jsonRequestViolations(IssueTicketRequestSchema, { zzzzzzzz: 1 })[0].description, /the fields are requestId, queueId/, "far from every name: the list of fields");
  t.same(fields(SetAvailabilityRequestSchema, '{"weeklyHours":[{"day":"DAY_OF_WEEK_MONDAY"}]}'), [["weeklyHours[0].day", "UNKNOWN_FIELD"]], "in a nested message");
});

t.test("strings must be text", async (t) => {
  t.same(fields(IssueTicketRequestSchema, '{"queueId":"q\\ud800"}'), [["queueId", "INVALID_UTF8"]], "a lone surrogate");
  t.same(fields(IssueTicketRequestSchema, '{"queueId":"q\\ud83d\\ude42"}'), [], "a surrogate pair is text");
  t.same(fields(IssueTicketRequestSchema, '{"appointmentTime":"2026-01-05T09:00:00\\ud800Z"}'), [["appointmentTime", "INVALID_UTF8"], ["appointmentTime", "INVALID_TIMESTAMP"]], "in a well-known type's string");
});

t.test("repeated keys, and bodies that are not a JSON object", async (t) => {
  t.same(duplicateKeys('{"a":1,"b":{"c":[{"d":1,"d":2}],"c":3},"a":2}'), ["b.c[0].d", "b.c", "a"]);
  t.same(duplicateKeys('{"a":"\\"a\\"","\\u0061":1}'), ["a"], "an escaped key is the same key");
  t.same(duplicateKeys('[{"a":1},{"a":1}]'), [], "the same key in two objects");
  const dup = refusal(ListProvidersRequestSchema, '{"pageSize":1,"pageSize":2}');
  t.same(dup?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => [v.field, v.reason]), [["pageSize", "DUPLICATE_FIELD"]], "JSON.parse would keep the last");
  for (const [text, message] of [
    ["", /empty/],
    ["  ", /empty/],
    ['{"pageSize":', /not valid JSON/],
    ["[]", /must be a JSON object/],
    ["5", /must be a JSON object/],
    ["null", /must be a JSON object/],
  ] as [string, RegExp][]) {
    const err = refusal(ListProvidersRequestSchema, text);
    t.equal(err?.code, Code.InvalidArgument, `${JSON.stringify(text)}: INVALID_ARGUMENT`);
    t.match(err?.rawMessage ?? "", message);
    t.notMatch(err?.rawMessage ?? "", /medschedule\.|google\.protobuf/, "without proto names");
  }
});

t.test("the decoder connect calls: refuses with INVALID_ARGUMENT, ErrorInfo and field violations, else hands the text on", async (t) => {
  const options = createStrictJsonOptions(IssueTicketRequestSchema);
  t.equal(options.ignoreUnknownFields, false, "protobuf-es refuses unknown fields too");
  const { textDecoder } = options;
  const text = '{"queueId":"q","priority":"TICKET_PRIORITY_ROUTINE"}';
  t.equal(textDecoder.decode(new TextEncoder().encode(text)), text, "valid JSON comes back as it was");
  const refused = (bytes: Uint8Array) => {
    try {
      textDecoder.decode(bytes);
    } catch (err) {
      return err as ConnectError;
    }
    return undefined;
  };
  const bad = refused(Buffer.concat([Buffer.from('{"queueId":"q'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
  t.ok(bad instanceof ConnectError && bad.code === Code.InvalidArgument, "invalid UTF-8 in a string: INVALID_ARGUMENT");
  t.same(bad?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => [v.field, v.reason]), [["queueId", "INVALID_UTF8"]], "naming the field");
  const outside = refused(Buffer.concat([Buffer.from('{"queueId":"q",'), Buffer.from([0xff]), Buffer.from("}")]));
  t.equal(outside?.code, Code.InvalidArgument, "invalid UTF-8 outside a string: INVALID_ARGUMENT");
  t.match(outside?.rawMessage ?? "", /not valid UTF-8/);
  const vip = refused(new TextEncoder().encode('{"priority":"TICKET_PRIORITY_VIP"}'));
  t.same(vip?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["priority"], "an unknown enum name");
  const range = refused(new TextEncoder().encode('{"requestId":"r","queueId":"q","extra":1,"priority":1.5}'));
  t.equal(range?.findDetails(ErrorInfoSchema)[0]?.domain, "medschedule.io", "ErrorInfo");
  t.same(range?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => [v.field, v.reason]), [["extra", "UNKNOWN_FIELD"], ["priority", "INVALID_VALUE"]]);
  t.equal(range?.rawMessage, 'extra: is not a field here; the fields are requestId, queueId, patientId, priority, appointmentId, appointmentTime; priority: must be a whole number from -2147483648 to 2147483647 (got a number)');
});

t.test("accepted timestamps and durations mean exactly what was written", async (t) => {
  for (const [text, iso] of [
    ["2026-01-05T09:00:00Z", "2026-01-05T09:00:00.000Z"],
    ["2026-01-05T12:30:00+03:30", "2026-01-05T09:00:00.000Z"],
    ["2026-01-01T01:00:00+02:00", "2025-12-31T23:00:00.000Z"],
    ["2024-02-29T23:59:59.5-00:30", "2024-03-01T00:29:59.500Z"],
  ]) {
    t.same(jsonRequestViolations(KindsSchema, { time: text }), [], `${text} accepted`);
    const m = fromJson(KindsSchema, { time: text } as JsonValue) as unknown as { time: Parameters<typeof timestampDate>[0] };
    t.equal(timestampDate(m.time).toISOString(), iso, `${text} is ${iso}`);
  }
});

// ---- property: what the reader accepts, protobuf-es parses --------------------------------------

/** Values that are, for some field kind or other, valid, invalid or borderline. */
const POOL: unknown[] = [
  null, true, false, 0, 1, -1, 1.5, 2147483647, 2147483648, -2147483649, 4294967296, 9007199254740993, 1e39, 1e300,
  "", " ", "x", "7", "1.5", "1e2", "0x10", "-0", "007", "NaN", "Infinity", "-Infinity", "true",
  "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "-1",
  "AAEC", "AA-_", "A", "\ud800",
  "COLOR_RED", "COLOR_BLUE", "DAY_OF_WEEK_MONDAY", "APPOINTMENT_STATUS_BOOKED", "TICKET_PRIORITY_URGENT", "BACKUP_TARGET_POSTGRES",
  "2026-01-05T09:00:00Z", "2026-02-30T00:00:00Z", "2026-12-31T24:00:00Z", "2026-01-05T09:00:00.123456789+03:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999999Z",
  "900s", "1.5s", "-0.5s", "30sfoo", "1.0000000001s", "315576000001s", "5 minutes",
  "displayName,timeZone", "a_b",
  [], {}, [null], ["x", 1], { a: 1 }, { "@type": "x" },
];

function generate(desc: DescMessage, rnd: () => number, depth: number): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  for (const f of desc.fields) {
    if (rnd() < 0.6) continue;
    const key = rnd() < 0.2 ? f.name : f.jsonName;
    const valueFor = (): unknown => {
      if (f.fieldKind === "message" && !f.message.typeName.startsWith("google.") && depth < 3 && rnd() < 0.6) return generate(f.message, rnd, depth + 1);
      if (f.fieldKind === "list" && f.message && !f.message.typeName.startsWith("google.") && depth < 3 && rnd() < 0.5) return [generate(f.message, rnd, depth + 1)];
      if (f.fieldKind === "list" && rnd() < 0.5) return [pick(POOL), pick(POOL)].slice(0, 1 + Math.floor(rnd() * 2));
      if (f.fieldKind === "map" && rnd() < 0.5) return { [pick(["a", "1", "01", "true", "-1", "x"])]: pick(POOL) };
      return pick(POOL);
    };
    doc[key] = valueFor();
  }
  if (rnd() < 0.05) doc.notAField = 1;
  return doc;
}

t.test("property: whatever the strict reader accepts, protobuf-es parses; what it refuses it says without proto names", async (t) => {
  const schemas = [KindsSchema, ...[SchedulingService, QueueService, LockService, BackupService, PatientService].flatMap((s) => s.methods.map((m) => m.input))];
  const rnd = prng(20261206);
  let accepted = 0;
  let refused = 0;
  for (const schema of schemas) {
    const runs = schema === KindsSchema ? 20_000 : 1_000;
    for (let i = 0; i < runs; i++) {
      const doc = generate(schema, rnd, 0);
      const violations = jsonRequestViolations(schema, doc);
      if (violations.length === 0) {
        accepted++;
        try {
          fromJson(schema, doc as JsonValue, { ignoreUnknownFields: false });
        } catch (err) {
          t.fail(`${schema.typeName}: accepted ${JSON.stringify(doc)} but protobuf-es says: ${(err as Error).message}`);
          return;
        }
      } else {
        refused++;
        for (const v of violations) {
          if (/google\.protobuf|medschedule\.|cannot decode/.test(`${v.field} ${v.description}`) || !v.reason) {
            t.fail(`${schema.typeName}: ${JSON.stringify(v)}`);
            return;
          }
        }
      }
    }
  }
  t.ok(accepted > 2000 && refused > 2000, `${accepted} accepted and parsed, ${refused} refused`);
});
