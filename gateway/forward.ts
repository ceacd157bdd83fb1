// Distributed mode: the gateway forwards every call to the services' grpc-js servers. The
// pass-through implementations are generated from the service descriptors (unary and
// server-streaming methods), so no method is written by hand and a new RPC is forwarded as soon as
// the generated code knows it.
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { createRegistry, fromBinary, type DescMethod, type DescMethodStreaming, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { ChannelOptions } from "@grpc/grpc-js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { createGrpcJsTransport, undecodedResponseKey, type GrpcJsTransport } from "../services/runtime/clients/grpc-transport.js";
import { CLIENT_CONNECTION_HEADER, CONNECTION_HEADER } from "../services/runtime/server/connection-headers.js";

/** FORWARDED_HEADERS are the request headers passed on to the upstream service. */
export const FORWARDED_HEADERS = ["authorization", "x-request-id", "traceparent", "tracestate", "x-on-behalf-of"];

/** DEFAULT_UNARY_TIMEOUT_MS bounds a forwarded unary call that came without a deadline. */
export const DEFAULT_UNARY_TIMEOUT_MS = 30_000;

/** REPLICA_DOWN_MS is how long a replica that answered UNAVAILABLE is passed over when another one is up. */
export const REPLICA_DOWN_MS = 2_000;

/** GATEWAY_CHANNEL_OPTIONS make a restarted upstream usable again within seconds (grpc-js backs off up to 120 s by default). */
export const GATEWAY_CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 5_000,
};

/** ForwardingOptions configures createForwardingService. */
export interface ForwardingOptions {
  /** addresses are the replicas ("host:port"); calls go round-robin over those that are up. */
  addresses: string[];
  /** defaultUnaryTimeoutMs applies when the caller sent no deadline (default 30 s). Streams keep the caller's deadline only. */
  defaultUnaryTimeoutMs?: number;
  /** maxMessageBytes bounds message sizes. */
  maxMessageBytes?: number;
  /** now is the clock for replica bookkeeping (tests). */
  now?: () => number;
}

/** ForwardingService is the generated pass-through implementation of one service. */
export interface ForwardingService {
  /** service is the forwarded descriptor. */
  service: DescService;
  /** impl is a ServiceImpl-shaped object; wrap it with the gateway's interceptors. */
  impl: object;
  /** callsPerReplica counts the calls sent to each address (for tests and debugging). */
  callsPerReplica(): Record<string, number>;
  /** close closes the channels. */
  close(): void;
}

/**
 * isRetryable says whether a unary call may be sent again to another replica after UNAVAILABLE:
 * reads (NO_SIDE_EFFECTS) and calls that carry a request_id (deduplicated by the services,
 * DESIGN.md section 3). Others (CallNext, ...) may have taken effect before the connection broke.
 */
export function isRetryable(method: DescMethod): boolean {
  if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return true;
  return method.input.fields.some((f) => f.name === "request_id");
}

/** forwardedHeaders picks the caller's headers that travel upstream, and names the caller's connection to the gateway (for the stream limits). */
export function forwardedHeaders(incoming: Headers): Headers {
  const out = new Headers();
  for (const h of FORWARDED_HEADERS) {
    const v = incoming.get(h);
    if (v !== null) out.set(h, v);
  }
  const connection = incoming.get(CONNECTION_HEADER);
  if (connection) out.set(CLIENT_CONNECTION_HEADER, connection);
  return out;
}

/** ERROR_DETAIL_TYPES are the google.rpc error details the gateway decodes from an upstream's answer (ErrorInfo, BadRequest, ...). */
const ERROR_DETAIL_TYPES = createRegistry(file_google_rpc_error_details);

/**
 * decodeDetails turns the error details of an upstream's answer, which arrive as bytes (type name and
 * value), into messages where their type is a google.rpc error detail: the gateway then answers them
 * as the in-process gateway does, e.g. Connect JSON with each detail's readable `debug` form beside
 * its bytes. Unknown types pass on as bytes.
 */
export function decodeDetails(err: ConnectError): ConnectError {
  err.details.forEach((d, i) => {
    if ("desc" in d) return;
    const desc = ERROR_DETAIL_TYPES.getMessage(d.type);
    if (!desc) return;
    try {
      err.details[i] = { desc, value: fromBinary(desc, d.value) };
    } catch {
      // Bytes that are not that message: passed on as they came.
    }
  });
  return err;
}

/**
 * upstreamError maps what grpc-js reports to what the caller should see: a call the upstream cut
 * (CANCELLED from a server that shut down or crashed) while our caller had not cancelled is
 * UNAVAILABLE, so clients retry it elsewhere; error details are decoded (decodeDetails).
 */
function upstreamError(err: unknown, service: DescService, signal: AbortSignal): unknown {
  if (err instanceof ConnectError) decodeDetails(err);
  if (err instanceof ConnectError && err.code === Code.Canceled && !signal.aborted) {
    return new ConnectError(`${service.typeName} went away during the call (${err.rawMessage}); retry`, Code.Unavailable, undefined, undefined, err);
  }
  if (err instanceof ConnectError && err.code === Code.DeadlineExceeded && err.details.length === 0) {
    // grpc-js's own wording names its internals ("waiting for name resolution").
    return new ConnectError(`the deadline passed before ${service.typeName} answered`, Code.DeadlineExceeded, undefined, undefined, err);
  }
  return err;
}

