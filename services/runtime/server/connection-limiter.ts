// Why: every socket a client opens costs the gateway a file descriptor until it is closed. Node
// closes none of them on its own here: the plaintext port hands each socket to an http or an http2
// server without either of them listening (so Node's headersTimeout checks never run), and an
// HTTP/2 session or a keep-alive socket that says nothing stays forever. One client holding ~1,100
// idle sockets used up a 1,024 file limit, and every legitimate call failed until it let go.
//
// How: every accepted TCP socket is tracked from the moment it is accepted, whatever it turns into
// (HTTP/1.1, h2c, TLS with either), in one of three states: waiting for its first request (a
// partial preface or headers, a TLS handshake), busy (a request or stream in progress) or idle. A
// sweep a few times per timeout closes sockets that stay waiting past the headers timeout, idle
// past the idle timeout, and requests whose body has not arrived within the body timeout. Past the
// connection cap, a new socket closes the longest-idle (or longest-waiting) one of the remote address
// that holds the most idle connections; only when every connection is busy with real requests is the
// new one refused. The cap is never more than the file limit leaves after the descriptors the
// process uses for other things, measured as it runs.
//
// No limit per address: clinics sit behind one NAT address and a mesh sidecar makes every peer
// 127.0.0.6, so an address limit would lock out the clinic with the attacker. The address only
// decides whose idle connection goes first: a flood from one address sheds its own sockets, not a
// clinic's fresh connection that has not sent its request yet; behind one NAT or a sidecar it is
// plain longest-idle-first. Busy connections are never shed: a display board's quiet WatchQueue is
// a stream in progress.
//
// Where: what is tracked per connection is in tracked-connection.ts, the file limit in file-limit.ts.
import type http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type tls from "node:tls";
import { Counter, Gauge } from "prom-client";
import type { GatewayConnectionLimits } from "../config.js";
import { DEFAULT_GATEWAY_CONNECTION_LIMITS } from "../config.js";
import { fileBoundConnections, fileLimit, openFiles } from "./file-limit.js";
import type { Logger } from "../observability/logger.js";
import { metricsRegistry } from "../observability/metrics.js";
import { AddressGroups, bodyDone, isPublicCall, type OpenRequest, type TrackedConnection } from "./tracked-connection.js";

/** TCP_KEEPALIVE_MS is when the kernel starts probing a silent peer, so a board that lost power does not hold its stream forever. */
const TCP_KEEPALIVE_MS = 30_000;

/** CLOSE_GRACE_MS is how long an HTTP/2 session told to go away (GOAWAY) may take before its socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** SHED_LOG_INTERVAL_MS spaces the warnings about the connection cap. */
const SHED_LOG_INTERVAL_MS = 10_000;

const CONNECTION = Symbol("medschedule.connection");

/** ShutReason says why the limiter closed a connection (the `reason` label of gateway_connections_closed_total). */
export type ShutReason = "headers_timeout" | "body_timeout" | "idle_timeout" | "capacity" | "refused";

const live = new Set<ConnectionLimiter>();

// gateway_connections: the client connections open now, summed over the servers of this process.
new Gauge({
  name: "gateway_connections",
  help: "Client connections open at the gateway (waiting for a request, busy or idle).",
  registers: [metricsRegistry],
  collect() {
    let n = 0;
    for (const l of live) n += l.connections();
    this.set(n);
  },
});

/** gatewayConnectionsClosed is `gateway_connections_closed_total`, by reason. */
const gatewayConnectionsClosed = new Counter({
  name: "gateway_connections_closed_total",
  help: "Client connections the gateway closed itself, by reason: headers_timeout, body_timeout, idle_timeout, capacity (closed for a new one), refused (new one, every connection busy).",
  labelNames: ["reason"] as const,
  registers: [metricsRegistry],
});

/** FILE_COUNT_EVERY_MS spaces the counts of open files (each reads /proc/self/fd) made as connections arrive. */
const FILE_COUNT_EVERY_MS = 100;

/** ConnectionLimiterOptions configures createConnectionLimiter. */
export interface ConnectionLimiterOptions extends Partial<GatewayConnectionLimits> {
  /** logger warns (at most every 10 s) when the cap closes or refuses connections. */
  logger?: Logger;
}

