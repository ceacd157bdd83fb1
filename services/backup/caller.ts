import type { HandlerContext } from "@connectrpc/connect";
import { getPrincipal } from "../runtime/auth/principal.js";

/** Caller is who made a call, for idempotency scoping and the audit trail. */
export interface Caller {
  /** subject is the token's subject ("schedule" or "system" for the service's own work). */
  subject: string;
  /** role is the role the call was allowed under. */
  role: string;
  /** onBehalfOf is the end user a service acted for, when it said so. */
  onBehalfOf?: string;
}

/** SCHEDULE_CALLER is the in-process schedule, as StartBackup and retention record it. */
export const SCHEDULE_CALLER: Caller = { subject: "schedule", role: "system" };

/** callerOf is the caller of an RPC from its principal ("system" when there is none, as with authentication off). */
export function callerOf(ctx: HandlerContext): Caller {
  const p = getPrincipal(ctx);
  if (!p) return { subject: "system", role: "system" };
  return { subject: p.subject, role: p.grantedRole, onBehalfOf: p.onBehalfOf };
}
