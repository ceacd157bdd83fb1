import { setMaxListeners } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "./errors.js";
import { drainSignalKey, earlyFailureOf, type EarlyFailure } from "./interceptors.js";
import type { Logger } from "./logger.js";
import { REQUEST_ID_HEADER } from "./logging.js";
import { binaryDecodeError } from "./request-binary.js";
import { reportUnloggedFailure, type UnloggedFailure } from "./request-decode-errors.js";

/** ServiceRegistration pairs a service descriptor with its implementation. */
export interface ServiceRegistration {
  /** service is the generated descriptor, e.g. LockService. */
  service: DescService;
  /** impl implements it (usually already wrapped with interceptors). */
  impl: Partial<ServiceImpl<DescService>>;
}

/** PEER_HEADER is the header under which the adapters pass the peer address to handlers. */
export const PEER_HEADER = "x-medschedule-peer";

/** CONNECTION_HEADER is the header under which the adapters name the client's connection (its address and port) to handlers. */
export const CONNECTION_HEADER = "x-medschedule-connection";

/**
 * CLIENT_CONNECTION_HEADER is the header under which the gateway passes its client's connection
 * (CONNECTION_HEADER there) on to the services; only AUTH_MODE=off's anonymous caller is counted by it.
 */
export const CLIENT_CONNECTION_HEADER = "x-medschedule-client-connection";

const INVALID = Symbol("invalid-message");
interface InvalidMessage {
  [INVALID]: Error;
  bytes: Uint8Array;
}

/** metadataToHeaders turns grpc-js metadata into fetch Headers (binary values as unpadded base64). */
export function metadataToHeaders(md: grpc.Metadata): Headers {
  const headers = new Headers();
  for (const [key, values] of Object.entries(md.getMap())) {
    if (key.startsWith(":")) continue;
    const all = md.get(key);
    for (const v of all.length > 0 ? all : [values]) {
      headers.append(key, typeof v === "string" ? v : Buffer.from(v).toString("base64").replace(/=+$/, ""));
    }
  }
  return headers;
}

/** headersToMetadata turns fetch Headers into grpc-js metadata (keys ending in -bin decoded from base64). */
export function headersToMetadata(headers: Headers, skip: (key: string) => boolean = () => false): grpc.Metadata {
  const md = new grpc.Metadata();
  headers.forEach((value, key) => {
    if (skip(key)) return;
    if (key.endsWith("-bin")) {
      for (const part of value.split(",")) md.add(key, Buffer.from(part.trim(), "base64"));
    } else {
      md.add(key, value);
    }
  });
  return md;
}

const reservedTrailer = (key: string) => key === "grpc-status" || key === "grpc-message" || key === "content-type";

/** toGrpcStatus maps a ConnectError to the grpc-js status object, with google.rpc.Status details. */
export function toGrpcStatus(err: ConnectError): Partial<grpc.StatusObject> {
  const trailer = setTrailerStatus(new Headers(), err);
  return { code: err.code as number, details: err.rawMessage, metadata: headersToMetadata(trailer, reservedTrailer) };
}

