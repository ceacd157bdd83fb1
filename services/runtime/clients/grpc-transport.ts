import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethodStreaming, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createContextKey, createContextValues, type ContextValues, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { metadataToHeaders } from "../server/grpc-metadata.js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** TransportCallArgs are a connect Transport call's parameters after the method; `input` is the request (unary) or the requests (streaming). */
export type TransportCallArgs<In> = [signal: AbortSignal | undefined, timeoutMs: number | undefined, header: HeadersInit | undefined, input: In, contextValues?: ContextValues];

/** GrpcJsTransportOptions configures createGrpcJsTransport. */
export interface GrpcJsTransportOptions {
  /** addresses are "host:port" of the replicas; calls go round-robin over them. */
  addresses: string[];
  /** headers are added to every call (e.g. the service token). */
  headers?: Record<string, string>;
  /** maxMessageBytes bounds message sizes (default 4 MiB). */
  maxMessageBytes?: number;
  /** channelOptions are extra grpc-js channel options (e.g. reconnect backoff), applied last. */
  channelOptions?: grpc.ChannelOptions;
}

/**
 * GRPC_CLIENT_IDLE_TIMEOUT_MS lets a channel without calls for 4 minutes drop its connection, before
 * the services' servers would close it (GRPC_SERVER_IDLE_TIMEOUT_MS, 5 minutes): the client, which
 * knows when it has no call to send, closes first.
 */
export const GRPC_CLIENT_IDLE_TIMEOUT_MS = 240_000;

/** GrpcJsTransport is a Connect Transport over @grpc/grpc-js channels, closable. */
export interface GrpcJsTransport extends Transport {
  /** close closes the channels. */
  close(): void;
}

function toConnectError(err: grpc.ServiceError): ConnectError {
  const trailer = err.metadata ? metadataToHeaders(err.metadata) : new Headers();
  trailer.set("grpc-status", String(err.code));
  trailer.set("grpc-message", encodeURIComponent(err.details ?? ""));
  const found = findTrailerError(trailer);
  if (found) return found;
  return new ConnectError(err.details || err.message, (err.code as number as Code) || Code.Unknown);
}

/**
 * callerGone is how a call ends whose caller's signal aborted: with the signal's ConnectError (a
 * server's deadline signal carries DEADLINE_EXCEEDED), a timeout signal's as DEADLINE_EXCEEDED, else
 * CANCELED. Not grpc-js's "Cancelled on client", which would turn a passed deadline into CANCELED.
 */
function callerGone(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === "TimeoutError") return new ConnectError("the deadline passed", Code.DeadlineExceeded);
  return ConnectError.from(reason, Code.Canceled);
}

/** expired is the error of a call whose deadline passed before it was sent. */
const expired = () => new ConnectError("the deadline passed before the call was sent", Code.DeadlineExceeded);

/**
 * undecodedResponseKey, set to true in a unary call's contextValues, makes createGrpcJsTransport
 * hand back the response without decoding its fields: a message of the output type whose fields
 * are all kept as the bytes that came in (protobuf-es unknown fields), which binary serialization
 * writes out again unchanged. For a proxy that re-encodes the response in the binary format (the
 * gateway, for gRPC, gRPC-web and Connect proto clients): a list of slots then costs a copy of its
 * bytes instead of an object per slot, decoded and encoded again. The fields read as unset: never
 * for code that looks into the response, nor for JSON.
 */
export const undecodedResponseKey = createContextKey(false, { description: "pass the unary response through undecoded" });

/** undecoded keeps every field of a message's bytes as raw unknown fields of an otherwise empty `desc`. */
function undecoded(desc: DescMessage) {
  return (b: Buffer) => {
    const message = create(desc) as MessageShape<DescMessage> & { $unknown?: unknown };
    const fields = fromBinary(EmptySchema, b).$unknown;
    if (fields && fields.length > 0) message.$unknown = fields;
    return message;
  };
}

/** metadataFor is `base` (made once per transport) plus the call's own headers, if it has any. */
function metadataFor(base: grpc.Metadata, header: HeadersInit | undefined): grpc.Metadata {
  const md = base.clone();
  if (header === undefined) return md;
  // undici Headers are not cheap: walk plain objects and arrays as they are.
  const add = (k: string, v: string) => {
    const key = k.toLowerCase();
    if (key.endsWith("-bin")) md.set(key, Buffer.from(v, "base64"));
    else md.set(key, v);
  };
  if (header instanceof Headers) header.forEach((v, k) => add(k, v));
  else if (Array.isArray(header)) for (const [k, v] of header) add(k, v);
  else for (const [k, v] of Object.entries(header)) add(k, v);
  return md;
}

/**
 * createGrpcJsTransport makes a Connect Transport backed by @grpc/grpc-js, so the generated Connect
 * clients (`createClient(Service, transport)`) call services over grpc-js: the fast path between
 * services. Deadlines (timeoutMs) and cancellation (signal) are passed on; errors come back as
 * ConnectErrors with their details. Several addresses are used round-robin.
 */
