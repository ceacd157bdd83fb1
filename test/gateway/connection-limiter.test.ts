// The connection limits of the gateway's server (serveConnect), one rule at a time, on the plaintext
// port (HTTP/1.1 and h2c) and with TLS: a connection that sends no complete request headers (or
// HTTP/2 preface and stream) is closed within the headers timeout, one with no request or stream in
// progress after the idle timeout (HTTP/2 with GOAWAY), a request body that does not arrive within the
// body timeout is cut; past the cap the longest-idle connection makes room, and a stream in progress
// (a quiet watch) is never closed for being quiet; the GATEWAY_* settings, and a cap never above what
// the file limit leaves.
import t, { type Test } from "tap";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import type { HandlerContext } from "@connectrpc/connect";
import { Health } from "../../gen/health/v1/health_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { loadConfig } from "../../services/runtime/config.js";
import { serveConnect, type ConnectServerHandle } from "../../services/runtime/server/connect-server.js";
import { fileBoundConnections } from "../../services/runtime/server/file-limit.js";
import { HealthServiceImpl, ServingStatus } from "../../services/runtime/server/health.js";
import { wrapService } from "../../services/runtime/server/interceptors.js";
import { waitFor } from "../helpers/connections.js";

const GUARD_MS = 20_000;
const WATCH_QUEUE = "/medschedule.queue.v1.QueueService/WatchQueue";
const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tracked {
  /** gone is set when the socket, session or stream closed. */
  gone: boolean;
}

/** track notes when an emitter closes. */
function track<E extends NodeJS.EventEmitter>(e: E): E & Tracked {
  const out = e as E & Tracked;
  out.gone = false;
  e.on("close", () => (out.gone = true));
  e.on("error", () => undefined);
  return out;
}

/** rawSocket connects (reading whatever comes, so a close is seen) and writes `data`. */
async function rawSocket(port: number, data?: string, localAddress = "127.0.0.1"): Promise<net.Socket & Tracked> {
  const s = track(net.connect({ port, host: "127.0.0.1", localAddress }));
  s.on("data", () => undefined);
  await new Promise((r) => s.once("connect", r));
  if (data) s.write(data);
  return s;
}

/** keepAlive makes one HTTP/1.1 request and keeps the connection, idle, once the answer is in. */
async function keepAlive(port: number): Promise<net.Socket & Tracked> {
  const s = await rawSocket(port);
  const answered = new Promise((r) => s.once("data", r));
  s.write("GET /no-such-page HTTP/1.1\r\nHost: localhost\r\n\r\n");
  await answered;
  return s;
}

/** GRPC_EMPTY is an empty gRPC message: the five bytes of framing. */
const GRPC_EMPTY = Buffer.alloc(5);

/** h2Watch opens a Health/Watch (or another server stream) on an HTTP/2 session, quiet after its first message. */
async function h2Watch(session: http2.ClientHttp2Session, procedure = "/grpc.health.v1.Health/Watch"): Promise<http2.ClientHttp2Stream & Tracked & { messages: number }> {
  const stream = track(
    session.request({ ":method": "POST", ":path": procedure, "content-type": "application/grpc", te: "trailers" }),
  ) as http2.ClientHttp2Stream & Tracked & { messages: number };
  stream.messages = 0;
  stream.on("data", () => stream.messages++);
  stream.end(GRPC_EMPTY);
  await waitFor(() => stream.messages > 0, GUARD_MS, "the first health status");
  return stream;
}

/** h2Check makes one Health/Check call on a session. */
function h2Check(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
    let status = "";
    stream.on("response", (h) => (status = String(h["grpc-status"] ?? "")));
    stream.on("trailers", (h) => (status = String(h["grpc-status"] ?? "")));
    stream.on("data", () => undefined);
    stream.on("error", reject);
    stream.on("close", () => resolve(status));
    stream.end(GRPC_EMPTY);
  });
}

function h2Session(url: string, opts: http2.SecureClientSessionOptions = {}): http2.ClientHttp2Session & Tracked & { toldGoaway: boolean } {
  const s = track(http2.connect(url, opts)) as http2.ClientHttp2Session & Tracked & { toldGoaway: boolean };
  s.toldGoaway = false;
  s.on("goaway", () => (s.toldGoaway = true));
  return s;
}

async function healthServer(t: Test, connections: Parameters<typeof serveConnect>[0]["connections"], tlsFiles?: { certFile: string; keyFile: string }) {
  const health = new HealthServiceImpl();
  // A stand-in for a watch that needs a token (the limiter only knows it is not health or reflection).
  const queue = {
    async *watchQueue(_req: unknown, ctx: HandlerContext) {
      yield { snapshot: true };
      await new Promise((r) => ctx.signal.addEventListener("abort", r));
    },
  };
  const server = await serveConnect({
    port: 0,
    host: "127.0.0.1",
    services: [
      { service: Health, impl: wrapService(Health, health, []) as never },
      { service: QueueService, impl: wrapService(QueueService, queue as never, []) as never },
    ],
    connections,
    tls: tlsFiles,
  });
  t.teardown(() => server.close(50));
  return { server, health };
}

