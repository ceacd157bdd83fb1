import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { toConnectError } from "../errors.js";

/** RpcCall describes one call as the interceptors see it. */
export interface RpcCall {
  /** service is the called service's descriptor. */
  readonly service: DescService;
  /** method is the called method's descriptor. */
  readonly method: DescMethod;
  /** procedure is "/package.Service/Method". */
  readonly procedure: string;
  /** request is the request message (for client-streaming calls, undefined). */
  readonly request: unknown;
  /** ctx is the handler context, shared with the implementation. */
  readonly ctx: HandlerContext;
  /** startedAt is process.hrtime.bigint() at the start of the call. */
  readonly startedAt: bigint;
  /**
   * early is set on a call that ended before the implementation and the interceptors' `before` were
   * reached: its request never arrived whole (the client left, the body stalled) or did not decode.
   * Only `after` sees such a call, and what it returns is not answered (the answer is already given).
   */
  readonly early?: boolean;
}

/**
 * RpcInterceptor runs around every call of a wrapped service, the same on the grpc-js and the
 * connect-node server. `before` may throw to reject the call; `after` sees how it ended (for a
 * stream: when the stream ended). Interceptors run `before` in array order and `after` in reverse.
 */
export interface RpcInterceptor {
  /** before runs before the implementation. */
  before?(call: RpcCall): void | Promise<void>;
  /**
   * after runs once the call ended, with the error it ended with, if any. Returning an error answers
   * that one instead (the interceptors that run after it see it): the rate limit turns the auth
   * refusals of a caller past its budget into RESOURCE_EXHAUSTED this way.
   */
  after?(call: RpcCall, error: ConnectError | undefined): void | ConnectError;
}

/** EarlyFailure reports a call that ended before the interceptors saw it (RpcCall.early) to the interceptors' `after`. */
export type EarlyFailure = (method: DescMethod, ctx: HandlerContext, error: ConnectError, startedAt: bigint) => void;

/**
 * earlyFailureOf is the EarlyFailure of an implementation made by wrapService (undefined for any
 * other): the servers call it for requests that fail before the implementation is reached, so that
 * those calls are logged, counted and rate-limited by the same interceptors as every other call.
 */
export function earlyFailureOf(impl: unknown): EarlyFailure | undefined {
  return (impl as { [EARLY_FAILURE]?: EarlyFailure } | undefined)?.[EARLY_FAILURE];
}

const EARLY_FAILURE = Symbol("medschedule.earlyFailure");

/**
 * drainSignalKey holds, in a call's context values, the server's drain signal: when the server starts
 * draining, streaming calls end with UNAVAILABLE (clients reconnect elsewhere) while unary calls finish.
 */
export const drainSignalKey = createContextKey<AbortSignal | undefined>(undefined, { description: "server drain" });

/**
 * callReachedKey is set in a call's context values once it reached a wrapped implementation, i.e. the
 * interceptors see it; a call that ends without it ended early (RpcCall.early).
 */
export const callReachedKey = createContextKey(false, { description: "call reached the interceptors" });

const DRAINED = Symbol("drained");

/**
 * drainWaiters holds, per drain signal, the streams waiting for their next message: one abort
 * listener per signal calls them all. Not one listener per stream: an EventTarget finds a listener
 * to remove by walking all of them, and a listener never removed keeps its stream's whole chain
 * (generators, upstream call, last message) alive until the server stops.
 */
const drainWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/** waitersOf is the set of `drain`'s waiters, made with its one listener on first use. */
function waitersOf(drain: AbortSignal): Set<() => void> {
  // Its own function: a closure shares its context with those made in the same call, and this
  // listener lives as long as the server; made in onDrain, it would keep the first waiter alive.
  const known = drainWaiters.get(drain);
  if (known) return known;
  const waiting = new Set<() => void>();
  drainWaiters.set(drain, waiting);
  drain.addEventListener(
    "abort",
    () => {
      for (const g of [...waiting]) g();
      waiting.clear();
    },
    { once: true },
  );
  return waiting;
}

/** onDrain calls `f` when `drain` aborts; the returned function forgets it. */
function onDrain(drain: AbortSignal, f: () => void): () => void {
  const waiting = waitersOf(drain);
  waiting.add(f);
  return () => void waiting.delete(f);
}

/** nextUnlessDrained is the source's next result, or DRAINED if `drain` aborts first; nothing of the wait outlives it. */
function nextUnlessDrained<T>(it: AsyncIterator<T>, drain: AbortSignal): Promise<IteratorResult<T> | typeof DRAINED> {
  if (drain.aborted) return Promise.resolve(DRAINED);
  return new Promise((resolve, reject) => {
    const forget = onDrain(drain, () => resolve(DRAINED));
    it.next().then(
      (r) => {
        forget();
        resolve(r);
      },
      (err: unknown) => {
        forget();
        reject(err);
      },
    );
  });
}

/**
 * Relay passes a stream's messages on one at a time, holding each only until it is taken. A
 * suspended generator keeps whatever its registers last held (V8 does not clear them), so a
 * generator waiting for a watch's next change through `const r = await it.next()` would keep the
 * previous message, a whole snapshot, alive as long as the stream stays quiet.
 */
class Relay<T> {
  private held: T | undefined;

  constructor(
    private readonly it: AsyncIterator<T>,
    private readonly drain: AbortSignal | undefined,
  ) {}

  /** pull waits for the source's next message ("value", then take it), its end, or the drain. */
  async pull(): Promise<"value" | "done" | "drained"> {
    const r = this.drain ? await nextUnlessDrained(this.it, this.drain) : await this.it.next();
    if (r === DRAINED) return "drained";
    if (r.done) return "done";
    this.held = r.value;
    return "value";
  }

