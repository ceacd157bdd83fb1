// The strict JSON reading of requests, alone: what it refuses (bodies that are not UTF-8, strings
// that are not text, enum names the enum does not have, at any depth) and what it lets through
// untouched (known names, numbers, unknown field names, text that is not JSON: protobuf-es reports that).
import t from "tap";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { IssueTicketRequestSchema } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { ListAppointmentsRequestSchema, SetAvailabilityRequestSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createStrictJsonOptions, jsonRequestViolations } from "../../services/runtime/request-json.js";

const fields = (schema: Parameters<typeof jsonRequestViolations>[0], json: string) => jsonRequestViolations(schema, JSON.parse(json)).map((v) => [v.field, v.reason]);

t.test("enum names must be names of the enum, at any depth", async (t) => {
  t.same(fields(IssueTicketRequestSchema, '{"priority":"TICKET_PRIORITY_URGENT"}'), [], "a known name");
  t.same(fields(IssueTicketRequestSchema, '{"priority":4}'), [], "a number is for the validators (unknown numbers are UNKNOWN_ENUM_VALUE there)");
  t.same(fields(IssueTicketRequestSchema, '{"priority":null}'), [], "null is unset");
  t.same(fields(IssueTicketRequestSchema, '{"priority":"TICKET_PRIORITY_VIP"}'), [["priority", "UNKNOWN_ENUM_VALUE"]]);
  t.same(fields(IssueTicketRequestSchema, '{"priority":"4"}'), [["priority", "UNKNOWN_ENUM_VALUE"]], "a number in a string is not a name");
  t.same(fields(IssueTicketRequestSchema, '{"priority":"ticket_priority_urgent"}'), [["priority", "UNKNOWN_ENUM_VALUE"]], "names are case-sensitive");
  t.same(fields(ListAppointmentsRequestSchema, '{"statuses":["APPOINTMENT_STATUS_BOOKED","NOPE"]}'), [["statuses[1]", "UNKNOWN_ENUM_VALUE"]], "in a list");
  t.same(
    fields(SetAvailabilityRequestSchema, '{"weekly_hours":[{"dayOfWeek":"DAY_OF_WEEK_MONDAY"},{"day_of_week":"FUNDAY"}]}'),
    [["weeklyHours[1].dayOfWeek", "UNKNOWN_ENUM_VALUE"]],
    "in a nested message, by proto or JSON name, reported by JSON name",
  );
  const described = jsonRequestViolations(IssueTicketRequestSchema, { priority: "VIP" })[0]?.description ?? "";
  t.match(described, /TICKET_PRIORITY_URGENT/, "the description lists the names there are");
});

t.test("strings must be text; unknown field names are ignored", async (t) => {
  t.same(fields(IssueTicketRequestSchema, '{"queueId":"q\\ud800"}'), [["queueId", "INVALID_UTF8"]], "a lone surrogate");
  t.same(fields(IssueTicketRequestSchema, '{"queueId":"q\\ud83d\\ude42"}'), [], "a surrogate pair is text");
  t.same(fields(IssueTicketRequestSchema, '{"futureField":{"deep":[1,"x"]},"queueId":"q"}'), [], "unknown fields pass");
  t.same(fields(IssueTicketRequestSchema, '{"futureField":"\\udc00"}'), [["futureField", "INVALID_UTF8"]], "but not as broken text");
  t.same(fields(IssueTicketRequestSchema, '{"appointmentTime":"2026-01-05T09:00:00\\ud800Z"}'), [["appointmentTime", "INVALID_UTF8"]], "in a well-known type's string");
});

t.test("the decoder connect calls: refuses with INVALID_ARGUMENT, else hands the text on", async (t) => {
  const { textDecoder } = createStrictJsonOptions(IssueTicketRequestSchema);
  const text = '{"queueId":"q","priority":"TICKET_PRIORITY_ROUTINE","extra":true}';
  t.equal(textDecoder.decode(new TextEncoder().encode(text)), text, "valid JSON comes back as it was");
  t.equal(textDecoder.decode(new TextEncoder().encode("{not json")), "{not json", "not JSON: left to protobuf-es");
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
});