/** BINARY_CONTENT_TYPE matches the request content types whose responses are binary Protobuf (gRPC, gRPC-web, Connect). */
const BINARY_CONTENT_TYPE = /^application\/(grpc(-web)?(\+proto)?|proto|connect\+proto)\s*(;|$)/i;

/** UNDECODED are the context values of an upstream call whose response passes through undecoded (only read by the transport). */
const UNDECODED = createContextValues().set(undecodedResponseKey, true);

/**
 * passThrough are the context values of an upstream unary call: a caller who gets binary Protobuf
 * back gets the upstream's bytes re-framed, without decoding them into objects and encoding them
 * again (undecodedResponseKey); JSON callers (and Connect GET) get a decoded message.
 */
function passThrough(ctx: HandlerContext): ContextValues | undefined {
  return BINARY_CONTENT_TYPE.test(ctx.requestHeader.get("content-type") ?? "") ? UNDECODED : undefined;
}

async function* once<T>(value: T): AsyncIterable<T> {
  yield value;
}

/**
 * createForwardingService builds the pass-through of `service` to its replicas over grpc-js: the
 * caller's token, request id and trace context go along, the remaining deadline is propagated (unary
 * calls without one get `defaultUnaryTimeoutMs`), cancellation reaches the upstream, and errors come
 * back with their code and details. Calls never wait for a replica to become ready (grpc-js
 * waitForReady is false), so an upstream that is down answers UNAVAILABLE at once; a replica that
 * answered UNAVAILABLE is passed over for REPLICA_DOWN_MS while another is up, and a retryable unary
 * call (see isRetryable) is tried on the next replica within its deadline.
 */
export function createForwardingService(service: DescService, opts: ForwardingOptions): ForwardingService {
  if (opts.addresses.length === 0) throw new Error(`createForwardingService: no address for ${service.typeName}`);
  const now = opts.now ?? Date.now;
  const defaultTimeout = opts.defaultUnaryTimeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS;
  const replicas = opts.addresses.map((address) => ({
    address,
    transport: createGrpcJsTransport({ addresses: [address], maxMessageBytes: opts.maxMessageBytes, channelOptions: GATEWAY_CHANNEL_OPTIONS }) as GrpcJsTransport,
    downUntil: 0,
    calls: 0,
  }));
  let next = 0;
  /** order returns the replicas to try: round-robin, those marked down last. */
  const order = () => {
    const start = next++ % replicas.length;
    const rotated = replicas.map((_, i) => replicas[(start + i) % replicas.length]);
    const t = now();
    return [...rotated.filter((r) => r.downUntil <= t), ...rotated.filter((r) => r.downUntil > t)];
  };
  const noteResult = (replica: (typeof replicas)[number], err: unknown) => {
    if (err instanceof ConnectError && err.code === Code.Unavailable) replica.downUntil = now() + REPLICA_DOWN_MS;
    else replica.downUntil = 0;
  };

  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind === "unary") {
      const m = method as DescMethodUnary;
      const retryable = isRetryable(m);
      impl[m.localName] = async (req: unknown, ctx: HandlerContext) => {
        const header = forwardedHeaders(ctx.requestHeader);
        const deadline = now() + (ctx.timeoutMs() ?? defaultTimeout);
        const values = passThrough(ctx);
        const candidates = order();
        let lastError: unknown;
        for (const replica of retryable ? candidates : candidates.slice(0, 1)) {
          const left = deadline - now();
          if (left <= 0 || ctx.signal.aborted) break;
          replica.calls++;
          try {
            const res = await replica.transport.unary(m, ctx.signal, left, header, req as never, values);
            noteResult(replica, undefined);
            return res.message;
          } catch (caught) {
            const err = upstreamError(caught, service, ctx.signal);
            noteResult(replica, err);
            lastError = err;
            if (!(err instanceof ConnectError) || err.code !== Code.Unavailable) throw err;
          }
        }
        if (lastError) throw lastError;
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
        throw new ConnectError(`the deadline passed before ${service.typeName} could be reached`, Code.DeadlineExceeded);
      };
    } else if (method.methodKind === "server_streaming") {
      const m = method as DescMethodStreaming;
      impl[m.localName] = async function* (req: unknown, ctx: HandlerContext) {
        const header = forwardedHeaders(ctx.requestHeader);
        const replica = order()[0];
        replica.calls++;
        let res;
        try {
          res = await replica.transport.stream(m, ctx.signal, ctx.timeoutMs(), header, once(req as never));
          for await (const message of res.message) {
            replica.downUntil = 0;
            yield message;
          }
        } catch (caught) {
          const err = upstreamError(caught, service, ctx.signal);
          noteResult(replica, err);
          throw err;
        }
      };
    }
    // Client and bidi streaming are not forwarded (no MedSchedule API has them): UNIMPLEMENTED.
  }
  return {
    service,
    impl,
    callsPerReplica: () => Object.fromEntries(replicas.map((r) => [r.address, r.calls])),
    close: () => replicas.forEach((r) => r.transport.close()),
  };
}
