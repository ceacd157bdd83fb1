// The runtime's call path, the same on both servers: unexpected errors become INTERNAL without leaking
// their message, domain errors keep their code, the client's deadline reaches the handler as
// timeoutMs and an aborting signal, and every call gets a request id; rpc_server_duration_seconds
// counts every call by service, method and code.
import t from "tap";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { serveConnect } from "../../../services/runtime/server/connect-server.js";
import { NotFoundError } from "../../../services/runtime/errors.js";
import { serveGrpc } from "../../../services/runtime/server/grpc-server.js";
import { createGrpcJsTransport } from "../../../services/runtime/clients/grpc-transport.js";
import { HealthServiceImpl } from "../../../services/runtime/server/health.js";
import { buildRegistrations } from "../../../services/runtime/host.js";
import { silentLogger } from "../../../services/runtime/observability/logger.js";
import { createLoggingInterceptor } from "../../../services/runtime/observability/logging-interceptor.js";
import { createMetricsInterceptor, metricsRegistry } from "../../../services/runtime/observability/metrics.js";

const seen: { timeoutMs?: number; abortedAfterMs?: number } = {};
const impl = {
  acquire(): never {
    throw new Error("connection to postgres://admin:hunter2@db failed");
  },
  release(): never {
    throw new NotFoundError("lease", "l-404");
  },
  async extend(_req: unknown, ctx: HandlerContext) {
    const started = Date.now();
    seen.timeoutMs = ctx.timeoutMs();
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    seen.abortedAfterMs = Date.now() - started;
    return {};
  },
  listLocks(_req: unknown, ctx: HandlerContext) {
    ctx.responseHeader.set("x-seen-request-id", ctx.requestHeader.get("x-request-id") ?? "");
    return { locks: [] };
  },
};
const health = new HealthServiceImpl();
const registrations = buildRegistrations([{ service: LockService, impl }], [createLoggingInterceptor(silentLogger), createMetricsInterceptor()], health);
const grpcServer = await serveGrpc({ port: 0, host: "127.0.0.1", services: registrations });
const connectServer = await serveConnect({ port: 0, host: "127.0.0.1", services: registrations });
t.teardown(() => Promise.all([grpcServer.close(100), connectServer.close(100)]));

const transports = {
  "grpc-js server": createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcServer.port}` }),
  "connect server (Connect)": createConnectTransport({ baseUrl: `http://127.0.0.1:${connectServer.port}`, httpVersion: "1.1" }),
  "connect server (gRPC)": createGrpcTransport({ baseUrl: `http://127.0.0.1:${connectServer.port}` }),
  "grpc-js server (Connect client over the grpc-js transport)": createGrpcJsTransport({ addresses: [`127.0.0.1:${grpcServer.port}`] }),
};

for (const [name, transport] of Object.entries(transports)) {
  t.test(name, async (t) => {
    const client = createClient(LockService, transport);
    const internal = await client.acquire({}).catch((e: unknown) => ConnectError.from(e));
    t.ok(internal instanceof ConnectError);
    t.equal((internal as ConnectError).code, Code.Internal, "an unexpected error is INTERNAL");
    t.notMatch((internal as ConnectError).message, /hunter2|postgres/, "without leaking its message");

    const notFound = await client.release({}).catch((e: unknown) => ConnectError.from(e));
    t.equal((notFound as ConnectError).code, Code.NotFound, "a domain error keeps its code");
    t.equal((notFound as ConnectError).rawMessage, "this lease does not exist or is not yours to see; refresh the list", "in words, without the id");
    t.same((notFound as ConnectError).findDetails(ErrorInfoSchema)[0]?.metadata, { leaseId: "l-404" }, "the id is in ErrorInfo metadata");

    const started = Date.now();
    const late = await client.extend({}, { timeoutMs: 400 }).catch((e: unknown) => ConnectError.from(e));
    t.equal((late as ConnectError).code, Code.DeadlineExceeded, "the deadline is enforced");
    t.ok(Date.now() - started < 3000, "promptly");
    await new Promise((r) => setTimeout(r, 100));
    t.ok(seen.timeoutMs !== undefined && seen.timeoutMs > 0 && seen.timeoutMs <= 400, `the handler saw the deadline (${seen.timeoutMs} ms)`);
    t.ok(seen.abortedAfterMs !== undefined && seen.abortedAfterMs < 1500, `and its signal aborted (${seen.abortedAfterMs} ms)`);
    seen.timeoutMs = seen.abortedAfterMs = undefined;

    // No deadline; the client goes away: the handler's signal aborts all the same.
    const leave = new AbortController();
    setTimeout(() => leave.abort(), 200);
    const gone = await client.extend({}, { signal: leave.signal }).catch((e: unknown) => ConnectError.from(e));
    t.equal((gone as ConnectError).code, Code.Canceled, "the client cancelled");
    for (let i = 0; i < 30 && seen.abortedAfterMs === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    t.equal(seen.timeoutMs, undefined, "the handler saw no deadline");
    t.ok(seen.abortedAfterMs !== undefined && seen.abortedAfterMs < 1500, `and its signal aborted when the client left (${seen.abortedAfterMs} ms)`);
    seen.timeoutMs = seen.abortedAfterMs = undefined;

    let header: Headers | undefined;
    await client.listLocks({}, { headers: { "x-request-id": "3f2a7c10-5b1e-4d2a-9c3b-0a1b2c3d4e5f" }, onHeader: (h) => (header = h) });
    t.equal(header?.get("x-request-id"), "3f2a7c10-5b1e-4d2a-9c3b-0a1b2c3d4e5f", "the caller's request id is echoed");
    t.equal(header?.get("x-seen-request-id"), "3f2a7c10-5b1e-4d2a-9c3b-0a1b2c3d4e5f", "and visible to the handler");
    await client.listLocks({}, { headers: { "x-request-id": "bad id with spaces" }, onHeader: (h) => (header = h) });
    t.match(header?.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, "an unusable one is replaced by a fresh id");
    // Logged with every line: only machine-made ids are kept, so a name or a phone number never is.
    for (const given of ["ZeynepArslan-05320000001", "req-abc-123", "sukru.isik"]) {
      await client.listLocks({}, { headers: { "x-request-id": given }, onHeader: (h) => (header = h) });
      t.not(header?.get("x-request-id"), given, `a free-form request id (${given}) is replaced`);
      t.match(header?.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    }
    for (const kept of ["0123456789abcdef0123456789abcdef", "01HZX3K4M5N6P7Q8R9S0T1V2W3"]) {
      await client.listLocks({}, { headers: { "x-request-id": kept }, onHeader: (h) => (header = h) });
      t.equal(header?.get("x-request-id"), kept, "a trace id or a ULID is kept");
    }
  });
}

t.test("rpc_server_duration_seconds counts every call by service, method and code", async (t) => {
  const text = await metricsRegistry.metrics();
  t.match(text, /rpc_server_duration_seconds_count\{service="medschedule\.lock\.v1\.LockService",method="Acquire",code="INTERNAL"\} 4/);
  t.match(text, /rpc_server_duration_seconds_count\{service="medschedule\.lock\.v1\.LockService",method="Release",code="NOT_FOUND"\} 4/);
  t.match(text, /method="Extend",code="DEADLINE_EXCEEDED"\}|method="Extend",code="CANCELLED"\}/);
});
