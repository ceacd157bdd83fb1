// The gateway's bound on RPCs in progress (serveConnect's maxRpcs, GATEWAY_MAX_STREAMS +
// GATEWAY_MAX_IN_FLIGHT + headroom): every call costs memory until it is answered, refusals by the
// interceptors included, so thousands at once would fill the heap before the stream or in-flight
// limits could refuse them. Past the bound a call is refused before its request is read, with
// RESOURCE_EXHAUSTED and ErrorInfo AT_CAPACITY, in the caller's own protocol (Connect unary and
// streaming, gRPC-web, gRPC); a health check still answers; a finished or cancelled call frees its
// place. And the stream limits' tokenless caller, as serveConnect names it: the HTTP/2 connection.
import t from "tap";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { ListQueuesRequestSchema, QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { gatewayMaxRpcs, RPC_HEADROOM } from "../../services/runtime/config.js";
import { serveConnect } from "../../services/runtime/server/connect-server.js";
import { wrapService } from "../../services/runtime/server/interceptors.js";
import { createStreamLimitInterceptor } from "../../services/runtime/server/stream-limiter.js";
import { rawCall } from "../helpers/raw-rpc.js";
import { tally, WatchClient } from "../helpers/watches.js";

const WATCH_QUEUE = "/medschedule.queue.v1.QueueService/WatchQueue";
const LIST_QUEUES = "/medschedule.queue.v1.QueueService/ListQueues";

t.test("gatewayMaxRpcs", async (t) => {
  t.equal(gatewayMaxRpcs({ maxStreams: 320, maxInFlight: 128 }), 320 + 128 + RPC_HEADROOM);
  t.equal(gatewayMaxRpcs({ maxStreams: 0, maxInFlight: 128 }), 0, "no bound when the streams are unbounded");
  t.equal(gatewayMaxRpcs({ maxStreams: 320, maxInFlight: 0 }), 0, "nor when unary calls are");
});

t.test("past maxRpcs calls are refused at once in every protocol; health checks answer; places come back", async (t) => {
  const server = await serveConnect({
    port: 0,
    host: "127.0.0.1",
    maxRpcs: 2,
    services: [
      {
        service: QueueService,
        impl: {
          async *watchQueue(_req: unknown, ctx: { signal: AbortSignal }) {
            yield { sequence: 1n, snapshot: true };
            await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
          },
          listQueues: async () => ({ queues: [] }),
        } as never,
      },
      { service: Health, impl: { check: async () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) } as never },
    ],
  });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  const listQueues = toBinary(ListQueuesRequestSchema, create(ListQueuesRequestSchema, {}));
  const healthCheck = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, {}));

  const boards = new WatchClient(base);
  t.teardown(() => boards.close());
  const held = await boards.openMany(2, WATCH_QUEUE, {});
  t.same(tally(held.firsts), { message: 2 }, "two streams take both places");

  const late = new WatchClient(base);
  t.teardown(() => late.close());
  const refused = await late.openMany(1, WATCH_QUEUE, {});
  t.same(tally(refused.firsts), { "resource_exhausted AT_CAPACITY": 1 }, "a Connect stream is refused with ErrorInfo AT_CAPACITY");
  const end = refused.firsts[0];
  if (end !== "message") {
    t.match(end.message, /retry in a moment/, "and a message a person can act on");
    t.same(end.metadata, { limit: "2" });
  }
  for (const protocol of ["connect", "grpc-web", "grpc"] as const) {
    const out = await rawCall(base, protocol, LIST_QUEUES, listQueues, { binary: true });
    t.equal(out.code, Code.ResourceExhausted, `${protocol}: RESOURCE_EXHAUSTED`);
    t.match(out.message, /as many calls as it can \(2\)/, `${protocol}: the message says why`);
    if (protocol === "connect") t.equal(out.httpStatus, 429, "Connect unary: HTTP 429");
  }
  const health = await rawCall(base, "grpc", "/grpc.health.v1.Health/Check", healthCheck, { binary: true });
  t.equal(health.code, 0, "a health check still answers: a busy server is alive");

  held.watches.forEach((w) => w.close());
  let after = -1;
  for (let i = 0; i < 600 && after !== 0; i++) {
    after = (await rawCall(base, "connect", LIST_QUEUES, listQueues, { binary: true })).code;
    if (after !== 0) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(after, 0, "once the streams are cancelled, calls are served again");
});

t.test("without a token, serveConnect's streams are counted per HTTP/2 connection, not per address", async (t) => {
  const limiter = createStreamLimitInterceptor({ max: 0, perClient: 2 });
  const impl = wrapService(
    QueueService,
    {
      async *watchQueue(_req: unknown, ctx: { signal: AbortSignal }) {
        yield { sequence: 1n, snapshot: true };
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      },
    } as never,
    [limiter],
  );
  const server = await serveConnect({ port: 0, host: "127.0.0.1", services: [{ service: QueueService, impl: impl as never }] });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  const one = new WatchClient(base);
  const other = new WatchClient(base);
  t.teardown(() => (one.close(), other.close()));
  // A header naming another connection is the client's, and ignored.
  const spoofed = await Promise.all([1, 2, 3].map(() => one.open(WATCH_QUEUE, {}, undefined, { "x-medschedule-connection": `10.9.9.9:${Math.random()}` }).first));
  t.same(tally(spoofed), { message: 2, "resource_exhausted TOO_MANY_STREAMS caller": 1 }, "two on one connection, the third refused");
  t.same(tally((await other.openMany(2, WATCH_QUEUE, {})).firsts), { message: 2 }, "another connection from the same address has its own two");
  t.equal(limiter.open(), 4);
});
