// Calling a service mounted in this process without a wire: unary calls go straight into the
// registration's implementation (already wrapped with the interceptors: auth, logging, metrics)
// with a light HandlerContext. Connect's router transport, used before, ran both ends of the
// Connect protocol in memory (serialization, linked AbortControllers, a DOMException at the end of
// every call): on `npm start`'s booking path that cost more CPU than the lock work itself.
// Streaming calls still use the router transport.
import { create, isMessage, type DescMessage, type DescMethodStreaming, type DescMethodUnary, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createRouterTransport,
  type ContextValues,
  type HandlerContext,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { ServiceRegistration } from "../server/grpc-server.js";
import type { TransportCallArgs } from "./grpc-transport.js";

type UnaryFn = (req: unknown, ctx: HandlerContext) => unknown;

/** InProcessContext is the HandlerContext of an in-process call: the caller's signal and deadline. */
class InProcessContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "in-process";
  readonly url: string;
  readonly values: ContextValues;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethodUnary,
    readonly requestHeader: Headers,
    readonly signal: AbortSignal,
    private readonly deadlineAt: number | undefined,
    values: ContextValues | undefined,
  ) {
    this.url = `/${service.typeName}/${method.name}`;
    this.values = values ?? createContextValues();
  }

  get responseHeader(): Headers {
    return (this.resHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.resTrailer ??= new Headers());
  }

  /** aborted tells whether the caller gave up or the deadline passed. */
  get aborted(): boolean {
    return this.signal.aborted;
  }

  timeoutMs = (): number | undefined => (this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now());
}

/**
 * createInProcessTransport is a Transport into `reg.impl` in this process. `headers` are added to
 * every call (this service's token); deadlines (timeoutMs) end the call with DEADLINE_EXCEEDED and
 * abort the handler's signal, as over a wire; errors reach the caller as the ConnectErrors the
 * interceptors made of them.
 */
export function createInProcessTransport(reg: ServiceRegistration, headers: () => Record<string, string> = () => ({})): Transport {
  const impl = reg.impl as Record<string, UnaryFn | undefined>;
  let streaming: Transport | undefined;
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      ...[signal, timeoutMs, header, input, contextValues]: TransportCallArgs<MessageInitShape<I>>
    ): Promise<UnaryResponse<I, O>> {
      const fn = impl[method.localName];
      if (!fn) throw new ConnectError(`${reg.service.typeName}.${method.name} is not implemented`, Code.Unimplemented);
      const requestHeader = new Headers(header);
      for (const [k, v] of Object.entries(headers())) if (!requestHeader.has(k)) requestHeader.set(k, v);
      if (signal?.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
      if (timeoutMs !== undefined && timeoutMs <= 0) throw new ConnectError("the deadline passed before the call was made", Code.DeadlineExceeded);

      const hasDeadline = timeoutMs !== undefined && timeoutMs > 0;
      // The handler's signal: the caller's, plus the deadline's when there is one.
      const controller = hasDeadline || signal ? new AbortController() : undefined;
      let timer: NodeJS.Timeout | undefined;
      let expired: Promise<never> | undefined;
      let rejectCancelled: ((err: ConnectError) => void) | undefined;
      const cancelled = signal ? new Promise<never>((_, reject) => (rejectCancelled = reject)) : undefined;
      const onCallerAbort = () => {
        const err = ConnectError.from(signal?.reason, Code.Canceled);
        controller?.abort(err);
        rejectCancelled?.(err);
      };
      signal?.addEventListener("abort", onCallerAbort, { once: true });
      if (hasDeadline) {
        expired = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new ConnectError("the deadline passed", Code.DeadlineExceeded);
            controller!.abort(err);
            reject(err);
          }, timeoutMs);
        });
      }
      const ctx = new InProcessContext(
        reg.service,
        method,
        requestHeader,
        controller?.signal ?? new AbortController().signal,
        hasDeadline ? Date.now() + timeoutMs : undefined,
        contextValues,
      );
      try {
        const request = isMessage(input, method.input) ? input : create(method.input, input);
        const running = Promise.resolve(fn.call(reg.impl, request, ctx));
        const races = [running, expired, cancelled].filter((p): p is Promise<unknown> => p !== undefined);
        if (races.length > 1) running.catch(() => undefined);
        const res = races.length > 1 ? await Promise.race(races) : await running;
        const message = (isMessage(res, method.output) ? res : create(method.output, res as MessageInitShape<O>)) as MessageShape<O>;
        return { stream: false, service: reg.service, method, header: ctx.responseHeader, trailer: ctx.responseTrailer, message };
      } catch (err) {
        throw ConnectError.from(err);
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onCallerAbort);
      }
    },
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      ...[signal, timeoutMs, header, input, contextValues]: TransportCallArgs<AsyncIterable<MessageInitShape<I>>>
    ): Promise<StreamResponse<I, O>> {
      streaming ??= createRouterTransport((router) => router.service(reg.service, reg.impl as never), {
        transport: {
          interceptors: [
            (next) => async (req) => {
              for (const [k, v] of Object.entries(headers())) if (!req.header.has(k)) req.header.set(k, v);
              return next(req);
            },
          ],
        },
      });
      return streaming.stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}
