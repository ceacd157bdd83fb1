// A deadline that has already passed, or that passes while the call is being worked on, is
// DEADLINE_EXCEEDED wherever the call lands: never UNAVAILABLE (which tells clients to retry
// elsewhere) nor CANCELED (which says the client gave up). Tried through the gateway as `npm start`
// runs it (services in-process), through the forwarding gateway (distributed mode), directly on a
// service's grpc-js server, and on a runtime whose database is still starting.
import t, { type Test } from "tap";
import http2 from "node:http2";
import net from "node:net";
import { lockModule } from "../../services/lock/lock.module.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { serveConnect } from "../../services/runtime/server/connect-server.js";
import { startGateway } from "../../gateway/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { TEST_SECRET } from "../helpers/system.js";
import { startQueueRuntime } from "../helpers/queue-runtime.js";

const LIST_QUEUES = "/medschedule.queue.v1.QueueService/ListQueues";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const GRPC_DEADLINE_EXCEEDED = "4";

const reception = `Bearer ${await signToken(TEST_SECRET, "desk", ["receptionist"])}`;
const admin = `Bearer ${await signToken(TEST_SECRET, "ops", ["admin"])}`;

/** grpcStatus makes one gRPC call over raw HTTP/2 (so any grpc-timeout can be sent) and returns grpc-status. */
function grpcStatus(port: number, procedure: string, grpcTimeout: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": procedure,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": grpcTimeout,
      authorization: reception,
    });
    let status = "";
    stream.on("response", (h) => (status = String(h["grpc-status"] ?? status)));
    stream.on("trailers", (h) => (status = String(h["grpc-status"] ?? status)));
    stream.on("data", () => undefined);
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve(status);
    });
    // An empty message: five bytes of gRPC framing.
    stream.end(Buffer.alloc(5));
  });
}

/** connectCode makes one Connect JSON call with connect-timeout-ms and returns "ok" or the error code. */
async function connectCode(url: string, procedure: string, body: unknown, timeoutMs: number, authorization = reception): Promise<string> {
  const res = await fetch(url + procedure, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": String(timeoutMs), authorization },
    body: JSON.stringify(body),
  });
  return res.status === 200 ? "ok" : ((await res.json()) as { code: string }).code;
}

/** expired tries the already-expired deadlines on a server that speaks gRPC (and Connect, when `url` is given). */
async function expired(t: Test, port: number, url?: string) {
  for (const timeout of ["0n", "1n", "1u", "0m"]) {
    t.equal(await grpcStatus(port, LIST_QUEUES, timeout), GRPC_DEADLINE_EXCEEDED, `gRPC, grpc-timeout ${timeout}`);
  }
  t.equal(await grpcStatus(port, HEALTH_CHECK, "1n"), GRPC_DEADLINE_EXCEEDED, "health too");
  if (!url) return;
  t.equal(await connectCode(url, LIST_QUEUES, {}, 0), "deadline_exceeded", "Connect, connect-timeout-ms 0");
  // 1 ms may pass before or during the call, or the call may even finish in time; it never says the
  // client cancelled or the service is unavailable.
  for (let i = 0; i < 5; i++) t.match(await connectCode(url, LIST_QUEUES, {}, 1), /^(ok|deadline_exceeded)$/, "Connect, connect-timeout-ms 1");
}

const databaseUrl = await createTestDatabase(t);

t.test("in-process gateway (npm start)", async (t) => {
  const runtime = await startQueueRuntime(t, { databaseUrl, env: { AUTH_HS256_SECRET: TEST_SECRET } });
  await runtime.ready;
  const server = await startGateway(runtime, 0);
  t.teardown(() => server.close(100));
  await expired(t, server.port, `http://127.0.0.1:${server.port}`);
});

t.test("forwarding gateway (distributed mode) and the service's grpc-js server", async (t) => {
  const upstream = await startUpstream(t, [queueModule, lockModule], databaseUrl);
  const gw = await startTestGateway(t, [upstream.address]);
  await expired(t, gw.server.port, gw.url);
  t.test("directly on the service's grpc-js server", (t) => expired(t, upstream.grpc.port));

  // The deadline passes while the gateway waits for the upstream: the gateway's own signal aborts the
  // forwarded call, which grpc-js reports as "Cancelled on client".
  const lock = (body: unknown, ms: number) => connectCode(gw.url, "/medschedule.lock.v1.LockService/Acquire", body, ms, admin);
  t.equal(await lock({ resource: "deadline/held", owner: "holder", ttl: "30s" }, 5_000), "ok");
  t.equal(await lock({ resource: "deadline/held", owner: "waiter", ttl: "30s", waitTimeout: "20s" }, 500), "deadline_exceeded", "a deadline that passes upstream");
});

t.test("a runtime whose database is still starting", async (t) => {
  // A "database" that accepts connections and never answers: the runtime stays in warm-up (5 s).
  const silent = net.createServer(() => undefined);
  const held = new Set<net.Socket>();
  silent.on("connection", (s) => {
    held.add(s);
    s.on("close", () => held.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const port = (silent.address() as net.AddressInfo).port;
  const runtime = await startQueueRuntime(t, { name: "warming", databaseUrl: `postgres://u:p@127.0.0.1:${port}/x`, env: { AUTH_HS256_SECRET: TEST_SECRET } });
  runtime.ready.catch(() => undefined);
  const server = await serveConnect({ port: 0, host: "127.0.0.1", services: runtime.registrations });
  t.teardown(() => server.close(100));
  const url = `http://127.0.0.1:${server.port}`;
  t.equal(await connectCode(url, LIST_QUEUES, {}, 300), "deadline_exceeded", "the deadline passed during warm-up");
  t.equal(await connectCode(url, LIST_QUEUES, {}, 0), "deadline_exceeded", "an expired deadline during warm-up");
});