export function createGrpcJsTransport(opts: GrpcJsTransportOptions): GrpcJsTransport {
  if (opts.addresses.length === 0) throw new Error("createGrpcJsTransport needs at least one address");
  const max = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  const clients = opts.addresses.map(
    (a) =>
      new grpc.Client(a, grpc.credentials.createInsecure(), {
        "grpc.max_receive_message_length": max,
        "grpc.max_send_message_length": max,
        "grpc.keepalive_time_ms": 30_000,
        "grpc.client_idle_timeout_ms": GRPC_CLIENT_IDLE_TIMEOUT_MS,
        ...opts.channelOptions,
      }),
  );
  let next = 0;
  const pick = () => clients[next++ % clients.length];
  const baseMetadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.headers ?? {})) baseMetadata.set(k.toLowerCase(), v);
  const serialize = (desc: DescMessage) => (m: unknown) => {
    const bytes = toBinary(desc, isMessage(m, desc) ? m : create(desc, m as never));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  const deserialize = (desc: DescMessage) => (b: Buffer) => fromBinary(desc, b);
  const callOptions = (timeoutMs: number | undefined): grpc.CallOptions =>
    timeoutMs !== undefined && timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};

  return {
    close: () => clients.forEach((c) => c.close()),
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      ...[signal, timeoutMs, header, input, contextValues]: TransportCallArgs<MessageInitShape<I>>
    ): Promise<UnaryResponse<I, O>> {
      const path = `/${method.parent.typeName}/${method.name}`;
      const decode = contextValues?.get(undecodedResponseKey) ? undecoded(method.output) : deserialize(method.output);
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(callerGone(signal));
          return;
        }
        if (timeoutMs !== undefined && timeoutMs <= 0) {
          reject(expired());
          return;
        }
        // Headers and trailers become fetch Headers only if the caller reads them (onHeader, onTrailer).
        let headerMd: grpc.Metadata | undefined;
        let trailerMd: grpc.Metadata | undefined;
        const call = pick().makeUnaryRequest(
          path,
          serialize(method.input),
          decode,
          input,
          metadataFor(baseMetadata, header),
          callOptions(timeoutMs),
          (err, res) => {
            signal?.removeEventListener("abort", onAbort);
            if (err) {
              reject(signal?.aborted && err.code === grpc.status.CANCELLED ? callerGone(signal) : toConnectError(err));
              return;
            }
            let h: Headers | undefined;
            let t: Headers | undefined;
            resolve({
              stream: false,
              service: method.parent,
              method,
              message: res as MessageShape<O>,
              get header() {
                return (h ??= headerMd ? metadataToHeaders(headerMd) : new Headers());
              },
              get trailer() {
                return (t ??= trailerMd ? metadataToHeaders(trailerMd) : new Headers());
              },
            });
          },
        );
        call.on("metadata", (md: grpc.Metadata) => (headerMd = md));
        call.on("status", (s: grpc.StatusObject) => (trailerMd = s.metadata));
        const onAbort = () => call.cancel();
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      ...[signal, timeoutMs, header, input, contextValues]: TransportCallArgs<AsyncIterable<MessageInitShape<I>>>
    ): Promise<StreamResponse<I, O>> {
      void contextValues;
      if (method.methodKind !== "server_streaming") {
        throw new ConnectError(`${method.methodKind} calls are not supported by this transport`, Code.Unimplemented);
      }
      if (signal?.aborted) throw callerGone(signal);
      if (timeoutMs !== undefined && timeoutMs <= 0) throw expired();
      let request: MessageInitShape<I> | undefined;
      for await (const m of input) {
        request = m;
        break;
      }
      const path = `/${method.parent.typeName}/${method.name}`;
      const call = pick().makeServerStreamRequest(
        path,
        serialize(method.input),
        deserialize(method.output),
        request ?? create(method.input),
        metadataFor(baseMetadata, header),
        callOptions(timeoutMs),
      );
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      const responseHeader = new Headers();
      const trailer = new Headers();
      call.on("metadata", (md: grpc.Metadata) => metadataToHeaders(md).forEach((v, k) => responseHeader.set(k, v)));
      call.on("status", (s: grpc.StatusObject) => metadataToHeaders(s.metadata).forEach((v, k) => trailer.set(k, v)));
      async function* messages(): AsyncGenerator<MessageShape<O>> {
        try {
          for await (const m of call) yield m as MessageShape<O>;
        } catch (err) {
          if (signal?.aborted && (err as grpc.ServiceError).code === grpc.status.CANCELLED) throw callerGone(signal);
          throw toConnectError(err as grpc.ServiceError);
        } finally {
          signal?.removeEventListener("abort", onAbort);
          call.cancel();
        }
      }
      return { stream: true, service: method.parent, method, header: responseHeader, trailer, message: messages() };
    },
  };
}

/** CallContextLike is the part of a HandlerContext that outgoing calls derive their options from. */
export interface CallContextLike {
  /** signal of the incoming call. */
  signal: AbortSignal;
  /** timeoutMs left of the incoming call. */
  timeoutMs(): number | undefined;
  /** requestHeader of the incoming call (x-request-id, traceparent). */
  requestHeader: Headers;
}

/**
 * outgoingCallOptions derives an outgoing call's options from the incoming call: the remaining
 * deadline (capped by `maxTimeoutMs`), its cancellation, its request id and trace context, and the
 * end user in x-on-behalf-of for the audit trail.
 */
export function outgoingCallOptions(ctx: CallContextLike, opts: { onBehalfOf?: string; maxTimeoutMs?: number } = {}): { signal: AbortSignal; timeoutMs?: number; headers: Record<string, string>; contextValues: ContextValues } {
  const left = ctx.timeoutMs();
  const cap = opts.maxTimeoutMs ?? 30_000;
  const headers: Record<string, string> = {};
  for (const h of ["x-request-id", "traceparent", "tracestate"]) {
    const v = ctx.requestHeader.get(h);
    if (v) headers[h] = v;
  }
  if (opts.onBehalfOf) headers["x-on-behalf-of"] = opts.onBehalfOf;
  return { signal: ctx.signal, timeoutMs: left === undefined ? cap : Math.max(1, Math.min(left, cap)), headers, contextValues: createContextValues() };
}
