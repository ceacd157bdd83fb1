// What an outside probe of error handling found, tried again in both modes (the gateway of `npm start`
// with the service classes in-process on PGlite, and the forwarding gateway of distributed mode):
// * A client that left mid-body (closed its socket, reset its HTTP/2 stream) or let its body stall
//   until the gateway gave up was answered and logged as INTERNAL, a server error anyone could
//   trigger: it is CANCELED, logged at info as the client's doing, never at error level.
// * Values the client sent were repeated in messages and log lines ("unknown time zone \"Jane ...\"",
//   "got the number 19620314...", JSON.parse quoting the body): what may be patient data is never
//   repeated; a message names the field and what is expected.
// * The patient id a service acted for (x-on-behalf-of), and a patient caller's own id, were in every
//   log line of the call: no log line holds a patient id.
// * PERMISSION_DENIED and NOT_FOUND were worded for engineers ("role doctor may not call
//   medschedule....CancelAppointment", "appointment \"apt-...\" not found"): in words, with ErrorInfo
//   reasons (ROLE_NOT_ALLOWED, APPOINTMENT_NOT_FOUND) and the ids only in the metadata.
// * A request that did not decode had no details: ErrorInfo (MALFORMED_REQUEST) always and a
//   BadRequest naming the field where one can be named, from the gateway and from a service's own
//   grpc-js server alike; the distributed gateway answers error details as the in-process one does.
import { randomUUID } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import t, { type Test } from "tap";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CreateQueueRequestSchema } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
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
/** BODY_TIMEOUT is the gateway's GATEWAY_BODY_TIMEOUT here: short, so a stalled body is cut soon. */
const BODY_TIMEOUT = { GATEWAY_BODY_TIMEOUT: "1s" };

/** A mode gives the gateway's URL and, where the test has it, a service's own grpc-js server (serveGrpc). */
const modes: [string, (t: Test, logger: Logger) => Promise<{ baseUrl: string; grpcJsUrl?: string }>][] = [
  [
    "npm start (in-process, PGlite)",
    async (t, logger) => {
      const sys = await startTestSystem(t, { embedded: true, logger, env: BODY_TIMEOUT });
      return { baseUrl: `http://127.0.0.1:${sys.connect.port}`, grpcJsUrl: `http://127.0.0.1:${sys.grpc.port}` };
    },
  ],
  [
    "distributed (forwarding gateway, Postgres)",
    async (t, logger) => {
      const upstream = await startUpstream(t, ALL_MODULES, await createTestDatabase(t));
      return { baseUrl: (await startTestGateway(t, [upstream.address], BODY_TIMEOUT, { logger })).url };
    },
  ],
];

/** until waits for `check` to hold, polling; the bound only guards against a hang. */
async function until(check: () => boolean, boundMs = 30_000): Promise<boolean> {
  const end = Date.now() + boundMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** startHttp1Body sends the headers of a Connect JSON POST announcing `length` bytes and `part` of them; it resolves once the server has the request. */
function startHttp1Body(baseUrl: string, procedure: string, headers: Record<string, string>, length: number, part: string): Promise<http.ClientRequest> {
  const url = new URL(procedure, baseUrl);
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { ...headers, "content-type": "application/json", "connect-protocol-version": "1", "content-length": String(length) } });
  req.on("error", () => undefined);
  req.on("response", (res) => res.resume());
  req.flushHeaders();
  return new Promise((resolve) => req.write(part, () => setTimeout(() => resolve(req), 100)));
}

/** ofRequest are the log lines of the call with x-request-id `id`. */
const ofRequest = (lines: Record<string, unknown>[], id: string) => lines.filter((l) => l.requestId === id);

