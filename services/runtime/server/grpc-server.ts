// The gRPC server of every service (serveGrpc on @grpc/grpc-js, h2c): its options, connection
// timeouts and graceful close, and what a service registers (ServiceRegistration). Each service's
// handlers are built in grpc-handlers.ts.
import { setMaxListeners } from "node:events";
import * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcHandlers } from "./grpc-handlers.js";
import type { Logger } from "../observability/logger.js";
import { reportUnloggedFailure } from "../request/request-decode-errors.js";

/** ServiceRegistration pairs a service descriptor with its implementation. */
export interface ServiceRegistration {
  /** service is the generated descriptor, e.g. LockService. */
  service: DescService;
  /** impl implements it (usually already wrapped with interceptors). */
  impl: Partial<ServiceImpl<DescService>>;
}

/** GrpcServerOptions configures serveGrpc. */
export interface GrpcServerOptions {
  /** port to listen on; 0 picks a free one. */
  port: number;
  /** host to bind, default "0.0.0.0". */
  host?: string;
  /** services to serve (domain services wrapped with interceptors, health, reflection). */
  services: ServiceRegistration[];
  /** logger for lifecycle lines. */
  logger?: Logger;
  /** maxMessageBytes bounds request and response sizes (default 4 MiB). */
  maxMessageBytes?: number;
  /** idleTimeoutMs closes a connection without a call in progress after this long (default GRPC_SERVER_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** keepaliveTimeMs is how often each connection is pinged (default GRPC_SERVER_KEEPALIVE_TIME_MS); one that does not answer within GRPC_SERVER_KEEPALIVE_TIMEOUT_MS is closed. */
  keepaliveTimeMs?: number;
}

/**
 * GRPC_SERVER_IDLE_TIMEOUT_MS closes a service's connection that has had no call for 5 minutes (grpc-js
 * sends GOAWAY; a client reconnects on its next call). The runtime's own clients (the gateway, peers)
 * let go of an idle connection first (GRPC_CLIENT_IDLE_TIMEOUT_MS, 4 minutes), so this only frees what
 * other or dead clients hold; a call that races the GOAWAY is retried by grpc-js on a new connection.
 */
export const GRPC_SERVER_IDLE_TIMEOUT_MS = 300_000;

/**
 * GRPC_SERVER_KEEPALIVE_TIME_MS pings every connection each minute: a peer that vanished (power cut,
 * a dropped NAT mapping) holding a quiet stream (a forwarded WatchQueue) is closed when the ping gets
 * no answer within GRPC_SERVER_KEEPALIVE_TIMEOUT_MS, instead of never. A socket that never sends the
 * HTTP/2 preface does not answer either, so it is closed within 80 s too.
 */
export const GRPC_SERVER_KEEPALIVE_TIME_MS = 60_000;

/** GRPC_SERVER_KEEPALIVE_TIMEOUT_MS is how long a keepalive ping may go unanswered. */
export const GRPC_SERVER_KEEPALIVE_TIMEOUT_MS = 20_000;

/** GrpcServerHandle is a running grpc-js server. */
export interface GrpcServerHandle {
  /** port actually bound. */
  port: number;
  /** server is the grpc-js server. */
  server: grpc.Server;
  /** close stops accepting calls, lets in-flight calls finish for up to graceMs, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** serveGrpc serves the given ServiceImpl classes over gRPC (h2c) with @grpc/grpc-js. */
export async function serveGrpc(opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const maxBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_connection_idle_ms": opts.idleTimeoutMs ?? GRPC_SERVER_IDLE_TIMEOUT_MS,
    "grpc.keepalive_time_ms": opts.keepaliveTimeMs ?? GRPC_SERVER_KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": GRPC_SERVER_KEEPALIVE_TIMEOUT_MS,
  });
  const shutdown = new AbortController();
  const drain = new AbortController();
  // Every call in flight listens on these two: no listener limit (and no MaxListeners warning).
  setMaxListeners(0, shutdown.signal, drain.signal);
  for (const reg of opts.services) {
    const { definition, handlers } = createGrpcHandlers(reg, shutdown.signal, drain.signal, (f) => reportUnloggedFailure(f, opts.logger));
    server.addService(definition, handlers);
  }
  const host = opts.host ?? "0.0.0.0";
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve(bound);
    });
  });
  return {
    port,
    server,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        drain.abort();
        const timer = setTimeout(() => {
          shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable));
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