/** ConnectionLimiter tracks a server's client connections and closes those that hold a socket for nothing. */
export interface ConnectionLimiter {
  /** accept tracks a newly accepted TCP socket; it returns false (and destroys it) when it is refused. */
  accept(socket: net.Socket): boolean;
  /** secure links a TLS socket to the TCP socket it runs on. */
  secure(tlsSocket: tls.TLSSocket): void;
  /** session links an HTTP/2 session to its connection. */
  session(session: http2.Http2Session): void;
  /** bodyTimedOut tells whether the limiter cut `req` because its body did not arrive within the body timeout. */
  bodyTimedOut(req: http.IncomingMessage | http2.Http2ServerRequest): boolean;
  /** request records a request or stream in progress until its response closes. */
  request(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void;
  /** connections is the number of open client connections. */
  connections(): number;
  /** maxConnections is the cap in force now (the configured one, or less when the file limit is lower). */
  maxConnections(): number;
  /** drain starts a shutdown: HTTP/2 sessions get GOAWAY, idle connections close now and busy ones when their requests end. */
  drain(): void;
  /** destroyAll destroys every connection and stops the sweep. */
  destroyAll(): void;
}

/**
 * createConnectionLimiter enforces the gateway's connection limits (GatewayConnectionLimits; unset
 * fields take DEFAULT_GATEWAY_CONNECTION_LIMITS, and the cap the file limit). The server calls
 * `accept` for every TCP socket, `secure` and `session` as TLS and HTTP/2 take it over, and
 * `request` for every request or stream.
 */
export function createConnectionLimiter(opts: ConnectionLimiterOptions = {}): ConnectionLimiter {
  const headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_GATEWAY_CONNECTION_LIMITS.headersTimeoutMs;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_GATEWAY_CONNECTION_LIMITS.bodyTimeoutMs;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_GATEWAY_CONNECTION_LIMITS.idleTimeoutMs;
  const configuredMax = opts.maxConnections ?? DEFAULT_GATEWAY_CONNECTION_LIMITS.maxConnections;
  // Several sweeps per shortest timeout, at most one a second: a connection closes at most one
  // interval before its headers or body deadline (never after it), and idle ones at the idle timeout.
  const interval = Math.min(1_000, Math.max(20, Math.floor(Math.min(headersTimeoutMs, bodyTimeoutMs, idleTimeoutMs) / 5)));
  const limit = fileLimit();
  const conns = new Set<TrackedConnection>();
  const groups = new AddressGroups();
  // held counts the connections that hold a descriptor: destroyed ones stop at once, before their close event.
  let held = 0;
  let fileBound = fileBoundConnections(limit, openFiles(limit), 0);
  let countedAt = Date.now();
  // The files the process holds besides connections change too (an embedded database opens ~150 at
  // start, more as tables grow): count again as connections arrive, at most every 100 ms, and in
  // every sweep. Connections opened or closed since are accounted for exactly.
  const recount = (now: number) => {
    countedAt = now;
    fileBound = fileBoundConnections(limit, openFiles(limit), held);
  };
  let draining = false;
  let shedSinceLog = 0;
  let lastLog = 0;

  if (fileBound < configuredMax) {
    opts.logger?.warn(
      { maxConnections: configuredMax, fileLimit: limit, fitting: fileBound },
      "the file limit leaves room for fewer client connections than GATEWAY_MAX_CONNECTIONS; raise it (LimitNOFILE, ulimit -n) to keep more open",
    );
  }

  const cap = () => Math.min(configuredMax, fileBound);

  const becameIdle = (c: TrackedConnection) => {
    groups.busy(c);
    if (c.closingAt || c.gone) return;
    if (draining) shut(c, undefined);
    else groups.idle(c);
  };

  /** gone notes that a connection no longer holds a descriptor (destroyed now, or closed). */
  const gone = (c: TrackedConnection) => {
    if (c.gone) return;
    c.gone = true;
    held--;
    groups.busy(c);
  };

  const destroy = (c: TrackedConnection) => {
    gone(c);
    c.tlsSocket?.destroy();
    c.socket.destroy();
  };

  /**
   * shut closes a connection: an HTTP/2 session with GOAWAY (streams in progress may finish; the client
   * learns which of its new ones were not taken and may retry them), anything else, or with `now`, at once.
   */
  function shut(c: TrackedConnection, reason: ShutReason | undefined, now = false): void {
    groups.busy(c);
    if (reason) gatewayConnectionsClosed.labels({ reason }).inc();
    if (!now && c.session && !c.session.closed && !c.session.destroyed) {
      c.closingAt = Date.now();
      c.session.close();
      return;
    }
    destroy(c);
  }

  const noteShed = () => {
    shedSinceLog++;
    const now = Date.now();
    if (now - lastLog < SHED_LOG_INTERVAL_MS) return;
    opts.logger?.warn(
      { connections: held, maxConnections: cap(), fileLimit: limit, closedOrRefused: shedSinceLog },
      "at the connection cap: closing the longest-idle connections for new ones (GATEWAY_MAX_CONNECTIONS)",
    );
    lastLog = now;
    shedSinceLog = 0;
  };

  /**
   * victim is the connection to close for a new one: the longest-idle of the address holding the most
   * idle ones (AddressGroups); else the longest-held one whose requests all still wait for their body
   * or all call health or reflection (a Health/Watch stream needs no token, so a flood of them must
   * not keep the clinic out). A connection with any other call or stream in progress is never chosen.
   */
  const victim = (): TrackedConnection | undefined => {
    const idleOne = groups.pick();
    if (idleOne) return idleOne;
    let chosen: TrackedConnection | undefined;
    let since = Number.POSITIVE_INFINITY;
    for (const c of conns) {
      if (c.gone || c.closingAt || c.requests.size === 0) continue;
      let oldest = Number.POSITIVE_INFINITY;
      let sheddable = true;
      for (const r of c.requests) {
        if (!r.public && (r.bodyDone || bodyDone(r.req))) {
          sheddable = false;
          break;
        }
        oldest = Math.min(oldest, r.startedAt);
      }
      if (sheddable && oldest < since) {
        since = oldest;
        chosen = c;
      }
    }
    return chosen;
  };

  const sweep = () => {
    const now = Date.now();
    recount(now);
    for (const c of conns) {
      if (c.gone) continue;
      if (c.closingAt) {
        // Told GOAWAY: gone on its own once its streams end; if not, soon after.
        if (c.requests.size === 0 && now - c.closingAt >= CLOSE_GRACE_MS) destroy(c);
        continue;
      }
      if (!c.served) {
        if (now - c.openedAt >= headersTimeoutMs - interval) shut(c, "headers_timeout");
        continue;
      }
      if (c.requests.size === 0) {
        if (now - c.idleSince >= idleTimeoutMs) shut(c, "idle_timeout");
        continue;
      }
      for (const r of c.requests) {
        if (r.bodyDone) continue;
        if (bodyDone(r.req)) r.bodyDone = true;
        else if (now - r.startedAt >= bodyTimeoutMs - interval) cut(c, r);
      }
    }
  };
  // The requests cut for a slow body: their calls end CANCELED saying so (request-decode-errors.ts).
  const timedOutBodies = new WeakSet<object>();
  const timer = setInterval(sweep, interval);
  timer.unref();

  /** cut ends a request whose body is too slow: its HTTP/2 stream, or its HTTP/1.1 connection. */
  function cut(c: TrackedConnection, r: OpenRequest): void {
    gatewayConnectionsClosed.labels({ reason: "body_timeout" }).inc();
    timedOutBodies.add(r.req);
    const stream = (r.req as http2.Http2ServerRequest).stream as http2.ServerHttp2Stream | undefined;
    if (stream) stream.close(http2.constants.NGHTTP2_CANCEL);
    else destroy(c);
  }

  const limiter: ConnectionLimiter = {
    accept(socket) {
      if (draining) {
        socket.destroy();
        return false;
      }
      const arrived = Date.now();
      if (limit !== undefined && arrived - countedAt >= FILE_COUNT_EVERY_MS) recount(arrived);
      if (held >= cap()) {
        const v = victim();
        noteShed();
        if (v) {
          // At once, GOAWAY or not: its descriptor must be free before the new one takes one.
          shut(v, "capacity", true);
        } else {
          gatewayConnectionsClosed.labels({ reason: "refused" }).inc();
          socket.destroy();
          return false;
        }
      }
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      const c: TrackedConnection = {
        socket,
        address: socket.remoteAddress ?? "",
        openedAt: arrived,
        idleSince: arrived,
        served: false,
        requests: new Set(),
        closingAt: 0,
        gone: false,
      };
      (socket as unknown as Record<symbol, TrackedConnection>)[CONNECTION] = c;
      conns.add(c);
      groups.join(c);
      held++;
      socket.once("close", () => {
        gone(c);
        conns.delete(c);
        groups.leave(c);
      });
      return true;
    },
    secure(tlsSocket) {
      // A TLSSocket keeps the TCP socket it wraps as _parent (Node has done so since 0.x).
      const parent = (tlsSocket as unknown as { _parent?: Record<symbol, TrackedConnection> })._parent;
      const c = parent?.[CONNECTION];
      if (!c) return;
      c.tlsSocket = tlsSocket;
      (tlsSocket as unknown as Record<symbol, TrackedConnection>)[CONNECTION] = c;
    },
    session(session) {
      // session.socket is a proxy: reading a property reads the socket's.
      const c = (session.socket as unknown as Record<symbol, TrackedConnection | undefined> | undefined)?.[CONNECTION];
      if (!c) return;
      c.session = session;
      if (draining) shut(c, undefined);
    },
    request(req, res) {
      const c = (req.socket as unknown as Record<symbol, TrackedConnection | undefined> | undefined)?.[CONNECTION];
      if (!c) return;
      const r: OpenRequest = { req, startedAt: Date.now(), bodyDone: false, public: isPublicCall(req.url) };
      c.served = true;
      c.requests.add(r);
      groups.busy(c);
      res.once("close", () => {
        c.requests.delete(r);
        if (c.requests.size > 0) return;
        c.idleSince = Date.now();
        becameIdle(c);
      });
    },
    connections: () => held,
    bodyTimedOut: (req) => timedOutBodies.has(req),
    maxConnections: cap,
    drain() {
      draining = true;
      for (const c of conns) if (!c.gone && (c.session || c.requests.size === 0)) shut(c, undefined);
    },
    destroyAll() {
      clearInterval(timer);
      live.delete(limiter);
      for (const c of conns) destroy(c);
    },
  };
  live.add(limiter);
  return limiter;
}