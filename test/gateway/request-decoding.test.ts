// Bad input is refused, never silently changed (issue 18, defects 4 and 5), in both modes: the gateway
// of `npm start` (the service classes in-process, on PGlite) and the forwarding gateway of
// distributed mode (which parses JSON itself and forwards binary to the services on Postgres), over
// every protocol that carries JSON: Connect POST and GET, gRPC-web and gRPC.
// * An unknown enum name in JSON was dropped (IssueTicket with "TICKET_PRIORITY_VIP" became ROUTINE;
//   an unknown ListAppointments status filter listed every status): INVALID_ARGUMENT naming the field.
// * Invalid UTF-8 inside a JSON string was stored as U+FFFD, and so was a lone surrogate escape:
//   INVALID_ARGUMENT naming the field, nothing stored. Unknown field names are still ignored.
// * A Connect GET with invalid base64 in `message` answered 500 INTERNAL and logged nothing; bytes
//   that do not decode (binary, compressed) are INVALID_ARGUMENT in every protocol, and every such
//   failure has its log line.
import t, { type Test } from "tap";
import { gzipSync } from "node:zlib";
import { Writable } from "node:stream";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createLogger, type Logger } from "../../services/runtime/logger.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { rawCall, type RawProtocol } from "../helpers/raw-rpc.js";
import { ALL_MODULES, startTestSystem, TEST_SECRET } from "../helpers/system.js";

t.setTimeout(300_000);

const Q = "/medschedule.queue.v1.QueueService/";
const S = "/medschedule.scheduling.v1.SchedulingService/";
const JSON_PROTOCOLS: RawProtocol[] = ["connect", "connect-get", "grpc-web", "grpc"];

/** captureLogs is a logger whose JSON lines the test can read. */
function captureLogs(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: "info", name: "decode-test", destination }), lines };
}

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
    const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", headers.authorization), next(req))] });
    const queue = createClient(QueueService, transport);
    const json = (value: string) => new TextEncoder().encode(value);

    t.test("unknown field names are still ignored (a newer client's fields)", async (t) => {
      const o = await rawCall(baseUrl, "connect", `${Q}CreateQueue`, json('{"queueId":"dec","displayName":"Decoding","prefix":"D","timeZone":"UTC","fieldFromTheFuture":{"x":[1]}}'), { headers });
      t.equal(o.code, 0, `created (${o.message})`);
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
      t.ok(logged.every((l) => l.code === "INVALID_ARGUMENT" && typeof l.error === "string"), "each with the code and what was wrong");
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
