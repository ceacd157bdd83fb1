import { Code, ConnectError } from "@connectrpc/connect";
import { getPrincipal } from "../services/runtime/auth/principal.js";
import { PUBLIC_SERVICES } from "../services/runtime/auth/role-table.js";
import { PEER_HEADER } from "../services/runtime/server/connection-headers.js";
import type { RpcCall, RpcInterceptor } from "../services/runtime/server/interceptors.js";

/** TokenBucketLimiter is a set of token buckets, one per client key. */
export interface TokenBucketLimiter {
  /** take spends one token of `key`; it returns 0 when allowed, else the ms until a token is back. */
  take(key: string): number;
  /** size is the number of tracked clients. */
  size(): number;
}

/**
 * createTokenBucketLimiter gives each key a bucket of `perMinute` tokens (the burst), refilled
 * evenly over a minute. Full buckets are forgotten, so memory follows the active clients only.
 */
export function createTokenBucketLimiter(perMinute: number, now: () => number = Date.now): TokenBucketLimiter {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  const sweep = (t: number) => {
    if (t - lastSweep < 60_000) return;
    lastSweep = t;
    for (const [k, b] of buckets) if (b.tokens + (t - b.at) * perMs >= perMinute) buckets.delete(k);
  };
  return {
    take(key) {
      const t = now();
      sweep(t);
      const b = buckets.get(key) ?? { tokens: perMinute, at: t };
      b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - b.tokens) / perMs);
    },
    size: () => buckets.size,
  };
}

/**
 * createRateLimitInterceptor answers RESOURCE_EXHAUSTED once a client has spent its budget of
 * `perMinute` calls (token bucket). The client is the token's subject, or the remote address for
 * callers without one (and under AUTH_MODE=off). Calls that authentication or the role table refuse
 * (no token, a malformed, forged or expired one, a role that may not call the RPC) are charged to the
 * remote address: past its budget they answer RESOURCE_EXHAUSTED instead of UNAUTHENTICATED or
 * PERMISSION_DENIED, so guessing tokens is as limited as calling with one. So are calls that end
 * before authentication (RpcCall.early: the client left mid-body, the body stalled or did not
 * decode): their token was never checked. Callers with a valid token
 * never spend the address's budget, so one bad client behind a clinic's NAT does not lock out the
 * staff there. Health, reflection and calls with the service role (services calling each other in
 * `npm start`) are not limited. It must run after the auth interceptor (later in the array), which
 * sets the principal; it sees the refused calls through `after`.
 */
export function createRateLimitInterceptor(opts: { perMinute: number; now?: () => number }): RpcInterceptor {
  const limiter = createTokenBucketLimiter(opts.perMinute, opts.now);
  const admitted = new WeakSet<object>();
  const address = (call: RpcCall) => `addr:${call.ctx.requestHeader.get(PEER_HEADER) ?? "unknown"}`;
  const refusal = (waitMs: number, whom: string) =>
    new ConnectError(`rate limit: at most ${opts.perMinute} calls per minute ${whom}; retry in ${Math.ceil(waitMs / 1000)} s`, Code.ResourceExhausted);
  return {
    before(call) {
      if (opts.perMinute <= 0 || PUBLIC_SERVICES.has(call.service.typeName)) return;
      admitted.add(call);
      const principal = getPrincipal(call.ctx);
      if (principal?.roles.includes("service") && principal.subject !== "anonymous") return;
      const key = principal && principal.subject !== "anonymous" ? `sub:${principal.subject}` : address(call);
      const waitMs = limiter.take(key);
      if (waitMs > 0) throw refusal(waitMs, "per client");
    },
    after(call, error) {
      if (admitted.delete(call) || opts.perMinute <= 0 || PUBLIC_SERVICES.has(call.service.typeName)) return;
      // Refused before this interceptor's turn: by authentication or the role table, or ended before
      // authentication ran (early).
      if (!call.early && error?.code !== Code.Unauthenticated && error?.code !== Code.PermissionDenied) return;
      const waitMs = limiter.take(address(call));
      return waitMs > 0 ? refusal(waitMs, "from this address without a valid token") : undefined;
    },
  };
}

/**
 * createInFlightLimitInterceptor refuses unary calls with RESOURCE_EXHAUSTED while `max` of them are
 * already in progress, instead of queueing them: past the services' capacity a queue only grows
 * (memory, and answers that come too late to matter), while a refusal tells the client at once to
 * back off. Streams (watchers), health/reflection and calls already authenticated as a service (the
 * services calling each other inside `npm start`) are not counted; `max` 0 disables the bound. In
 * the distributed gateway it runs before the auth interceptor, so a refused call costs no token
 * verification.
 */
export function createInFlightLimitInterceptor(opts: { max: number }): RpcInterceptor & { inFlight(): number } {
  let inFlight = 0;
  const counted = new WeakSet<object>();
  return {
    before(call) {
      if (opts.max <= 0 || call.method.methodKind !== "unary" || PUBLIC_SERVICES.has(call.service.typeName)) return;
      if (getPrincipal(call.ctx)?.roles.includes("service")) return;
      if (inFlight >= opts.max) {
        throw new ConnectError(`the gateway is at capacity (${opts.max} calls in progress); retry in a moment`, Code.ResourceExhausted);
      }
      inFlight++;
      counted.add(call);
    },
    after(call) {
      if (counted.delete(call)) inFlight--;
    },
    inFlight: () => inFlight,
  };
}
