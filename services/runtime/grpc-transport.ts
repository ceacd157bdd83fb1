import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type DescMethodStreaming, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { metadataToHeaders } from "./grpc-server.js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

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

function metadataFor(base: Record<string, string> | undefined, header: HeadersInit | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(base ?? {})) md.set(k, v);
  new Headers(header).forEach((v, k) => {
    if (k.endsWith("-bin")) md.set(k, Buffer.from(v, "base64"));
    else md.set(k, v);
  });
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
        ...opts.channelOptions,
      }),
  );
  let next = 0;
  const pick = () => clients[next++ % clients.length];
  const serialize = (desc: DescMessage) => (m: unknown) => Buffer.from(toBinary(desc, create(desc, m as never)));
  const deserialize = (desc: DescMessage) => (b: Buffer) => fromBinary(desc, b);
  const callOptions = (timeoutMs: number | undefined): grpc.CallOptions =>
    timeoutMs !== undefined && timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};

  return {
    close: () => clients.forEach((c) => c.close()),
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      void contextValues;
      const path = `/${method.parent.typeName}/${method.name}`;
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(ConnectError.from(signal.reason, Code.Canceled));
          return;
        }
        let responseHeader = new Headers();
        const call = pick().makeUnaryRequest(
          path,
          serialize(method.input),
          deserialize(method.output),
          input,
          metadataFor(opts.headers, header),
          callOptions(timeoutMs),
          (err, res) => {
            signal?.removeEventListener("abort", onAbort);
            if (err) reject(toConnectError(err));
            else resolve({ stream: false, service: method.parent, method, header: responseHeader, message: res as MessageShape<O>, trailer: trailer });
          },
        );
        let trailer = new Headers();
        call.on("metadata", (md: grpc.Metadata) => (responseHeader = metadataToHeaders(md)));
        call.on("status", (s: grpc.StatusObject) => (trailer = metadataToHeaders(s.metadata)));
        const onAbort = () => call.cancel();
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      void contextValues;
      if (method.methodKind !== "server_streaming") {
        throw new ConnectError(`${method.methodKind} calls are not supported by this transport`, Code.Unimplemented);
      }
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
        metadataFor(opts.headers, header),
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
