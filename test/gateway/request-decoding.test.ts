// Bad input is refused, never silently changed (issue 18, defects 4 and 5), in both modes: the gateway
// of `npm start` (the service classes in-process, on PGlite) and the forwarding gateway of
// distributed mode (which parses JSON itself and forwards binary to the services on Postgres), over
// every protocol that carries JSON: Connect POST and GET, gRPC-web and gRPC.
// * An unknown enum name in JSON was dropped (IssueTicket with "TICKET_PRIORITY_VIP" became ROUTINE;
//   an unknown ListAppointments status filter listed every status): INVALID_ARGUMENT naming the field.
// * Invalid UTF-8 inside a JSON string was stored as U+FFFD, and so was a lone surrogate escape:
//   INVALID_ARGUMENT naming the field, nothing stored.
// * An unknown JSON field name was ignored, so a misspelt filter ("status") listed every status: it
//   is INVALID_ARGUMENT naming the field (binary Protobuf keeps unknown fields, as protobuf does).
// * A JSON value of the wrong type or range ({"pageSize":2147483648}) answered protobuf-es's "cannot
//   decode field medschedule....page_size from JSON" without field violations or ErrorInfo: each
//   mistake is a field violation with a reason, with ErrorInfo, in words without proto names.
// * A Connect GET with invalid base64 in `message` answered 500 INTERNAL and logged nothing; bytes
//   that do not decode (binary, compressed) are INVALID_ARGUMENT in every protocol, and every such
//   failure has its log line.
import t, { type Test } from "tap";
import { gzipSync } from "node:zlib";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { create, toBinary } from "@bufbuild/protobuf";
import { CreateQueueRequestSchema, QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import type { Logger } from "../../services/runtime/observability/logger.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { captureLogs } from "../helpers/logs.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { rawCall, type RawProtocol } from "../helpers/raw-rpc.js";
import { ALL_MODULES, startTestSystem, TEST_SECRET } from "../helpers/system.js";

t.setTimeout(300_000);

const Q = "/medschedule.queue.v1.QueueService/";
const S = "/medschedule.scheduling.v1.SchedulingService/";
const JSON_PROTOCOLS: RawProtocol[] = ["connect", "connect-get", "grpc-web", "grpc"];

/** isRead tells whether an RPC may be called with Connect GET. */
function isRead(procedure: string): boolean {
  const [service, name] = procedure.slice(1).split("/");
  const desc = [QueueService, SchedulingService].find((s) => s.typeName === service);
  return desc?.methods.find((m) => m.name === name)?.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

/** A mode gives the gateway's URL and, where the test has it, a service's own grpc-js server (serveGrpc). */
const modes: [string, (t: Test, logger: Logger) => Promise<{ baseUrl: string; grpcJsUrl?: string }>][] = [
  [
    "npm start (in-process, PGlite)",
    async (t, logger) => {
      const sys = await startTestSystem(t, { embedded: true, logger });
      return { baseUrl: `http://127.0.0.1:${sys.connect.port}`, grpcJsUrl: `http://127.0.0.1:${sys.grpc.port}` };
    },
  ],
  [
    "distributed (forwarding gateway, Postgres)",
    async (t, logger) => {
      const upstream = await startUpstream(t, ALL_MODULES, await createTestDatabase(t));
      return { baseUrl: (await startTestGateway(t, [upstream.address], {}, { logger })).url };
    },
  ],
];

for (const [mode, start] of modes) {
  t.test(mode, async (t) => {
    const { logger, lines } = captureLogs();
    const { baseUrl, grpcJsUrl } = await start(t, logger);
    const token = await signToken(TEST_SECRET, "decode-staff", ["admin", "receptionist"]);
    const headers = { authorization: `Bearer ${token}` };
    // Tickets naming an appointment come from scheduling's check-in, with the service role.
    const serviceHeaders = { authorization: `Bearer ${await signToken(TEST_SECRET, "medschedule-scheduling", ["service"])}` };
    const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", headers.authorization), next(req))] });
    const queue = createClient(QueueService, transport);
    const json = (value: string) => new TextEncoder().encode(value);

    t.test("unknown JSON field names are INVALID_ARGUMENT naming the field, nothing stored; binary keeps unknown fields", async (t) => {
      const created = await rawCall(baseUrl, "connect", `${Q}CreateQueue`, json('{"queueId":"dec","displayName":"Decoding","prefix":"D","timeZone":"UTC"}'), { headers });
      t.equal(created.code, 0, `created (${created.message})`);
      for (const protocol of ["connect", "grpc-web", "grpc"] as RawProtocol[]) {
        const o = await rawCall(baseUrl, protocol, `${Q}CreateQueue`, json(`{"queueId":"future-${protocol}","displayName":"F","prefix":"F","timeZone":"UTC","fieldFromTheFuture":{"x":[1]}}`), { headers });
        t.equal(o.code, Code.InvalidArgument, `over ${protocol} (${o.message})`);
        t.same(o.violations, [["fieldFromTheFuture", "UNKNOWN_FIELD"]], `names the field over ${protocol}`);
        const got = await queue.getQueue({ queueId: `future-${protocol}` }).then(() => 0, (err: { code: Code }) => err.code);
        t.equal(got, Code.NotFound, `nothing created over ${protocol}`);
      }
      for (const protocol of JSON_PROTOCOLS) {
        const o = await rawCall(baseUrl, protocol, `${S}ListAppointments`, json('{"providerId":"p-dec","status":["APPOINTMENT_STATUS_CANCELLED"]}'), { headers });
        t.equal(o.code, Code.InvalidArgument, `a misspelt filter over ${protocol} is refused, not ignored (${o.message})`);
        t.same(o.violations, [["status", "UNKNOWN_FIELD"]], `names "status" over ${protocol}`);
        t.match(o.message, /did you mean "statuses"/, "and says which field was meant");
      }
      // Binary Protobuf: field 99 is unknown to this server; protobuf keeps it and the call works.
      const known = toBinary(CreateQueueRequestSchema, create(CreateQueueRequestSchema, { queueId: "future-bin", displayName: "F", prefix: "F", timeZone: "UTC" }));
      const withUnknown = Buffer.concat([known, Buffer.from([0x98, 0x06, 0x01])]);
      for (const protocol of ["connect", "grpc-web", "grpc"] as RawProtocol[]) {
        const o = await rawCall(baseUrl, protocol, `${Q}CreateQueue`, withUnknown, { headers, binary: true });
        t.equal(o.code, 0, `binary with an unknown field over ${protocol}: accepted (${o.message})`);
      }
    });

    t.test("JSON type mistakes: a field violation with a reason, ErrorInfo, and no proto type names, in every protocol", async (t) => {
      const cases: [string, string, [string, string][]][] = [
        [`${S}ListProviders`, '{"pageSize":2147483648}', [["pageSize", "OUT_OF_RANGE"]]],
        [`${S}ListProviders`, '{"pageSize":"1.5"}', [["pageSize", "INVALID_VALUE"]]],
        [`${S}ListProviders`, '{"pageSize":1,"pageSize":2}', [["pageSize", "DUPLICATE_FIELD"]]],
        [`${S}ListProviders`, '{"pageToken":7}', [["pageToken", "INVALID_VALUE"]]],
        [`${S}ListAppointments`, '{"providerId":"p","startTime":"2026-13-01T00:00:00Z","statuses":[null]}', [["startTime", "INVALID_TIMESTAMP"], ["statuses[0]", "INVALID_VALUE"]]],
        [`${S}ListAppointments`, '{"providerId":"p","startTime":"2026-02-30T09:00:00Z","endTime":1767603600}', [["startTime", "INVALID_TIMESTAMP"], ["endTime", "INVALID_TIMESTAMP"]]],
        [`${S}ListAvailableSlots`, '{"providerId":"p","startTime":"2026-12-06T00:00:00Z","endTime":"2026-12-07T00:00:00Z","duration":"5 minutes"}', [["duration", "INVALID_DURATION"]]],
        [`${S}ListAvailableSlots`, '{"providerId":"p","startTime":"2026-12-06T00:00:00Z","endTime":"2026-12-07T00:00:00Z","duration":"1800sX"}', [["duration", "INVALID_DURATION"]]],
        [`${S}ListAvailableSlots`, '{"providerId":"p","resourceIds":"room-1"}', [["resourceIds", "INVALID_VALUE"]]],
        [`${Q}ListTickets`, '{"queueId":"dec","statuses":"TICKET_STATUS_WAITING","pageSize":true}', [["statuses", "INVALID_VALUE"], ["pageSize", "INVALID_VALUE"]]],
        [`${Q}CreateQueue`, '{"queueId":"typed","displayName":5,"prefix":["A"],"timeZone":{}}', [["displayName", "INVALID_VALUE"], ["prefix", "INVALID_VALUE"], ["timeZone", "INVALID_VALUE"]]],
        [`${S}SetAvailability`, '{"providerId":"p","weeklyHours":{"dayOfWeek":1},"slotDuration":900}', [["weeklyHours", "INVALID_VALUE"], ["slotDuration", "INVALID_DURATION"]]],
      ];
      for (const [procedure, body, want] of cases) {
        for (const protocol of JSON_PROTOCOLS) {
          if (protocol === "connect-get" && !isRead(procedure)) continue;
          const o = await rawCall(baseUrl, protocol, procedure, json(body), { headers });
          const label = `${procedure.split("/").pop()} ${body} over ${protocol}`;
          t.equal(o.code, Code.InvalidArgument, `${label}: INVALID_ARGUMENT (${o.message})`);
          t.same(o.violations, want, `${label}: names the fields with reasons`);
          t.same(o.errorInfo, { domain: "medschedule.io", reason: "INVALID_ARGUMENT" }, `${label}: ErrorInfo`);
          t.notMatch(o.message, /medschedule\.|google\.protobuf|cannot decode|int32/, `${label}: no proto names in "${o.message}"`);
        }
      }
      t.equal(await queue.getQueue({ queueId: "typed" }).then(() => 0, (err: { code: Code }) => err.code), Code.NotFound, "nothing created");
    });

    t.test("nothing sent is changed silently: sub-minute starts, sub-millisecond values and short hours refused, zone names canonical", async (t) => {
      const scheduling = createClient(SchedulingService, transport);
      const provider = await scheduling.createProvider({ displayName: "Dr. Case", timeZone: "europe/ISTANBUL" });
      t.equal(provider.provider?.timeZone, "Europe/Istanbul", "a zone in another letter case is stored under its canonical name");
      t.equal((await scheduling.getProvider({ providerId: provider.provider?.providerId ?? "" })).provider?.timeZone, "Europe/Istanbul", "and read back so");
      t.equal((await queue.createQueue({ displayName: "Case", prefix: "C", timeZone: "utc" })).queue?.timeZone, "UTC", "queues too");
      const providerId = provider.provider?.providerId ?? "";
      const cases: [string, string, [string, string][], Record<string, string>?][] = [
        [`${S}BookAppointment`, `{"requestId":"sub-us","providerId":"${providerId}","patientId":"pat-1","startTime":"2026-12-06T11:00:00.000001Z"}`, [["startTime", "NOT_WHOLE_MINUTE"]]],
        [`${S}BookAppointment`, `{"requestId":"sub-ns","providerId":"${providerId}","patientId":"pat-1","startTime":"2026-12-06T10:00:00.000000001Z"}`, [["startTime", "NOT_WHOLE_MINUTE"]]],
        [`${S}BookAppointment`, `{"requestId":"half-s","providerId":"${providerId}","patientId":"pat-1","startTime":"2026-12-06T11:00:00.5Z"}`, [["startTime", "NOT_WHOLE_MINUTE"]]],
        [`${S}RescheduleAppointment`, '{"requestId":"re-s","appointmentId":"apt-1","newStartTime":"2026-12-06T11:00:30Z"}', [["newStartTime", "NOT_WHOLE_MINUTE"]]],
        [`${S}ListAvailableSlots`, `{"providerId":"${providerId}","startTime":"2026-12-06T00:00:00.0000001Z","endTime":"2026-12-07T00:00:00Z"}`, [["startTime", "TOO_PRECISE"]]],
        [`${S}ListAppointments`, `{"providerId":"${providerId}","endTime":"2026-12-07T00:00:00.000000001Z"}`, [["endTime", "TOO_PRECISE"]]],
        [`${S}BookAppointment`, `{"requestId":"dur-ns","providerId":"${providerId}","patientId":"pat-1","startTime":"2026-12-06T11:00:00Z","duration":"0.0000001s"}`, [["duration", "NOT_A_MULTIPLE"]]],
        [`${Q}IssueTicket`, '{"requestId":"at-us","queueId":"dec","priority":"TICKET_PRIORITY_APPOINTMENT","appointmentId":"apt-1","appointmentTime":"2026-12-06T11:00:00.000001Z"}', [["appointmentTime", "TOO_PRECISE"]], serviceHeaders],
        [`${S}SetAvailability`, `{"providerId":"${providerId}","weeklyHours":[{"dayOfWeek":"DAY_OF_WEEK_MONDAY","startTime":"09:00","endTime":"09:20"}],"slotDuration":"1800s"}`, [["weeklyHours[0]", "SHORTER_THAN_SLOT"]]],
      ];
      for (const [procedure, body, want, as] of cases) {
        for (const protocol of JSON_PROTOCOLS) {
          if (protocol === "connect-get" && !isRead(procedure)) continue;
          const o = await rawCall(baseUrl, protocol, procedure, json(body), { headers: as ?? headers });
          const label = `${procedure.split("/").pop()} over ${protocol}`;
          t.equal(o.code, Code.InvalidArgument, `${label}: INVALID_ARGUMENT (${o.message})`);
          t.same(o.violations, want, `${label}: ${want.map((w) => w.join(" ")).join(", ")}`);
        }
      }
      t.same((await scheduling.listAppointments({ providerId })).appointments, [], "nothing was booked");
    });

    t.test("an unknown enum name is INVALID_ARGUMENT naming the field, and nothing is stored", async (t) => {
      const cases: [string, string, string][] = [
        [`${Q}IssueTicket`, '{"requestId":"vip-PROTOCOL","queueId":"dec","priority":"TICKET_PRIORITY_VIP"}', "priority"],
        [`${S}ListAppointments`, '{"providerId":"p-dec","statuses":["APPOINTMENT_STATUS_BOOKED","APPOINTMENT_STATUS_VIP"]}', "statuses[1]"],
        [`${S}SetAvailability`, '{"providerId":"p-dec","weeklyHours":[{"dayOfWeek":"DAY_OF_WEEK_FUNDAY","startTime":"09:00","endTime":"17:00"}],"slotDuration":"900s"}', "weeklyHours[0].dayOfWeek"],
        [`${Q}ListTickets`, '{"queueId":"dec","statuses":["TICKET_STATUS_LOST"]}', "statuses[0]"],
      ];
      for (const [procedure, body, field] of cases) {
        for (const protocol of JSON_PROTOCOLS) {
          if (protocol === "connect-get" && !isRead(procedure)) continue;
          const o = await rawCall(baseUrl, protocol, procedure, json(body.replace("PROTOCOL", protocol)), { headers });
          t.equal(o.code, Code.InvalidArgument, `${procedure} over ${protocol}: INVALID_ARGUMENT (${o.message})`);
          t.ok(o.violations.some(([f, r]) => f === field && r === "UNKNOWN_ENUM_VALUE"), `${procedure} over ${protocol}: names ${field}`, { violations: o.violations });
        }
      }
      t.same((await queue.listTickets({ queueId: "dec" })).tickets, [], "no ticket was issued");
      const known = await rawCall(baseUrl, "connect", `${Q}IssueTicket`, json('{"requestId":"routine-1","queueId":"dec","priority":"TICKET_PRIORITY_ROUTINE"}'), { headers });
      t.equal(known.code, 0, `a known name still works (${known.message})`);
    });

    t.test("invalid UTF-8 and lone surrogates in a JSON string: INVALID_ARGUMENT naming the field, nothing stored", async (t) => {
      for (const protocol of ["connect", "grpc-web", "grpc"] as RawProtocol[]) {
        const bad = Buffer.concat([json(`{"queueId":"utf8-${protocol}","displayName":"Radiology `), Buffer.from([0xff, 0xfe, 0xc3]), json('","prefix":"R","timeZone":"UTC"}')]);
        const o = await rawCall(baseUrl, protocol, `${Q}CreateQueue`, bad, { headers });
        t.equal(o.code, Code.InvalidArgument, `invalid UTF-8 over ${protocol} (${o.message})`);
        t.same(o.violations, [["displayName", "INVALID_UTF8"]], `names displayName over ${protocol}`);
        const lone = await rawCall(baseUrl, protocol, `${Q}CreateQueue`, json(`{"queueId":"lone-${protocol}","displayName":"Radiology \\ud800","prefix":"R","timeZone":"UTC"}`), { headers });
        t.equal(lone.code, Code.InvalidArgument, `a lone surrogate over ${protocol} (${lone.message})`);
        t.same(lone.violations, [["displayName", "INVALID_UTF8"]], `names displayName over ${protocol}`);
        for (const id of [`utf8-${protocol}`, `lone-${protocol}`]) {
          const got = await queue.getQueue({ queueId: id }).then(() => 0, (err: { code: Code }) => err.code);
          t.equal(got, Code.NotFound, `queue ${id} was not created`);
        }
      }
      const outside = Buffer.concat([json('{"queueId":"x",'), Buffer.from([0xff]), json('"displayName":"X","prefix":"X","timeZone":"UTC"}')]);
      const o = await rawCall(baseUrl, "connect", `${Q}CreateQueue`, outside, { headers });
      t.equal(o.code, Code.InvalidArgument, `invalid UTF-8 between fields (${o.message})`);
      const get = await rawCall(baseUrl, "connect-get", `${S}ListProviders`, new Uint8Array(), { headers, query: "encoding=json&connect=v1&message=%7B%22pageToken%22%3A%22%FF%22%7D" });
      t.equal(get.code, Code.InvalidArgument, `Connect GET with percent-encoded bytes that are not UTF-8 (${get.message})`);
    });

    t.test("bytes that do not decode: INVALID_ARGUMENT in every protocol, each with its log line", async (t) => {
      const before = lines.length;
      const cases: [string, RawProtocol, Uint8Array, { binary?: boolean; query?: string; headers?: Record<string, string> }][] = [
        ["GET with invalid base64", "connect-get", new Uint8Array(), { query: "encoding=proto&base64=1&connect=v1&message=%21%21%21%21" }],
        ["GET with invalid base64 in JSON encoding", "connect-get", new Uint8Array(), { query: "encoding=json&base64=1&connect=v1&message=*" }],
        ["binary that ends early", "connect", Uint8Array.of(0x12, 0x05, 0x61), { binary: true }],
        ["binary that ends early", "grpc-web", Uint8Array.of(0x12, 0x05, 0x61), { binary: true }],
        ["binary that ends early", "grpc", Uint8Array.of(0x12, 0x05, 0x61), { binary: true }],
        ["a truncated gzip body", "connect", gzipSync(Buffer.from('{"pageSize":1}')).subarray(0, 12), { headers: { "content-encoding": "gzip" } }],
        ["malformed JSON", "connect", json('{"pageSize":'), {}],
      ];
      for (const [label, protocol, body, opts] of cases) {
        const o = await rawCall(baseUrl, protocol, `${S}ListProviders`, body, { ...opts, headers: { ...headers, ...opts.headers } });
        t.equal(o.code, Code.InvalidArgument, `${label} over ${protocol}: INVALID_ARGUMENT (${o.message})`);
        if (protocol.startsWith("connect")) t.equal(o.httpStatus, 400, `${label} over ${protocol}: HTTP 400`);
      }
      const logged = lines.slice(before).filter((l) => l.procedure === "/medschedule.scheduling.v1.SchedulingService/ListProviders");
      t.equal(logged.length, cases.length, "one log line per refused call", { logged });
      t.ok(logged.every((l) => l.code === "INVALID_ARGUMENT" && typeof l.reason === "string"), "each with the code and its reason (not the message, which may quote what was sent)", { logged });
      if (grpcJsUrl) {
        const mark = lines.length;
        const o = await rawCall(grpcJsUrl, "grpc", `${S}ListProviders`, Uint8Array.of(0x12, 0x05, 0x61), { binary: true, headers });
        t.equal(o.code, Code.InvalidArgument, `a service's grpc-js server: INVALID_ARGUMENT (${o.message})`);
        t.ok(lines.slice(mark).some((l) => l.procedure === "/medschedule.scheduling.v1.SchedulingService/ListProviders" && l.code === "INVALID_ARGUMENT"), "and logged");
      }
      const good = await rawCall(baseUrl, "connect-get", `${S}ListProviders`, new Uint8Array(), { headers, query: `encoding=proto&base64=1&connect=v1&message=${Buffer.from([0x08, 0x01]).toString("base64url")}` });
      t.equal(good.code, 0, `a valid GET still answers (${good.message})`);
    });
  });
}
