// A service's grpc-js server closes connections that hold a socket for nothing (no HTTP/2 preface,
// or no call for the idle timeout; a peer that stops answering keepalive pings), while the runtime's
// own clients (the gateway's forwarding channels, peers) keep working across those closes: a call
// that meets a connection the server is closing is never failed, and a quiet stream is never closed
// for being quiet.
import t from "tap";
import net from "node:net";
import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as S } from "../../../gen/health/v1/health_pb.js";
import { GATEWAY_CHANNEL_OPTIONS } from "../../../gateway/forward.js";
import { serveGrpc } from "../../../services/runtime/server/grpc-server.js";
import { createGrpcJsTransport } from "../../../services/runtime/clients/grpc-transport.js";
import { HealthServiceImpl, ServingStatus } from "../../../services/runtime/server/health.js";
import { wrapService } from "../../../services/runtime/server/interceptors.js";
import { waitFor } from "../../helpers/connections.js";

const IDLE_MS = 100;
const health = new HealthServiceImpl();
const server = await serveGrpc({ port: 0, host: "127.0.0.1", services: [{ service: Health, impl: wrapService(Health, health, []) as never }], idleTimeoutMs: IDLE_MS, keepaliveTimeMs: 300 });
t.teardown(() => server.close(50));

/** socket connects, writes `data`, and notes when the server closes it. */
async function socket(data?: string): Promise<{ s: net.Socket; closed: () => boolean }> {
  const s = net.connect(server.port, "127.0.0.1");
  let closed = false;
  s.on("data", () => undefined);
  s.on("error", () => undefined);
  s.on("close", () => (closed = true));
  await new Promise((r) => s.once("connect", r));
  if (data) s.write(data);
  return { s, closed: () => closed };
}

t.test("sockets without a call are closed: silent, preface only", async (t) => {
  const silent = await socket();
  const preface = await socket("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  await waitFor(() => silent.closed() && preface.closed(), 30_000, "the server to close both");
  t.ok(silent.closed(), "a socket that sends nothing");
  t.ok(preface.closed(), "a socket that sends the preface and then nothing");
});

t.test("the gateway's channel keeps working while the server closes its idle connections", async (t) => {
  const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${server.port}`], channelOptions: GATEWAY_CHANNEL_OPTIONS });
  t.teardown(() => transport.close());
  const client = createClient(Health, transport);
  const failures: string[] = [];
  // Gaps around the idle timeout: some calls go out just as the server closes the connection.
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, (i * 37) % (IDLE_MS * 2)));
    await client.check({}).catch((e: unknown) => failures.push(String(e)));
  }
  t.same(failures, [], "no call failed");

  const quiet = client.watch({})[Symbol.asyncIterator]();
  t.equal((await quiet.next()).value?.status, S.SERVING);
  await new Promise((r) => setTimeout(r, IDLE_MS * 5));
  health.setStatus("", ServingStatus.NOT_SERVING);
  t.equal((await quiet.next()).value?.status, S.NOT_SERVING, "a stream quiet for five idle timeouts is still open");
  await quiet.return?.();
});