for (const [mode, start] of modes) {
  t.test(mode, async (t) => {
    const { logger, lines } = captureLogs();
    const { baseUrl, grpcJsUrl } = await start(t, logger);
    const admin = { authorization: `Bearer ${await signToken(TEST_SECRET, "hygiene-admin", ["admin", "receptionist"])}` };
    const json = (value: string) => new TextEncoder().encode(value);

    t.test("a client that leaves mid-body, or stalls it, is CANCELED and logged as the client's doing, never INTERNAL", async (t) => {
      // HTTP/1.1: the socket closes with the body half sent.
      const closed = await startHttp1Body(baseUrl, `${S}ListProviders`, { ...admin, "x-request-id": "0123456789abcdef0123456789abcdef" }, 1000, '{"pageSize":');
      closed.destroy();
      // HTTP/2 (gRPC): the stream is reset with part of the envelope sent.
      const session = http2.connect(baseUrl);
      session.on("error", () => undefined);
      const stream = session.request({ ":method": "POST", ":path": `${S}ListProviders`, "content-type": "application/grpc+proto", te: "trailers", "x-request-id": "fedcba9876543210fedcba9876543210", ...admin });
      stream.on("error", () => undefined);
      stream.write(Buffer.from([0, 0, 0, 0, 100, 0x08]));
      await new Promise((r) => setTimeout(r, 100));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      // A body that stalls: the gateway cuts it after GATEWAY_BODY_TIMEOUT.
      const stalled = await startHttp1Body(baseUrl, `${S}ListProviders`, { ...admin, "x-request-id": "00112233445566778899aabbccddeeff" }, 1000, '{"pageSize":');
      t.teardown(() => {
        stalled.destroy();
        session.destroy();
      });
      for (const id of ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "00112233445566778899aabbccddeeff"]) {
        t.ok(await until(() => ofRequest(lines, id).length > 0), `${id}: the call has its log line`);
        const logged = ofRequest(lines, id);
        t.equal(logged.length, 1, `${id}: one line`, { logged });
        t.equal(logged[0]?.code, "CANCELLED", `${id}: CANCELLED`, { logged });
        t.equal(logged[0]?.level, "info", `${id}: at info, not as a server error`, { logged });
        t.equal(logged[0]?.procedure, `${S}ListProviders`, `${id}: of the RPC called`);
      }
      t.match(String(ofRequest(lines, "00112233445566778899aabbccddeeff")[0]?.error), /did not arrive in time/, "the stalled body says why");
      t.notOk(lines.some((l) => l.code === "INTERNAL" || l.level === "error"), "no INTERNAL and no error line at all", { lines: lines.filter((l) => l.code === "INTERNAL" || l.level === "error") });
      const ok = await rawCall(baseUrl, "connect", `${S}ListProviders`, json("{}"), { headers: admin });
      t.equal(ok.code, 0, `the server answers as before (${ok.message})`);
    });

    t.test("a value sent is never repeated in the message or the log: the message names the field", async (t) => {
      const phi = "Jane Q Patient 1962-03-14";
      const number = "19620314551";
      const cases: [string, string, string, string][] = [
        // [procedure, body, what must not be repeated, the field or reason that must be named]
        [`${Q}IssueTicket`, `{"requestId":"phi-1","queueId":"q","priority":"${phi}"}`, phi, "priority"],
        [`${Q}CreateQueue`, `{"queueId":"phi","displayName":"Phi","prefix":"P","timeZone":"${phi}"}`, phi, "timeZone"],
        [`${S}ListAppointments`, `{"providerId":"p","startTime":"${phi}"}`, phi, "startTime"],
        [`${S}BookAppointment`, `{"requestId":"phi-2","providerId":"p","patientId":"pat-1","startTime":"2026-12-06T11:00:00Z","duration":"${phi}"}`, phi, "duration"],
        [`${S}CreateProvider`, `{"displayName":${number},"timeZone":"UTC"}`, number, "displayName"],
        [`${S}ListProviders`, `{"pageSize":${number}}`, number, "pageSize"],
        [`${S}ListProviders`, `{"pageToken":${number}}`, number, "pageToken"],
        [`${S}ListProviders`, phi, phi, "MALFORMED_REQUEST"],
        [`${S}ListProviders`, `{"pageToken":"${phi}" "pageSize":1}`, phi, "MALFORMED_REQUEST"],
      ];
      for (const protocol of ["connect", "grpc"] as RawProtocol[]) {
        for (const [procedure, body, secret, named] of cases) {
          const mark = lines.length;
          const id = randomUUID(); // request ids are kept only when machine-made (logging-interceptor.ts)
          const o = await rawCall(baseUrl, protocol, procedure, json(body), { headers: { ...admin, "x-request-id": id } });
          const label = `${procedure.split("/").pop()} ${body.slice(0, 40)} over ${protocol}`;
          t.equal(o.code, Code.InvalidArgument, `${label}: INVALID_ARGUMENT (${o.message})`);
          t.notOk(o.message.includes(secret), `${label}: the message does not repeat it: "${o.message}"`);
          t.ok(o.violations.some(([f]) => f === named) || o.errorInfo?.reason === named, `${label}: names ${named}`, { violations: o.violations, errorInfo: o.errorInfo });
          t.ok(await until(() => ofRequest(lines, id).length > 0), `${label}: logged`);
          const logged = JSON.stringify(lines.slice(mark));
          t.notOk(logged.includes(secret) || logged.includes(secret.split(" ")[0]), `${label}: the log does not repeat it`, { logged: lines.slice(mark) });
        }
      }
      // A field name the client made up is what the client sent too: the log shows "?" in its place.
      const mark = lines.length;
      const o = await rawCall(baseUrl, "connect", `${S}ListProviders`, json(`{"${phi}":1}`), { headers: { ...admin, "x-request-id": "01HZX3K4M5N6P7Q8R9S0T1V2W3" } });
      t.same(o.violations.map(([, r]) => r), ["UNKNOWN_FIELD"], "an unknown field name is refused");
      t.ok(await until(() => ofRequest(lines, "01HZX3K4M5N6P7Q8R9S0T1V2W3").length > 0), "and logged");
      t.notOk(JSON.stringify(lines.slice(mark)).includes("Jane"), "without the name sent", { logged: lines.slice(mark) });
      t.same(ofRequest(lines, "01HZX3K4M5N6P7Q8R9S0T1V2W3")[0]?.fields, ["? UNKNOWN_FIELD"], "the log says which kind of mistake it was", { logged: ofRequest(lines, "01HZX3K4M5N6P7Q8R9S0T1V2W3") });
    });

    t.test("no patient id in any log line: not a patient caller's own, not the one a service acts for", async (t) => {
      const mark = lines.length;
      const patientId = "pat-7731-jane";
      const forId = "pat-4410-john";
      const created = await rawCall(baseUrl, "connect", `${Q}CreateQueue`, json('{"queueId":"logq","displayName":"Log","prefix":"L","timeZone":"UTC"}'), { headers: admin });
      t.equal(created.code, 0, `queue created (${created.message})`);
      const patient = { authorization: `Bearer ${await signToken(TEST_SECRET, patientId, ["patient"])}` };
      const service = { authorization: `Bearer ${await signToken(TEST_SECRET, "medschedule-scheduling", ["service"])}`, "x-on-behalf-of": forId };
      const calls: [string, string, Record<string, string>, number][] = [
        [`${Q}IssueTicket`, `{"requestId":"own-1","queueId":"logq","patientId":"${patientId}"}`, patient, 0],
        [`${S}ListAppointments`, `{"patientId":"${patientId}"}`, patient, 0],
        [`${S}ListAppointments`, '{"patientId":"pat-someone-else"}', patient, Code.PermissionDenied],
        [`${Q}ListTickets`, '{"queueId":"logq"}', service, 0],
        [`${Q}GetTicket`, '{"ticketId":"no-such-ticket"}', service, Code.NotFound],
      ];
      const ids = new Map<string, string>();
      for (const [i, [procedure, body, headers, code]] of calls.entries()) {
        for (const protocol of ["connect", "grpc"] as RawProtocol[]) {
          const id = randomUUID();
          ids.set(`${i}-${protocol}`, id);
          const o = await rawCall(baseUrl, protocol, procedure, json(body.replace("own-1", `own-1-${protocol}`)), { headers: { ...headers, "x-request-id": id } });
          t.equal(o.code, code, `${procedure.split("/").pop()} over ${protocol} (${o.message})`);
          t.ok(await until(() => ofRequest(lines, id).length > 0), `${procedure.split("/").pop()} over ${protocol}: logged`);
        }
      }
      const written = lines.slice(mark);
      const text = JSON.stringify(written);
      t.notOk(text.includes(patientId), "the patient caller's id is in no line", { written });
      t.notOk(text.includes(forId), "the id a service acted for is in no line", { written });
      t.notOk(text.includes("pat-someone-else"), "nor the id a patient asked about", { written });
      const own = ofRequest(lines, ids.get("0-connect")!);
      t.ok(own.length > 0 && own.every((l) => l.role === "patient" && l.sub === undefined), "a patient's call says the role, not who", { lines: own });
      const acted = ofRequest(lines, ids.get("3-connect")!);
      t.ok(acted.some((l) => l.role === "service" && l.sub === "medschedule-scheduling" && l.onBehalf === true), "a service's call names the service and that it acted for someone", { lines: acted });
    });

    t.test("PERMISSION_DENIED and NOT_FOUND are worded for people, with ErrorInfo reasons and no RPC names or ids", async (t) => {
      const doctor = { authorization: `Bearer ${await signToken(TEST_SECRET, "doc-1", ["doctor"])}` };
      for (const protocol of ["connect", "grpc-web", "grpc"] as RawProtocol[]) {
        const denied = await rawCall(baseUrl, protocol, `${S}CancelAppointment`, json('{"appointmentId":"apt-1"}'), { headers: doctor });
        t.equal(denied.code, Code.PermissionDenied, `a doctor cancelling over ${protocol}: PERMISSION_DENIED`);
        t.equal(denied.errorInfo?.reason, "ROLE_NOT_ALLOWED", `over ${protocol}: reason ROLE_NOT_ALLOWED`);
        t.equal(denied.message, "a doctor may not cancel appointments; reception staff and administrators do that, and patients for themselves", `over ${protocol}: in words`);
        const missing = await rawCall(baseUrl, protocol, `${S}GetAppointment`, json('{"appointmentId":"apt-missing-7731"}'), { headers: admin });
        t.equal(missing.code, Code.NotFound, `an appointment that does not exist over ${protocol}: NOT_FOUND`);
        t.equal(missing.errorInfo?.reason, "APPOINTMENT_NOT_FOUND", `over ${protocol}: its reason`);
        t.notMatch(missing.message, /apt-missing-7731|GetAppointment|medschedule\./, `over ${protocol}: no id or RPC name in "${missing.message}"`);
      }
      // The id is for clients, in the metadata; and the readable form of each detail is there, in
      // distributed mode as in-process.
      const res = await fetch(`${baseUrl}${S}GetAppointment`, { method: "POST", headers: { ...admin, "content-type": "application/json", "connect-protocol-version": "1" }, body: '{"appointmentId":"apt-missing-7731"}' });
      const body = (await res.json()) as { details?: { type: string; debug?: { reason?: string; metadata?: Record<string, string> } }[] };
      const info = body.details?.find((d) => d.type === "google.rpc.ErrorInfo");
      t.same(info?.debug, { domain: "medschedule.io", reason: "APPOINTMENT_NOT_FOUND", metadata: { appointmentId: "apt-missing-7731" } }, "ErrorInfo with its readable form and the id in the metadata");
    });

    t.test("a request that does not decode carries ErrorInfo, and BadRequest naming the field, on every server", async (t) => {
      const good = toBinary(CreateQueueRequestSchema, create(CreateQueueRequestSchema, { queueId: "bin", displayName: "Radiology", prefix: "R", timeZone: "UTC" }));
      const at = Buffer.from(good).indexOf("Radiology");
      const badUtf8 = Buffer.from(good);
      badUtf8[at + 3] = 0xff;
      const urls: [string, string, RawProtocol[]][] = [["the gateway", baseUrl, ["connect", "grpc-web", "grpc"]]];
      if (grpcJsUrl) urls.push(["a service's grpc-js server", grpcJsUrl, ["grpc"]]);
      for (const [where, url, protocols] of urls) {
        for (const protocol of protocols) {
          const utf8 = await rawCall(url, protocol, `${Q}CreateQueue`, badUtf8, { headers: admin, binary: true });
          t.equal(utf8.code, Code.InvalidArgument, `${where}, invalid UTF-8 in binary over ${protocol} (${utf8.message})`);
          t.same(utf8.violations, [["displayName", "INVALID_UTF8"]], `${where} over ${protocol}: names displayName`);
          t.same(utf8.errorInfo, { domain: "medschedule.io", reason: "INVALID_ARGUMENT" }, `${where} over ${protocol}: ErrorInfo`);
          const short = await rawCall(url, protocol, `${Q}CreateQueue`, Uint8Array.of(0x0a, 0x09, 0x52), { headers: admin, binary: true });
          t.equal(short.code, Code.InvalidArgument, `${where}, binary that ends early over ${protocol} (${short.message})`);
          t.same(short.errorInfo, { domain: "medschedule.io", reason: "MALFORMED_REQUEST" }, `${where} over ${protocol}: ErrorInfo MALFORMED_REQUEST`);
          t.match(short.message, /displayName/, `${where} over ${protocol}: says in which field the bytes broke`);
          t.notMatch(short.message, /parse binary|premature EOF|medschedule\./, `${where} over ${protocol}: in words`);
        }
      }
      const notJson = await rawCall(baseUrl, "connect", `${Q}CreateQueue`, json("not json"), { headers: admin });
      t.same(notJson.errorInfo, { domain: "medschedule.io", reason: "MALFORMED_REQUEST" }, "JSON that is not JSON: MALFORMED_REQUEST");
    });
  });
}