const connectionsOf = (server: ConnectServerHandle, n: number) => waitFor(() => server.connections() === n, GUARD_MS, `${n} connections at the server`);

t.test("past the cap, the longest-idle connection makes room; a stream in progress never does", async (t) => {
  const { server } = await healthServer(t, { maxConnections: 6, headersTimeoutMs: 60_000, idleTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
  const url = `http://127.0.0.1:${server.port}`;
  const board = h2Session(url);
  t.teardown(() => board.destroy());
  const watch = await h2Watch(board);
  const idle = await keepAlive(server.port);
  const waiting: (net.Socket & Tracked)[] = [];
  for (let i = 0; i < 4; i++) waiting.push(await rawSocket(server.port));
  await connectionsOf(server, 6);

  const d = await rawSocket(server.port);
  await waitFor(() => idle.gone, GUARD_MS, "the idle keep-alive connection to close");
  t.ok(idle.gone, "the connection idle the longest went first");
  t.same(waiting.map((s) => s.gone), [false, false, false, false], "newer waiting connections stay");
  const e = await rawSocket(server.port);
  await waitFor(() => waiting[0].gone, GUARD_MS, "the oldest waiting connection to close");
  t.same(waiting.map((s) => s.gone), [true, false, false, false], "then the one waiting the longest");
  t.notOk(watch.gone || board.gone, "the board's stream is never closed for room");
  t.notOk(d.gone || e.gone, "the new ones are served");
  for (const s of [...waiting, d, e]) s.destroy();
});

t.test("a flood from one address sheds its own idle sockets, not another address's older one", async (t) => {
  const { server } = await healthServer(t, { maxConnections: 6, headersTimeoutMs: 60_000, idleTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
  // The clinic's connection is the oldest idle one; no limit per address keeps the flood out.
  const clinic = await rawSocket(server.port, undefined, "127.0.0.1");
  const flood: (net.Socket & Tracked)[] = [];
  for (let i = 0; i < 5; i++) flood.push(await rawSocket(server.port, undefined, "127.0.0.2"));
  await connectionsOf(server, 6);
  for (let i = 0; i < 3; i++) flood.push(await rawSocket(server.port, undefined, "127.0.0.2"));
  await waitFor(() => flood.filter((s) => s.gone).length === 3, GUARD_MS, "three of the flood to close");
  t.same(flood.map((s) => s.gone), [true, true, true, false, false, false, false, false], "the flood's longest-idle sockets went");
  t.notOk(clinic.gone, "the clinic's older connection stays");
  for (const s of [clinic, ...flood]) s.destroy();
});

t.test("with every connection busy, a new one is refused; a stream that ends makes its connection idle", async (t) => {
  const { server } = await healthServer(t, { maxConnections: 2, headersTimeoutMs: 60_000, idleTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
  const url = `http://127.0.0.1:${server.port}`;
  const a = h2Session(url);
  const b = h2Session(url);
  t.teardown(() => (a.destroy(), b.destroy()));
  const watchA = await h2Watch(a, WATCH_QUEUE);
  const watchB = await h2Watch(b, WATCH_QUEUE);
  const refused = await rawSocket(server.port);
  await waitFor(() => refused.gone, GUARD_MS, "the new connection to be refused");
  t.ok(refused.gone, "refused: every connection has a stream in progress");
  t.notOk(watchA.gone || watchB.gone, "both streams stay");
  watchA.close();
  await waitFor(() => watchA.gone, GUARD_MS, "the stream to end");
  const next = await rawSocket(server.port);
  await waitFor(() => a.gone, GUARD_MS, "the now idle session to close");
  t.ok(a.gone, "the now idle HTTP/2 session was closed for the new one");
  t.notOk(next.gone || watchB.gone, "the new connection and the other stream stay");
  next.destroy();
});

t.test("at the cap, tokenless health watches and stalled bodies make room before anyone is refused", async (t) => {
  const { server } = await healthServer(t, { maxConnections: 3, headersTimeoutMs: 60_000, idleTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
  const url = `http://127.0.0.1:${server.port}`;
  const board = h2Session(url);
  const watcher = h2Session(url);
  const stalling = h2Session(url);
  t.teardown(() => (board.destroy(), watcher.destroy(), stalling.destroy()));
  const watch = await h2Watch(board, WATCH_QUEUE);
  const healthWatch = await h2Watch(watcher);
  const stalled = track(stalling.request({ ":method": "POST", ":path": WATCH_QUEUE, "content-type": "application/grpc", te: "trailers" }));
  stalled.resume();
  await connectionsOf(server, 3);
  // Two more boards, each on a connection of its own.
  const first = h2Session(url);
  t.teardown(() => first.destroy());
  await h2Watch(first, WATCH_QUEUE);
  await waitFor(() => healthWatch.gone || stalled.gone, GUARD_MS, "one of the two to make room");
  const second = h2Session(url);
  t.teardown(() => second.destroy());
  await h2Watch(second, WATCH_QUEUE);
  await waitFor(() => healthWatch.gone && stalled.gone, GUARD_MS, "the other to make room");
  t.pass("a tokenless Health/Watch and a stream whose body never came were closed for new connections");
  t.notOk(watch.gone || board.gone, "the watch with a real request stays");
  t.notOk(first.gone || second.gone, "the new boards are served");
});

t.test("headers, body and idle timeouts on HTTP/1.1 and h2c; a quiet stream stays", async (t) => {
  const { server, health } = await healthServer(t, { headersTimeoutMs: 400, bodyTimeoutMs: 600, idleTimeoutMs: 800 });
  const url = `http://127.0.0.1:${server.port}`;
  // Streams that stay quiet far longer than every timeout: HTTP/2 (grpcurl, a board over h2) and
  // Connect server streaming over HTTP/1.1 (the web app's display board).
  const board = h2Session(url);
  t.teardown(() => board.destroy());
  const watch = await h2Watch(board);
  const h1Board = await rawSocket(server.port);
  let h1Messages = "";
  h1Board.on("data", (d: Buffer) => (h1Messages += d.toString("latin1")));
  const body = Buffer.from("{}");
  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
  h1Board.write(
    `POST /grpc.health.v1.Health/Watch HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/connect+json\r\nConnect-Protocol-Version: 1\r\nContent-Length: ${envelope.length}\r\n\r\n`,
  );
  h1Board.write(envelope);
  await waitFor(() => h1Messages.includes("SERVING"), GUARD_MS, "the HTTP/1.1 board's first status");

  const kinds = {
    silent: await rawSocket(server.port),
    "partial preface": await rawSocket(server.port, PREFACE.slice(0, 10)),
    "preface, then nothing": await rawSocket(server.port, PREFACE + "\0\0\0\x04\0\0\0\0\0"),
    "partial headers": await rawSocket(server.port, "GET / HTTP/1.1\r\nHost: localhost\r\n"),
    "keep-alive, idle": await keepAlive(server.port),
    "a body that never comes": await rawSocket(
      server.port,
      "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    ),
  };
  const slowloris = await rawSocket(server.port, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
  const trickle = setInterval(() => slowloris.write("a"), 50);
  t.teardown(() => clearInterval(trickle));
  const afterCall = h2Session(url);
  t.equal(await h2Check(afterCall), "0", "an h2c call");
  const slowBody = h2Session(url);
  const stalled = track(slowBody.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" }));
  stalled.resume();

  for (const [kind, s] of Object.entries(kinds)) {
    await waitFor(() => s.gone, GUARD_MS, `${kind} to be closed`);
    t.ok(s.gone, `${kind}: closed`);
  }
  await waitFor(() => slowloris.gone, GUARD_MS, "the slowloris to be closed");
  t.ok(slowloris.gone, "headers trickled a byte at a time: closed");
  await waitFor(() => stalled.gone, GUARD_MS, "the stalled stream to be reset");
  t.equal(stalled.rstCode, http2.constants.NGHTTP2_CANCEL, "an HTTP/2 stream whose body never comes is reset");
  await waitFor(() => afterCall.gone && slowBody.gone, GUARD_MS, "the idle sessions to close");
  t.ok(afterCall.toldGoaway && slowBody.toldGoaway, "idle HTTP/2 sessions are told GOAWAY, then closed");

  await sleep(1_500);
  t.notOk(watch.gone || board.gone, "the quiet h2 stream is still open after every timeout");
  t.notOk(h1Board.gone, "the quiet HTTP/1.1 stream too");
  health.setStatus("", ServingStatus.NOT_SERVING);
  await waitFor(() => watch.messages > 1 && h1Messages.includes("NOT_SERVING"), GUARD_MS, "both boards to hear the change");
  t.pass("and both still deliver");
  h1Board.destroy();
});

const tlsDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-tls-"));
t.teardown(() => rm(tlsDir, { recursive: true, force: true }));
const certFile = path.join(tlsDir, "cert.pem");
const keyFile = path.join(tlsDir, "key.pem");
const noOpenssl = await promisify(execFile)("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=localhost"]).then(
  () => false,
  (err: unknown) => `openssl cannot make a test certificate: ${(err as Error).message}`,
);

t.test("with TLS: the handshake counts as waiting, HTTP/1.1 and h2 over TLS are served, idle ones closed", { skip: noOpenssl }, async (t) => {
  const { server } = await healthServer(t, { headersTimeoutMs: 400, bodyTimeoutMs: 600, idleTimeoutMs: 800 }, { certFile, keyFile });
  const url = `https://127.0.0.1:${server.port}`;
  const noHandshake = await rawSocket(server.port);
  const handshakeOnly = track(tls.connect({ host: "127.0.0.1", port: server.port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }));
  handshakeOnly.on("data", () => undefined);
  await new Promise((r) => handshakeOnly.once("secureConnect", r));

  const res = await new Promise<number>((resolve, reject) => {
    const req = https.request(`${url}/grpc.health.v1.Health/Check`, { method: "POST", rejectUnauthorized: false, agent: false, headers: { "content-type": "application/json" } }, (r) => {
      r.resume();
      r.on("end", () => resolve(r.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end("{}");
  });
  t.equal(res, 200, "HTTP/1.1 over TLS is served");
  const secure = h2Session(url, { rejectUnauthorized: false });
  t.equal(await h2Check(secure), "0", "h2 over TLS is served");
  const board = h2Session(url, { rejectUnauthorized: false });
  t.teardown(() => board.destroy());
  const watch = await h2Watch(board);

  await waitFor(() => noHandshake.gone, GUARD_MS, "the socket without a handshake to close");
  t.ok(noHandshake.gone, "no TLS handshake: closed");
  await waitFor(() => handshakeOnly.gone, GUARD_MS, "the silent TLS connection to close");
  t.ok(handshakeOnly.gone, "a TLS handshake and then nothing: closed");
  await waitFor(() => secure.gone, GUARD_MS, "the idle h2 session to close");
  t.ok(secure.toldGoaway, "an idle h2 session over TLS: GOAWAY, closed");
  await sleep(1_200);
  t.notOk(watch.gone || board.gone, "a quiet stream over TLS stays");
});

t.test("GATEWAY_* configuration", async (t) => {
  const d = loadConfig({}, { port: 0 }).gatewayConnections;
  t.same(d, { headersTimeoutMs: 10_000, bodyTimeoutMs: 30_000, idleTimeoutMs: 65_000, maxConnections: undefined }, "defaults (the cap follows the file limit)");
  t.ok(d.headersTimeoutMs <= 30_000, "the headers timeout is at most 30 s by default");
  const c = loadConfig({ GATEWAY_HEADERS_TIMEOUT: "5s", GATEWAY_BODY_TIMEOUT: "1m", GATEWAY_IDLE_TIMEOUT: "2m", GATEWAY_MAX_CONNECTIONS: "500" }, { port: 0 }).gatewayConnections;
  t.same(c, { headersTimeoutMs: 5_000, bodyTimeoutMs: 60_000, idleTimeoutMs: 120_000, maxConnections: 500 });
  t.throws(() => loadConfig({ GATEWAY_MAX_CONNECTIONS: "0" }, { port: 0 }), /GATEWAY_MAX_CONNECTIONS must be a whole number above 0/);
  t.throws(() => loadConfig({ GATEWAY_MAX_CONNECTIONS: "lots" }, { port: 0 }), /GATEWAY_MAX_CONNECTIONS/);
  t.throws(() => loadConfig({ GATEWAY_HEADERS_TIMEOUT: "0s" }, { port: 0 }), /GATEWAY_HEADERS_TIMEOUT must be longer than 0/);
  t.throws(() => loadConfig({ GATEWAY_IDLE_TIMEOUT: "soon" }, { port: 0 }), /GATEWAY_IDLE_TIMEOUT must be a duration/);
});

t.test("the cap never exceeds what the file limit leaves", async (t) => {
  t.equal(fileBoundConnections(undefined, 10, 0), Number.POSITIVE_INFINITY, "unknown limit: no bound from it");
  t.equal(fileBoundConnections(256, 40, 0), 256 - 40 - 32, "256 files, 40 in use elsewhere, 32 kept in reserve");
  t.equal(fileBoundConnections(256, 240, 200), 256 - 40 - 32, "connections already open do not count against themselves");
  t.equal(fileBoundConnections(1024, 170, 0), 1024 - 170 - 102, "a tenth of the limit in reserve");
  t.equal(fileBoundConnections(64, 60, 0), 4, "never below a handful");
  t.equal(fileBoundConnections(256, 256, 200), 200 - 32, "out of files (counted as the limit): fewer than the connections held now");
});
