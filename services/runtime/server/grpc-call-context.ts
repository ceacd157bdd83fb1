// A call on the grpc-js server as connect's HandlerContext (GrpcCallContext), and the set of calls
// that the server's shutdown cuts (LiveCalls), for the handlers of grpc-handlers.ts.
import type * as grpc from "@grpc/grpc-js";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { CONNECTION_HEADER, PEER_HEADER } from "./connection-headers.js";
import { headersToMetadata, metadataToHeaders, reservedTrailer } from "./grpc-metadata.js";
import { drainSignalKey } from "./interceptors.js";

/** AnyCall is a grpc-js call of a unary or a server- or bidi-streaming method. */
export type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/**
 * LiveCalls tells the calls of one handler set that the server is shutting down. It is one listener
 * on the server's shutdown signal and a set of the calls that asked for a signal, rather than a
 * listener per call: adding and removing EventTarget listeners cost more than the rest of a no-op call.
 */
export class LiveCalls {
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
export class GrpcCallContext implements HandlerContext {
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
