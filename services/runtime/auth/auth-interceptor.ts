import { PermissionDeniedError, UnauthenticatedError } from "../errors.js";
import type { RpcInterceptor } from "../interceptors.js";
import type { Logger } from "../logger.js";
import type { TokenVerifier } from "./jwt.js";
import { principalKey, type Principal } from "./principal.js";
import { PUBLIC_SERVICES, ROLE_TABLE, type Grant, type Role, type RpcRule } from "./role-table.js";

/** AuthDecision is the outcome of checking one caller against one RPC's rule. */
export type AuthDecision = { allowed: true; role: Role; ownOnly: boolean } | { allowed: false; reason: string };

/**
 * decide applies an RPC's rule to a caller: a "yes" grant of any of the caller's roles wins over an
 * "own" grant; an "own" grant with an owner field needs that request field to equal the subject.
 */
export function decide(rule: RpcRule | undefined, procedure: string, subject: string, roles: Role[], request: unknown): AuthDecision {
  if (!rule) return { allowed: false, reason: `${procedure} is not open to any role` };
  let ownGrant: { role: Role; grant: Exclude<Grant, "yes"> } | undefined;
  for (const role of roles) {
    const g = rule[role];
    if (g === "yes") return { allowed: true, role, ownOnly: false };
    if (g && !ownGrant) ownGrant = { role, grant: g };
  }
  if (!ownGrant) {
    const who = roles.length > 0 ? `role ${roles.join(", ")}` : "a token without roles";
    return { allowed: false, reason: `${who} may not call ${procedure}` };
  }
  const field = ownGrant.grant.ownerField;
  if (field) {
    const value = (request as Record<string, unknown> | undefined)?.[field];
    if (value !== subject) {
      return { allowed: false, reason: `a ${ownGrant.role} may only act on their own records: ${field} must be your own id` };
    }
  }
  return { allowed: true, role: ownGrant.role, ownOnly: !field };
}

/**
 * createAuthInterceptor authenticates every call but those to health and reflection with a bearer JWT,
 * enforces ROLE_TABLE, and puts the Principal in the context. With mode "off" every caller is an
 * anonymous admin (only ever set explicitly, and logged loudly at start).
 */
export function createAuthInterceptor(opts: {
  mode: "jwt" | "off";
  verifier?: TokenVerifier;
  table?: ReadonlyMap<string, RpcRule>;
  logger?: Logger;
}): RpcInterceptor {
  const table = opts.table ?? ROLE_TABLE;
  if (opts.mode === "jwt" && !opts.verifier) throw new Error("createAuthInterceptor: jwt mode needs a verifier");
  return {
    async before(call) {
      if (PUBLIC_SERVICES.has(call.service.typeName)) return;
      const procedure = `${call.service.typeName}/${call.method.name}`;
      if (opts.mode === "off") {
        const principal: Principal = { subject: "anonymous", roles: ["admin", "service"], grantedRole: "admin", ownOnly: false };
        call.ctx.values.set(principalKey, principal);
        return;
      }
      const header = call.ctx.requestHeader.get("authorization");
      if (!header) throw new UnauthenticatedError("missing token: send the header \"authorization: Bearer <jwt>\"");
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new UnauthenticatedError("the authorization header must be \"Bearer <jwt>\"");
      const token = m[1];
      const verified = await opts.verifier!(token);
      const decision = decide(table.get(procedure), procedure, verified.subject, verified.roles, call.request);
      if (!decision.allowed) throw new PermissionDeniedError(decision.reason);
      const onBehalfOf = verified.roles.includes("service") ? call.ctx.requestHeader.get("x-on-behalf-of") ?? undefined : undefined;
      const principal: Principal = {
        subject: verified.subject,
        roles: verified.roles,
        grantedRole: decision.role,
        ownOnly: decision.ownOnly,
        onBehalfOf,
        token,
      };
      call.ctx.values.set(principalKey, principal);
    },
  };
}