  /** take hands the pulled message over and forgets it. */
  take(): T {
    const value = this.held as T;
    this.held = undefined;
    return value;
  }
}

/** isAborted checks a call's signal, without creating one where the context makes it lazily. */
function isAborted(ctx: HandlerContext): boolean {
  const fast = (ctx as { aborted?: unknown }).aborted;
  return typeof fast === "boolean" ? fast : ctx.signal.aborted;
}

/**
 * goneBeforeStart says why a call is over before any work starts: its signal aborted (client gone,
 * deadline passed, server shutting down), or less than a millisecond of its deadline is left
 * (grpc-timeout 1n: no work fits, and the deadline had passed when the client's bytes arrived).
 */
function goneBeforeStart(ctx: HandlerContext): ConnectError | undefined {
  if (isAborted(ctx)) return toConnectError(ctx.signal.reason, ctx.signal);
  const left = ctx.timeoutMs();
  return left !== undefined && left < 1 ? new ConnectError("the deadline passed", Code.DeadlineExceeded) : undefined;
}

type AnyFn = (req: unknown, ctx: HandlerContext) => unknown;

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return x != null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/**
 * wrapService returns an implementation of `service` that runs `interceptors` around every method of
 * `impl` and maps whatever a method throws to a ConnectError (domain errors keep their code).
 * Methods missing from `impl` answer UNIMPLEMENTED through the servers themselves.
 */
export function wrapService<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
  interceptors: RpcInterceptor[],
): ServiceImpl<S> {
  const wrapped: Record<string, AnyFn> = {};
  const target = impl as Record<string, AnyFn | undefined>;
  for (const method of service.methods) {
    const fn = target[method.localName];
    if (typeof fn !== "function") continue;
    const procedure = `/${service.typeName}/${method.name}`;
    const bound = fn.bind(impl) as AnyFn;
    const runBefore = async (call: RpcCall) => {
      for (const i of interceptors) await i.before?.(call);
    };
    const runAfter = <E extends ConnectError | undefined>(call: RpcCall, error: E): E => {
      let out = error;
      for (let k = interceptors.length - 1; k >= 0; k--) {
        const replaced = interceptors[k].after?.(call, out);
        if (out && replaced instanceof ConnectError) out = replaced as E;
      }
      return out;
    };
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      wrapped[method.localName] = async (req, ctx) => {
        const call: RpcCall = { service, method, procedure, request: method.methodKind === "unary" ? req : undefined, ctx, startedAt: process.hrtime.bigint() };
        ctx.values.set(callReachedKey, true);
        let res: unknown;
        try {
          // A deadline that passed before the call arrived (grpc-timeout 0n, connect-timeout-ms 0) is
          // DEADLINE_EXCEEDED at once, before any work: not whatever the work says about a dead signal.
          const gone = goneBeforeStart(ctx);
          if (gone) throw gone;
          await runBefore(call);
          res = await bound(req, ctx);
          // Finished after the deadline passed or the client left: the caller got that, not this.
          if (isAborted(ctx)) throw ctx.signal.reason;
        } catch (err) {
          throw runAfter(call, toConnectError(err, ctx.signal));
        }
        runAfter(call, undefined);
        return res;
      };
    } else {
      wrapped[method.localName] = (req, ctx) =>
        (async function* () {
          const call: RpcCall = { service, method, procedure, request: method.methodKind === "server_streaming" ? req : undefined, ctx, startedAt: process.hrtime.bigint() };
          ctx.values.set(callReachedKey, true);
          let error: ConnectError | undefined;
          let ended = false;
          try {
            const gone = goneBeforeStart(ctx);
            if (gone) throw gone;
            await runBefore(call);
            const out = bound(req, ctx);
            if (!isAsyncIterable(out)) throw new TypeError(`${procedure} did not return a stream`);
            const it = out[Symbol.asyncIterator]();
            const relay = new Relay(it, ctx.values.get(drainSignalKey));
            let open = true;
            try {
              for (;;) {
                const got = await relay.pull();
                if (got === "drained") {
                  // The source is still waiting for its next message: it ends once that wait does.
                  open = false;
                  void it.return?.()?.catch(() => undefined);
                  throw new ConnectError("the server is shutting down; reconnect", Code.Unavailable);
                }
                if (got === "done") {
                  open = false;
                  break;
                }
                yield relay.take();
              }
              ended = true;
            } finally {
              // The client left (return() at the yield: the source waits at its own) or the source
              // failed: close it now, so its own cleanup (a feed subscription, an upstream call) runs.
              if (open) await it.return?.()?.catch(() => undefined);
            }
          } catch (err) {
            error = runAfter(call, toConnectError(err, ctx.signal));
            throw error;
          } finally {
            // A stream closed by the client ends here without an error: report it as CANCELED.
            if (!error) runAfter(call, ended ? undefined : new ConnectError("the client closed the stream", Code.Canceled));
          }
        })();
    }
  }
  const early: EarlyFailure = (method, ctx, error, startedAt) => {
    const call: RpcCall = { service, method, procedure: `/${service.typeName}/${method.name}`, request: undefined, ctx, startedAt, early: true };
    // Every interceptor sees the error the caller got: replacements are not answered here.
    for (let k = interceptors.length - 1; k >= 0; k--) interceptors[k].after?.(call, error);
  };
  Object.defineProperty(wrapped, EARLY_FAILURE, { value: early });
  return wrapped as unknown as ServiceImpl<S>;
}