function serializer(desc: DescMessage) {
  return (value: unknown): Buffer => {
    const bytes = toBinary(desc, isMessage(value, desc) ? value : create(desc, value as never));
    // A view, not a copy.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(desc: DescMessage) {
  return (bytes: Buffer): unknown => {
    try {
      return fromBinary(desc, bytes);
    } catch (err) {
      return { [INVALID]: err as Error, bytes } satisfies InvalidMessage;
    }
  };
}

/** EarlyReport tells what a request that did not decode reports to: its service's interceptors (EarlyFailure), else the fallback log and metrics. */
interface EarlyReport {
  early?: EarlyFailure;
  fallback?: (f: UnloggedFailure) => void;
}

/**
 * checkMessage passes a decoded request on; one that did not decode is INVALID_ARGUMENT with the
 * details binaryDecodeError gives (the same as the gateway's), reported first to the interceptors'
 * `after` as an early call, since no interceptor saw it.
 */
function checkMessage(method: DescMethod, msg: unknown, report: EarlyReport, call: AnyCall, ctx: GrpcCallContext): unknown {
  if (msg && typeof msg === "object" && INVALID in msg) {
    const invalid = msg as InvalidMessage;
    const err = binaryDecodeError(method.input, invalid.bytes);
    err.cause = invalid[INVALID];
    const startedAt = process.hrtime.bigint();
    if (report.early) {
      report.early(method, ctx, err, startedAt);
    } else {
      const requestId = call.metadata.get(REQUEST_ID_HEADER)[0];
      report.fallback?.({ service: method.parent.typeName, method: method.name, protocol: "grpc", error: err, startedAt, requestId: typeof requestId === "string" ? requestId : undefined });
    }
    throw err;
  }
  return msg;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/**
 * LiveCalls tells the calls of one handler set that the server is shutting down. It is one listener
 * on the server's shutdown signal and a set of the calls that asked for a signal, rather than a
 * listener per call: adding and removing EventTarget listeners cost more than the rest of a no-op call.
 */
class LiveCalls {
  /** shutdownReason is set once the server cuts calls. */
  shutdownReason: ConnectError | undefined;
  readonly watching = new Set<GrpcCallContext>();

  constructor(shutdownSignal: AbortSignal) {
    const cut = () => {
      this.shutdownReason = new ConnectError("the server is shutting down", Code.Unavailable);
      for (const ctx of this.watching) ctx.abort(this.shutdownReason);
    };
    if (shutdownSignal.aborted) cut();
    else shutdownSignal.addEventListener("abort", cut, { once: true });
  }
}

/**
 * GrpcCallContext is the HandlerContext of a call on the grpc-js server. It is built by hand rather
 * than with connect's createHandlerContext: that links three AbortControllers and aborts them (with a
 * DOMException) at the end of every call, which cost as much CPU as the whole rest of a no-op call.
 * Here nothing is watched until a handler asks for `signal`: `aborted` reads the call's state
 * directly. The signal aborts only when the client cancels, the deadline passes or the server shuts
 * down.
 */
class GrpcCallContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly url: string;
  private reqHeader: Headers | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  private contextValues: ContextValues | undefined;
  private controller: AbortController | undefined;
  private abortReason: ConnectError | undefined;
  private readonly deadlineAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private onCancelled: (() => void) | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly call: AnyCall,
    private readonly live: LiveCalls,
    private readonly drainSignal: AbortSignal | undefined,
  ) {
    this.url = call.getPath();
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(deadlineMs)) this.deadlineAt = deadlineMs;
  }

  /** values carries the server's drain signal (made on first use). */
  get values(): ContextValues {
    return (this.contextValues ??= createContextValues().set(drainSignalKey, this.drainSignal));
  }

  /** requestHeader is the call's metadata as Headers (made on first use: undici Headers are not cheap). */
  get requestHeader(): Headers {
    if (!this.reqHeader) {
      this.reqHeader = metadataToHeaders(this.call.metadata);
      this.reqHeader.set(PEER_HEADER, this.call.getPeer());
      this.reqHeader.set(CONNECTION_HEADER, this.call.getPeer());
    }
    return this.reqHeader;
  }

  /** responseHeader collects response headers (made on first use). */
  get responseHeader(): Headers {
    return (this.resHeader ??= new Headers());
  }

  /** responseTrailer collects response trailers (made on first use). */
  get responseTrailer(): Headers {
    return (this.resTrailer ??= new Headers());
  }

  /** headerMetadata is the response headers to send, if any were set. */
  headerMetadata(): grpc.Metadata | undefined {
    return this.resHeader && [...this.resHeader.keys()].length > 0 ? headersToMetadata(this.resHeader) : undefined;
  }

  /** trailerMetadata is the response trailers to send, if any were set. */
  trailerMetadata(): grpc.Metadata | undefined {
    return this.resTrailer ? headersToMetadata(this.resTrailer, reservedTrailer) : undefined;
  }

  /** signal aborts when the client cancels, the deadline passes or the server shuts down; made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      const reason = this.abortReason ?? this.pendingAbort();
      if (reason) {
        // abort() does nothing once abortReason is set (by `aborted`): abort the new controller here.
        this.abortReason = reason;
        this.controller.abort(reason);
      } else {
        // grpc-js also emits "cancelled" when the stream closes after a normal answer: done() removes it.
        const emitter = this.call as unknown as NodeJS.EventEmitter;
        this.onCancelled = () => this.abort(this.pendingAbort() ?? new ConnectError("the client cancelled the call", Code.Canceled));
        emitter.once("cancelled", this.onCancelled);
        if (this.deadlineAt !== undefined) {
          this.timer = setTimeout(() => this.abort(new ConnectError("the deadline passed", Code.DeadlineExceeded)), Math.max(0, this.deadlineAt - Date.now()));
          this.timer.unref();
        }
        this.live.watching.add(this);
      }
    }
    return this.controller.signal;
  }

  /** aborted tells whether the call was cancelled, timed out or cut by shutdown, without making a signal. */
  get aborted(): boolean {
    if (this.abortReason) return true;
    const reason = this.pendingAbort();
    if (reason) this.abort(reason);
    return reason !== undefined;
  }

  /** pendingAbort reads why the call is over (shutdown, deadline, cancelled), if it is. */
  private pendingAbort(): ConnectError | undefined {
    if (this.live.shutdownReason) return this.live.shutdownReason;
    if (this.deadlineAt !== undefined && Date.now() >= this.deadlineAt) return new ConnectError("the deadline passed", Code.DeadlineExceeded);
    if (this.call.cancelled) return new ConnectError("the client cancelled the call", Code.Canceled);
    return undefined;
  }

  /** abort ends the call's signal with reason (once). */
  abort(reason: ConnectError): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** timeoutMs is the time left until the client's deadline. */
  timeoutMs = (): number | undefined => (this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now());

  /** done releases the call's timer and listeners once it has been answered. */
  done(): void {
    if (!this.onCancelled) return;
    if (this.timer) clearTimeout(this.timer);
    this.live.watching.delete(this);
    (this.call as unknown as NodeJS.EventEmitter).removeListener("cancelled", this.onCancelled);
    this.onCancelled = undefined;
  }
}

