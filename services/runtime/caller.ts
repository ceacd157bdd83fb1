import type { HandlerContext } from "@connectrpc/connect";
import { getPrincipal } from "./auth/principal.js";

/**
 * Caller is who made a call, as handlers use it: whose records they may touch (`ownOnly`), which
 * requestIds are theirs (`subject`), and what the audit trail records (subject, role, onBehalfOf).
 */
export interface Caller {
  /** subject is the token's subject: a patientId for patients, a providerId for doctors; "system" for the service's own work. */
  subject: string;
  /** role is the role the call was allowed under ("system" for the service's own work). */
  role: string;
  /** roles are every role of the token (empty for the service's own work). */
  roles: readonly string[];
  /** ownOnly is true when the role table allowed the call for the caller's own records only. */
  ownOnly: boolean;
  /** onBehalfOf is the end user a service acted for (x-on-behalf-of), for the audit trail. */
  onBehalfOf: string | undefined;
}

/** SYSTEM_CALLER is a call with no principal: the service's own work, or an in-process call without authentication. */
export const SYSTEM_CALLER: Caller = Object.freeze({ subject: "system", role: "system", roles: [], ownOnly: false, onBehalfOf: undefined });

/** callerOf is the caller of an RPC from its principal (SYSTEM_CALLER when there is none, or no context). */
export function callerOf(ctx: HandlerContext | undefined): Caller {
  const p = ctx ? getPrincipal(ctx) : undefined;
  if (!p) return SYSTEM_CALLER;
  return { subject: p.subject, role: p.grantedRole, roles: p.roles, ownOnly: p.ownOnly, onBehalfOf: p.onBehalfOf };
}

/**
 * isTrustedCaller tells whether a caller is another service of this system (the service role) or the
 * service's own work (role "system", which no token can carry): only they act for appointments.
 */
export function isTrustedCaller(caller: Caller): boolean {
  return caller.role === SYSTEM_CALLER.role || caller.roles.includes("service");
}
