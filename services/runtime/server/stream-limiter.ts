// Why: a server-streaming call (WatchQueue, WatchAppointments, health Watch) holds memory for as long
// as it stays open (the framework's stream pipeline, the upstream call, the last message sent:
// 40-70 KiB each, see STREAM_COST_BYTES in config.ts), and an idle one costs the caller nothing. One
// token opening a few thousand of them over one or a few HTTP/2 connections ran a gateway with a
// 96 MB heap out of memory; HTTP/2's per-connection stream limit does not help against many connections, and the
// in-flight bound counts unary calls only.
//
// How: every server counts its open streams, per caller and in total, and refuses the one past a
// bound at once with RESOURCE_EXHAUSTED (reason TOO_MANY_STREAMS): nothing waits for a place, so a
// refused stream costs no more than a refused unary call.
// * The caller is the token's subject: not the address, since a clinic sits behind one NAT address
//   and a mesh sidecar makes every peer 127.0.0.6. Calls without one (health Watch, which needs no
//   token, and AUTH_MODE=off) are counted per client connection: per address would put a whole
//   clinic behind NAT under one caller's bound. A connection's streams are bounded anyway (HTTP/2's
//   100); this bound is lower, and the total bounds the connections together. AUTH_MODE=off's
//   anonymous caller reaches a service through the gateway's few connections, so there it is counted
//   per the client connection the gateway names (CLIENT_CONNECTION_HEADER); a tokenless health Watch
//   reaches a service directly, so its own connection counts, whatever a header claims.
// * Callers with the service role (a service, an integration acting for many users) have no
//   per-caller bound, and the last eighth of the total is theirs alone: user streams cannot fill
//   the server so far that they get none. Everything together stays within the total.
import { getPrincipal } from "../auth/principal.js";
import { ResourceExhaustedError } from "../errors.js";
import { CLIENT_CONNECTION_HEADER, CONNECTION_HEADER } from "./connection-headers.js";
import type { RpcCall, RpcInterceptor } from "./interceptors.js";

/** STREAMS_REASON is the ErrorInfo reason of a stream refused by the stream limits. */
export const STREAMS_REASON = "TOO_MANY_STREAMS";

/** StreamLimits bound the server-streaming calls one server serves at once; 0 disables a bound. */
export interface StreamLimits {
  /** max bounds all open streams together (GATEWAY_MAX_STREAMS). */
  max: number;
  /** perClient bounds the open streams of one caller: a token's subject, or a connection without one (GATEWAY_MAX_STREAMS_PER_CLIENT). */
  perClient: number;
}

/** StreamLimiter is the interceptor with its counters, for tests and metrics. */
export interface StreamLimiter extends RpcInterceptor {
  /** open is the number of streams open now. */
  open(): number;
  /** openFor is the number of streams open now for one caller key ("sub:<subject>", "conn:<address>:<port>", "service"). */
  openFor(key: string): number;
}

/** SERVICE_KEY counts the streams of callers with the service role, which have no per-caller bound. */
const SERVICE_KEY = "service";

/** serviceShare is the part of `max` that only callers with the service role may use. */
export function serviceShare(max: number): number {
  return Math.floor(max / 8);
}

/** ANONYMOUS is the subject of AUTH_MODE=off's caller, who is everyone. */
const ANONYMOUS = "anonymous";

/** callerKey names whose stream a call is: the service role, a token's subject, or (without one) the client connection. */
function callerKey(call: RpcCall): string {
  const principal = getPrincipal(call.ctx);
  if (principal && principal.subject !== ANONYMOUS) return principal.roles.includes("service") ? SERVICE_KEY : `sub:${principal.subject}`;
  const header = call.ctx.requestHeader;
  const forwarded = principal ? header.get(CLIENT_CONNECTION_HEADER) : null;
  return `conn:${forwarded || header.get(CONNECTION_HEADER) || "unknown"}`;
}

/**
 * createStreamLimitInterceptor refuses a server-streaming call with RESOURCE_EXHAUSTED
 * (TOO_MANY_STREAMS) when its caller already has `perClient` streams open, or when the server has
 * `max` open (callers other than the service role: `max` less serviceShare(max)); a stream frees its
 * place when it ends, however it ends. Unary calls pass untouched. It must run after the auth
 * interceptor (later in the array), which names the caller.
 */
export function createStreamLimitInterceptor(limits: StreamLimits): StreamLimiter {
  const perKey = new Map<string, number>();
  const held = new WeakMap<object, string>();
  let open = 0;
  const release = (call: RpcCall) => {
    const key = held.get(call);
    if (key === undefined) return;
    held.delete(call);
    open--;
    const left = (perKey.get(key) ?? 1) - 1;
    if (left > 0) perKey.set(key, left);
    else perKey.delete(key);
  };
  return {
    before(call) {
      if (call.method.methodKind !== "server_streaming" && call.method.methodKind !== "bidi_streaming") return;
      const key = callerKey(call);
      const service = key === SERVICE_KEY;
      const total = service ? limits.max : limits.max - serviceShare(limits.max);
      const mine = perKey.get(key) ?? 0;
      if (!service && limits.perClient > 0 && mine >= limits.perClient) {
        const who = key.startsWith("conn:") ? "on this connection" : "for this sign-in";
        throw new ResourceExhaustedError(
          STREAMS_REASON,
          `too many live updates open ${who}: at most ${limits.perClient} at once (a display board needs one or two); close another screen or board that follows a queue or appointments this way, then retry`,
          { metadata: { scope: "caller", limit: String(limits.perClient) } },
        );
      }
      if (limits.max > 0 && open >= total) {
        throw new ResourceExhaustedError(
          STREAMS_REASON,
          `the server is following as many live updates as it can (${total} open); retry in a minute, and if this lasts, ask the operator to raise GATEWAY_MAX_STREAMS`,
          { metadata: { scope: "server", limit: String(total) } },
        );
      }
      perKey.set(key, mine + 1);
      open++;
      held.set(call, key);
      // Also when the call's signal ends it (client gone, deadline, shutdown), should the stream's
      // generator be dropped without being closed.
      call.ctx.signal.addEventListener("abort", () => release(call), { once: true });
    },
    after(call) {
      release(call);
    },
    open: () => open,
    openFor: (key) => perKey.get(key) ?? 0,
  };
}