/** writable waits until `call` has room for more writes or `signal` aborts; no listener outlives the wait. */
function writable(call: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.removeListener("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * createGrpcHandlers builds the grpc-js service definition and handlers for one service: protobuf-es
 * toBinary/fromBinary as serializers, the HandlerContext with deadline and cancellation as an
 * AbortSignal, response headers and trailers, and errors as gRPC status with details. A request that
 * does not decode is INVALID_ARGUMENT and goes to the interceptors of `reg` (earlyFailureOf), or to
 * `fallback` when its implementation has none.
 */
export function createGrpcHandlers(
  reg: ServiceRegistration,
  shutdownSignal: AbortSignal,
  drainSignal?: AbortSignal,
  fallback?: (f: UnloggedFailure) => void,
): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const report: EarlyReport = { early: earlyFailureOf(reg.impl), fallback };
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  const impl = reg.impl as Record<string, ((req: unknown, ctx: unknown) => unknown) | undefined>;
  const live = new LiveCalls(shutdownSignal);
  for (const method of reg.service.methods) {
    const requestStream = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
    const responseStream = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
    definition[method.name] = {
      path: `/${reg.service.typeName}/${method.name}`,
      requestStream,
      responseStream,
      originalName: method.localName,
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
    const fn = impl[method.localName];
    const unimplemented = () =>
      new ConnectError(`${reg.service.typeName}.${method.name} is not implemented`, Code.Unimplemented);

    if (!responseStream && !requestStream) {
      handlers[method.name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const ctx = new GrpcCallContext(reg.service, method, call, live, drainSignal);
        const succeed = (res: unknown) => {
          const header = ctx.headerMetadata();
          if (header) call.sendMetadata(header);
          callback(null, res, ctx.trailerMetadata());
          ctx.done();
        };
        const fail = (err: unknown) => {
          const header = ctx.headerMetadata();
          if (header) call.sendMetadata(header);
          callback(toGrpcStatus(toConnectError(err, ctx.signal)));
          ctx.done();
        };
        let out: unknown;
        try {
          if (!fn) throw unimplemented();
          out = fn.call(reg.impl, checkMessage(method, call.request, report, call, ctx), ctx);
        } catch (err) {
          fail(err);
          return;
        }
        if (out instanceof Promise) out.then(succeed, fail);
        else succeed(out);
      }) as grpc.handleUnaryCall<unknown, unknown>;
      continue;
    }
    if (method.methodKind === "client_streaming") {
      // No RPC of ours is client-streaming; answer clearly if one is added without support here.
      handlers[method.name] = ((_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        callback(toGrpcStatus(unimplemented()));
      }) as grpc.handleClientStreamingCall<unknown, unknown>;
      continue;
    }
    handlers[method.name] = ((call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
      const ctx = new GrpcCallContext(reg.service, method, call, live, drainSignal);
      let headersSent = false;
      const sendHeaders = () => {
        if (headersSent) return;
        headersSent = true;
        const header = ctx.headerMetadata();
        if (header) call.sendMetadata(header);
      };
      (async () => {
        if (!fn) throw unimplemented();
        let input: unknown;
        if (requestStream) {
          const duplex = call as grpc.ServerDuplexStream<unknown, unknown>;
          input = (async function* () {
            // Not `for await (... of duplex)`: that destroys the Duplex when reading ends, which
            // would also kill the writable side before the handler has answered.
            for await (const msg of duplex.iterator({ destroyOnReturn: false })) yield checkMessage(method, msg, report, call, ctx);
          })();
        } else {
          input = checkMessage(method, (call as grpc.ServerWritableStream<unknown, unknown>).request, report, call, ctx);
        }
        const out = (fn.call(reg.impl, input, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        // One message per call of `step`, not `for await`: a frame waiting for the next message
        // would keep the last one (a whole snapshot) alive, though call.write has serialized it.
        const step = async (): Promise<boolean> => {
          const r = await out.next();
          if (r.done) return false;
          if (call.cancelled) {
            await out.return?.();
            return false;
          }
          sendHeaders();
          if (!call.write(r.value)) await writable(call, ctx.signal);
          return true;
        };
        try {
          while (await step());
        } catch (err) {
          await out.return?.()?.catch(() => undefined);
          throw err;
        }
      })().then(
        () => {
          if (!call.cancelled) {
            sendHeaders();
            call.end(ctx.trailerMetadata());
          }
          ctx.done();
        },
        (err: unknown) => {
          if (!call.cancelled) {
            sendHeaders();
            call.emit("error", toGrpcStatus(toConnectError(err, ctx.signal)));
          }
          ctx.done();
        },
      );
    }) as grpc.handleServerStreamingCall<unknown, unknown>;
  }
  return { definition: definition as grpc.ServiceDefinition, handlers };
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
