import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { ACCEPT_COMPRESSION } from "./compression.js";
import { drainSignalKey, earlyFailureOf } from "./interceptors.js";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ServiceRegistration } from "./grpc-server.js";
import { CLIENT_CONNECTION_HEADER, CONNECTION_HEADER, PEER_HEADER } from "./connection-headers.js";
import type { Logger } from "../observability/logger.js";
import { bodyTimedOutKey, withEarlyFailures } from "../request/request-decode-errors.js";
import { createStrictJsonOptions } from "../request/request-json.js";
import { DEFAULT_GATEWAY_CONNECTION_LIMITS, type GatewayConnectionLimits } from "../config.js";
import { createConnectionLimiter } from "./connection-limiter.js";
import { ResourceExhaustedError, toConnectError } from "../errors.js";

/** HttpRoute answers plain HTTP requests (metrics, the web app); it returns false to pass. */
export type HttpRoute = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => boolean;

/** ConnectServerOptions configures serveConnect. */
export interface ConnectServerOptions {
  /** port to listen on; 0 picks a free one. */
  port: number;
  /** host to bind, default all interfaces. */
  host?: string;
  /** services to serve. */
  services: ServiceRegistration[];
  /** routes tried, in order, for requests that are not RPCs (e.g. /metrics, the web app). */
  httpRoutes?: HttpRoute[];
  /** logger for lifecycle lines. */
  logger?: Logger;
  /** maxMessageBytes bounds request and response sizes (default 4 MiB). */
  maxMessageBytes?: number;
  /** tls enables HTTPS; ALPN then picks HTTP/2 or HTTP/1.1. */
  tls?: { certFile: string; keyFile: string };
  /** cors, when set, answers CORS for these origins ("*" for any). */
  corsOrigins?: string[];
  /** connections bounds the client connections (headers, body and idle timeouts, the cap); unset fields take the defaults. */
  connections?: Partial<GatewayConnectionLimits>;
  /**
   * maxRpcs bounds the RPCs in progress at once, open streams included: past it a new one (but a
   * health check) is refused with RESOURCE_EXHAUSTED before it is read, for next to nothing. 0 or
   * unset: no bound.
   */
  maxRpcs?: number;
}

