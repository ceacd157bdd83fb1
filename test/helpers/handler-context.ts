import type { DescMethod } from "@bufbuild/protobuf";
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { principalKey, type Principal } from "../../services/runtime/auth/principal.js";

/**
 * testContext builds the HandlerContext a service class sees for `method`, for tests that call the
 * class directly: optionally with a caller (principal) and a signal that ends the call.
 */
export function testContext(method: DescMethod, opts: { principal?: Principal; signal?: AbortSignal } = {}): HandlerContext {
  const ctx = createHandlerContext({
    service: method.parent,
    method,
    protocolName: "test",
    requestMethod: "POST",
    url: `/${method.parent.typeName}/${method.name}`,
    shutdownSignal: opts.signal,
  });
  if (opts.principal) ctx.values.set(principalKey, opts.principal);
  return ctx;
}
