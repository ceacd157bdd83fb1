import { randomUUID } from "node:crypto";
import { Code, createContextKey } from "@connectrpc/connect";
import { getPrincipal } from "./auth/principal.js";
import { PUBLIC_SERVICES } from "./auth/role-table.js";
import type { RpcInterceptor } from "./interceptors.js";
import type { Logger } from "./logger.js";
import { codeName } from "./metrics.js";

/** REQUEST_ID_HEADER carries the request id, taken from the caller or generated, and echoed back. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * rpcLoggedKey is set in a call's context values once the logging interceptor has seen the call; a
 * call that ends before (its request did not decode) is logged by the server instead
 * (request-decode-errors.ts).
 */
export const rpcLoggedKey = createContextKey(false, { description: "rpc logged" });

/** requestIdOf returns the request id of a call (set by the logging interceptor). */
export function requestIdOf(headers: Headers): string {
  return headers.get(REQUEST_ID_HEADER) ?? "";
}

/**
 * createLoggingInterceptor gives every call a request id (the caller's x-request-id when it is sane,
 * else a new one, echoed in the response) and logs one JSON line per call: procedure, code, duration,
 * request id and the caller's subject. No request or response bodies: they may hold PHI. INTERNAL
 * errors are logged with their cause and stack; health and reflection calls log at debug level.
 */
export function createLoggingInterceptor(logger: Logger): RpcInterceptor {
  return {
    before(call) {
      call.ctx.values.set(rpcLoggedKey, true);
      const given = call.ctx.requestHeader.get(REQUEST_ID_HEADER);
      const id = given && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
      call.ctx.requestHeader.set(REQUEST_ID_HEADER, id);
      call.ctx.responseHeader.set(REQUEST_ID_HEADER, id);
    },
    after(call, error) {
      const ms = Number(process.hrtime.bigint() - call.startedAt) / 1e6;
      const principal = getPrincipal(call.ctx);
      const line = {
        procedure: call.procedure,
        protocol: call.ctx.protocolName,
        code: codeName(error?.code),
        ms: Math.round(ms * 1000) / 1000,
        requestId: call.ctx.requestHeader.get(REQUEST_ID_HEADER),
        sub: principal?.subject,
        onBehalfOf: principal?.onBehalfOf,
      };
      if (error && (error.code === Code.Internal || error.code === Code.Unknown || error.code === Code.DataLoss)) {
        logger.error({ ...line, err: error.cause ?? error }, error.rawMessage);
      } else if (PUBLIC_SERVICES.has(call.service.typeName)) {
        logger.debug(line, "rpc");
      } else {
        logger.info(error ? { ...line, error: error.rawMessage } : line, "rpc");
      }
    },
  };
}
