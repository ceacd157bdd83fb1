// The grpc-js handlers of one service (createGrpcHandlers): protobuf-es messages as grpc-js
// serializers, a request that does not decode refused and reported, unary and streaming calls run
// on the implementation, and answers and errors written back as gRPC status with details.
import type * as grpc from "@grpc/grpc-js";
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { toConnectError } from "../errors.js";
import { GrpcCallContext, LiveCalls, type AnyCall } from "./grpc-call-context.js";
import { toGrpcStatus } from "./grpc-metadata.js";
import type { ServiceRegistration } from "./grpc-server.js";
import { earlyFailureOf, type EarlyFailure } from "./interceptors.js";
import { REQUEST_ID_HEADER } from "../observability/logging-interceptor.js";
import { binaryDecodeError } from "../request/request-binary.js";
import type { UnloggedFailure } from "../request/request-decode-errors.js";

const INVALID = Symbol("invalid-message");
interface InvalidMessage {
  [INVALID]: Error;
  bytes: Uint8Array;
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