/** ConnectServerHandle is a running connect-node server. */
export interface ConnectServerHandle {
  /** port actually bound. */
  port: number;
  /** inFlight is the number of requests being handled now. */
  inFlight(): number;
  /** connections is the number of client connections open now. */
  connections(): number;
  /** close stops accepting, lets in-flight requests finish for up to graceMs, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** unimplemented answers a method the registration has no implementation of, as connect's router.service would. */
function unimplemented(service: DescService, method: DescMethod): () => never {
  return () => {
    throw new ConnectError(`${service.typeName}.${method.name} is not implemented`, Code.Unimplemented);
  };
}

/** HEALTH_CHECK is the one RPC never refused for capacity: orchestrators' probes must see a busy server as alive. */
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

/** AT_CAPACITY_REASON is the ErrorInfo reason of an RPC refused because the server has maxRpcs in progress. */
export const AT_CAPACITY_REASON = "AT_CAPACITY";

/**
 * refuseAtCapacity answers an RPC with RESOURCE_EXHAUSTED in the caller's protocol without reading its
 * request: gRPC and gRPC-web get a trailers-only answer, Connect streams an end-stream message, Connect
 * unary calls HTTP 429 with the JSON error.
 */
function refuseAtCapacity(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse, max: number): void {
  const err = toConnectError(
    new ResourceExhaustedError(AT_CAPACITY_REASON, `the server is working on as many calls as it can (${max}); retry in a moment`, { metadata: { limit: String(max) } }),
  );
  const ct = String(req.headers["content-type"] ?? "");
  const w = res as http.ServerResponse;
  if (/^application\/grpc/i.test(ct)) {
    const trailer = new Headers();
    setTrailerStatus(trailer, err);
    const headers: Record<string, string> = { "content-type": ct.split(";")[0] };
    trailer.forEach((v, k) => (headers[k] = v));
    normalizeGrpcMessage(headers);
    w.writeHead(200, headers);
    w.end();
  } else if (/^application\/connect\+/i.test(ct)) {
    const json = new TextEncoder().encode(JSON.stringify(endStreamToJson(new Headers(), err, undefined)));
    const body = Buffer.alloc(5 + json.length);
    body[0] = endStreamFlag;
    body.writeUInt32BE(json.length, 1);
    body.set(json, 5);
    w.writeHead(200, { "content-type": ct.split(";")[0] });
    w.end(body);
  } else {
    w.writeHead(codeToHttpStatus(err.code), { "content-type": "application/json" });
    w.end(Buffer.from(errorToJsonBytes(err, undefined)));
  }
}

/** H2_MAX_CONCURRENT_STREAMS bounds the streams one HTTP/2 connection may have open at once. */
export const H2_MAX_CONCURRENT_STREAMS = 100;

/** HTTP2_PREFACE is what an HTTP/2 client with prior knowledge sends first. */
export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * sniffProtocol hands each accepted socket to the HTTP/2 server when it starts with the HTTP/2
 * connection preface, else to the HTTP/1.1 server (Node's plaintext http2 server ignores allowHTTP1).
 */
export function sniffProtocol(socket: net.Socket, h1: http.Server, h2: http2.Http2Server): void {
  let seen = Buffer.alloc(0);
  const dispatch = (server: net.Server) => {
    socket.removeListener("data", onData);
    socket.removeListener("error", onError);
    socket.pause();
    socket.unshift(seen);
    server.emit("connection", socket);
    process.nextTick(() => socket.resume());
  };
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    if (!seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) dispatch(h1);
    else if (seen.length >= HTTP2_PREFACE.length) dispatch(h2);
  };
  const onError = () => socket.destroy();
  socket.on("error", onError);
  socket.on("data", onData);
}

/**
 * grpcMessageEncode percent-encodes a grpc-message the way the gRPC spec says: only bytes outside
 * printable ASCII, and '%'. connect-node encodes with encodeURIComponent, which grpc-js clients do not
 * fully decode ("%2F" stays), so the server rewrites it to the minimal form every client decodes.
 */
export function grpcMessageEncode(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function normalizeGrpcMessage(headers: unknown): void {
  if (!headers || typeof headers !== "object") return;
  const h = headers as Record<string, unknown>;
  const v = h["grpc-message"];
  if (typeof v !== "string") return;
  try {
    h["grpc-message"] = grpcMessageEncode(decodeURIComponent(v));
  } catch {
    // Not percent-encoded by connect-node after all: leave it.
  }
}

/** patchGrpcMessage makes the response's grpc-message header and trailer use the spec's encoding. */
function patchGrpcMessage(res: http.ServerResponse | http2.Http2ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => unknown;
  (res as { writeHead: unknown }).writeHead = (...args: unknown[]) => {
    normalizeGrpcMessage(args[args.length - 1]);
    return writeHead(...args);
  };
  const addTrailers = res.addTrailers.bind(res) as (headers: unknown) => void;
  (res as { addTrailers: unknown }).addTrailers = (headers: unknown) => {
    normalizeGrpcMessage(headers);
    addTrailers(headers);
  };
}

function corsHeaders(origin: string | undefined, allowed: string[] | undefined): Record<string, string> | undefined {
  if (!origin || !allowed || allowed.length === 0) return undefined;
  if (!allowed.includes("*") && !allowed.includes(origin)) return undefined;
  return {
    "access-control-allow-origin": origin,
    vary: "Origin",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers":
      "authorization, content-type, connect-protocol-version, connect-timeout-ms, grpc-timeout, x-grpc-web, x-user-agent, x-request-id, traceparent",
    "access-control-expose-headers": "grpc-status, grpc-message, grpc-status-details-bin, x-request-id, connect-content-encoding",
    "access-control-max-age": "7200",
  };
}

/**
 * serveConnect serves the given ServiceImpl classes with @connectrpc/connect-node, speaking Connect,
 * gRPC-web and gRPC on one port that takes both HTTP/1.1 (browsers, curl) and cleartext HTTP/2 with
 * prior knowledge (grpcurl, buf curl). Non-RPC paths go to `httpRoutes`.
 */
export async function serveConnect(opts: ConnectServerOptions): Promise<ConnectServerHandle> {
  const maxBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  const shutdown = new AbortController();
  const drain = new AbortController();
  setMaxListeners(0, shutdown.signal, drain.signal);
  const limits = { ...DEFAULT_GATEWAY_CONNECTION_LIMITS, ...opts.connections };
  const limiter = createConnectionLimiter({ ...limits, logger: opts.logger });
  const earlyFailures = new Map(opts.services.map((reg) => [reg.service.typeName, earlyFailureOf(reg.impl)]));
  const rpc = connectNodeAdapter({
    contextValues: (req) => createContextValues().set(drainSignalKey, drain.signal).set(bodyTimedOutKey, () => limiter.bodyTimedOut(req)),
    routes(router) {
      for (const reg of opts.services) {
        const impl = reg.impl as Record<string, unknown>;
        for (const method of reg.service.methods) {
          const fn = impl[method.localName] ?? unimplemented(reg.service, method);
          // JSON is read strictly against the contract: known fields, their JSON forms, UTF-8 text (request-json.ts).
          router.rpc(method, fn as never, { jsonOptions: createStrictJsonOptions(method.input) as object });
        }
      }
      // A request that does not decode is INVALID_ARGUMENT, not connect's INTERNAL; one whose client left
      // mid-body is CANCELED; both reach the interceptors' `after` (request-decode-errors.ts).
      router.handlers.splice(
        0,
        router.handlers.length,
        ...router.handlers.map((h) => withEarlyFailures(h, { early: earlyFailures.get(h.service.typeName), logger: opts.logger, maxBytes })),
      );
    },
    readMaxBytes: maxBytes,
    writeMaxBytes: maxBytes,
    acceptCompression: ACCEPT_COMPRESSION,
    shutdownSignal: shutdown.signal,
    fallback(req, res) {
      for (const route of opts.httpRoutes ?? []) if (route(req, res as http.ServerResponse)) return;
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found\n");
    },
  });
  let active = 0;
  let rpcs = 0;
  const maxRpcs = opts.maxRpcs ?? 0;
  const idle = new Set<() => void>();
  // CORS is for the API only: the web app, /metrics and /dev-tokens.json are never for other origins.
  const rpcPaths = new Set(opts.services.flatMap((reg) => reg.service.methods.map((m) => `/${reg.service.typeName}/${m.name}`)));
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    active++;
    limiter.request(req, res);
    res.once("close", () => {
      active--;
      if (active === 0) for (const f of idle) f();
    });
    // The peer address and connection are set by us, never taken from the client; this is the edge,
    // so nobody forwards a client connection to it.
    req.headers[PEER_HEADER] = req.socket?.remoteAddress ?? "";
    req.headers[CONNECTION_HEADER] = `${req.socket?.remoteAddress ?? ""}:${req.socket?.remotePort ?? ""}`;
    delete req.headers[CLIENT_CONNECTION_HEADER];
    const path = (req.url ?? "").split("?")[0];
    const isRpc = rpcPaths.has(path);
    const cors = isRpc ? corsHeaders(req.headers.origin, opts.corsOrigins) : undefined;
    if (cors) for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    if (req.method === "OPTIONS" && cors) {
      res.writeHead(204);
      res.end();
      return;
    }
    // Every RPC in progress costs tens of KiB until it is answered, even one about to be refused;
    // thousands at once over many HTTP/2 connections would exhaust the heap.
    if (maxRpcs > 0 && rpcs >= maxRpcs && isRpc && path !== HEALTH_CHECK) {
      refuseAtCapacity(req, res, maxRpcs);
      return;
    }
    if (isRpc) {
      // Answers carry patient data: no browser or proxy cache keeps them (Connect's GET form included).
      res.setHeader("cache-control", "no-store");
      rpcs++;
      res.once("close", () => rpcs--);
    }
    if (req.headers["content-type"]?.startsWith("application/grpc") && !req.headers["content-type"].startsWith("application/grpc-web")) {
      patchGrpcMessage(res);
    }
    rpc(req as http.IncomingMessage, res as http.ServerResponse);
  };

  // HTTP/2: at most 100 streams at once per connection (RFC 9113's recommended minimum; Node's own
  // default is unlimited), so one connection cannot hold thousands of requests.
  const h2settings = { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS };
  let listener: net.Server;
  if (opts.tls) {
    const secure = http2.createSecureServer(
      {
        allowHTTP1: true,
        cert: readFileSync(opts.tls.certFile),
        key: readFileSync(opts.tls.keyFile),
        handshakeTimeout: limits.headersTimeoutMs,
        settings: h2settings,
      },
      handler,
    );
    // HTTP/1.1 over TLS: the Keep-Alive header tells browsers the idle timeout; the limiter enforces it.
    Object.assign(secure, { keepAliveTimeout: limits.idleTimeoutMs, headersTimeout: limits.headersTimeoutMs });
    secure.on("connection", (socket: net.Socket) => limiter.accept(socket));
    // Before http2's own listener, which starts the session (or the HTTP/1.1 connection) on it.
    secure.prependListener("secureConnection", (socket: tls.TLSSocket) => limiter.secure(socket));
    secure.on("session", (s) => limiter.session(s));
    listener = secure;
  } else {
    const h1 = http.createServer({ keepAliveTimeout: limits.idleTimeoutMs }, handler);
    const h2 = http2.createServer({ settings: h2settings }, handler);
    h2.on("session", (s) => limiter.session(s));
    listener = net.createServer((socket) => {
      if (limiter.accept(socket)) sniffProtocol(socket, h1, h2);
    });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    limiter.destroyAll();
    throw err;
  }
  const port = (listener.address() as net.AddressInfo).port;
  return {
    port,
    inFlight: () => active,
    connections: () => limiter.connections(),
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        drain.abort();
        listener.close();
        // HTTP/2 sessions get GOAWAY, idle connections close, busy ones once their requests end.
        limiter.drain();
        const finish = () => {
          clearTimeout(timer);
          idle.clear();
          shutdown.abort();
          limiter.destroyAll();
          resolve();
        };
        const timer = setTimeout(finish, graceMs);
        timer.unref();
        if (active === 0) finish();
        else idle.add(finish);
      }),
  };
}
