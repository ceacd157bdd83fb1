import { PermissionDeniedError, UnauthenticatedError } from "../errors.js";
import type { RpcInterceptor } from "../server/interceptors.js";
import type { Logger } from "../observability/logger.js";
import type { TokenVerifier } from "./jwt.js";
import { checkLocationsRequired } from "./location-scope.js";
import { principalKey, type Principal } from "./principal.js";
import { PUBLIC_SERVICES, ROLE_TABLE, ROLE_WORDS, ROLES, RPC_ACTIONS, type Grant, type Role, type RpcRule } from "./role-table.js";

/** ROLE_NOT_ALLOWED is the ErrorInfo reason of a call the caller's roles may not make (metadata: role, rpc). */
export const ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED";

/** OWN_RECORDS_ONLY is the ErrorInfo reason of a call a role may make only for the caller's own records, made for someone else's (metadata: role, rpc, field). */
export const OWN_RECORDS_ONLY = "OWN_RECORDS_ONLY";

/** AuthDecision is the outcome of checking one caller against one RPC's rule; a refusal says why for a person (message) and for engineers (reason, metadata). */
export type AuthDecision =
  | { allowed: true; role: Role; ownOnly: boolean }
  | { allowed: false; message: string; reason: string; metadata: Record<string, string> };

/** list joins words as a sentence does: "a", "a and b", "a, b and c". */
function list(words: string[], last = "and"): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} ${last} ${words[words.length - 1]}`;
}

/**
 * notAllowedMessage says in words that `roles` may not do what `procedure` does and who does it
 * instead, from the RPC's rule: "a doctor may not issue queue tickets; reception staff and
 * administrators do that, and patients for themselves". No RPC names: they are in the metadata.
 */
export function notAllowedMessage(procedure: string, rule: RpcRule | undefined, roles: Role[]): string {
  const action = RPC_ACTIONS.get(procedure) ?? "make this call";
  const who = roles.length > 0 ? list(roles.map((r) => ROLE_WORDS[r].one), "or") : "a sign-in without a role";
  const people = ROLES.filter((r) => r !== "service");
  const yes = people.filter((r) => rule?.[r] === "yes").map((r) => ROLE_WORDS[r].many);
  const own = people.filter((r) => rule?.[r] !== undefined && rule[r] !== "yes").map((r) => ROLE_WORDS[r].many);
  let instead: string;
  if (yes.length > 0) instead = `${list(yes)} do that${own.length > 0 ? `, and ${list(own)} for themselves` : ""}`;
  else if (own.length > 0) instead = `only ${list(own)} do that, for themselves`;
  else if (rule?.service) instead = `only ${ROLE_WORDS.service.many} do that`;
  else instead = "no one may, yet";
  return `${who} may not ${action}; ${instead}`;
}

/**
 * decide applies an RPC's rule to a caller: a "yes" grant of any of the caller's roles wins over an
 * "own" grant; an "own" grant with an owner field needs that request field to equal the subject.
 */
export function decide(rule: RpcRule | undefined, procedure: string, subject: string, roles: Role[], request: unknown): AuthDecision {
  const metadata = { role: roles.join(","), rpc: procedure };
  if (!rule) return { allowed: false, message: notAllowedMessage(procedure, rule, roles), reason: ROLE_NOT_ALLOWED, metadata };
  let ownGrant: { role: Role; grant: Exclude<Grant, "yes"> } | undefined;
  for (const role of roles) {
    const g = rule[role];
    if (g === "yes") return { allowed: true, role, ownOnly: false };
    if (g && !ownGrant) ownGrant = { role, grant: g };
  }
  if (!ownGrant) return { allowed: false, message: notAllowedMessage(procedure, rule, roles), reason: ROLE_NOT_ALLOWED, metadata };
  const field = ownGrant.grant.ownerField;
  if (field) {
    const value = (request as Record<string, unknown> | undefined)?.[field];
    if (value !== subject) {
      return {
        allowed: false,
        message: `${ROLE_WORDS[ownGrant.role].one} may ${RPC_ACTIONS.get(procedure) ?? "make this call"} only for themselves: ${field} must be your own id`,
        reason: OWN_RECORDS_ONLY,
        metadata: { ...metadata, field },
      };
    }
  }
  return { allowed: true, role: ownGrant.role, ownOnly: !field };
}

/**
 * createAuthInterceptor authenticates every call but those to health and reflection with a bearer JWT,
 * enforces ROLE_TABLE, and puts the Principal in the context (with the token's locations). With
 * `requireLocations` (AUTH_REQUIRE_LOCATIONS) a receptionist's or doctor's token without them is
 * refused. With mode "off" every caller is an anonymous admin (only ever set explicitly, and logged
 * loudly at start).
 */
export function createAuthInterceptor(opts: {
  mode: "jwt" | "off";
  requireLocations?: boolean;
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
      if (!decision.allowed) throw new PermissionDeniedError(decision.message, decision.reason, { metadata: decision.metadata });
      if (opts.requireLocations) checkLocationsRequired(decision.role, verified.roles, verified.locations);
      const onBehalfOf = verified.roles.includes("service") ? call.ctx.requestHeader.get("x-on-behalf-of") ?? undefined : undefined;
      const principal: Principal = {
        subject: verified.subject,
        roles: verified.roles,
        grantedRole: decision.role,
        ownOnly: decision.ownOnly,
        onBehalfOf,
        locations: verified.locations,
        token,
      };
      call.ctx.values.set(principalKey, principal);
    },
  };
}
