// The HandlerContext a service class sees, for the tests that call a class directly.
import type { DescMethod } from "@bufbuild/protobuf";
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { principalKey, type Principal } from "../../services/runtime/auth/principal.js";
import type { Role } from "../../services/runtime/auth/role-table.js";

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

/** callerContext is testContext with a caller: `subject` in `role`, limited to their own records when a patient or doctor (as the role table grants them). */
export function callerContext(method: DescMethod, role: Role = "receptionist", subject = "rec-1", signal?: AbortSignal): HandlerContext {
  return testContext(method, { principal: { subject, roles: [role], grantedRole: role, ownOnly: role === "patient" || role === "doctor" }, signal });
}
