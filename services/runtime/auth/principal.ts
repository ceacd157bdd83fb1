import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Role } from "./role-table.js";

/** Principal is the authenticated caller of an RPC. */
export interface Principal {
  /** subject is the token's `sub`: a patientId for patients, a providerId for doctors. */
  subject: string;
  /** roles from the token's `roles` claim. */
  roles: Role[];
  /** grantedRole is the role under which the call was allowed. */
  grantedRole: Role;
  /** ownOnly is true when the call was allowed only for the caller's own records, which the handler must check. */
  ownOnly: boolean;
  /** onBehalfOf is the end user a service acts for (x-on-behalf-of), for the audit trail. */
  onBehalfOf?: string;
  /** locations are the token's `locations` claim (location ids); undefined when it has none (location-scope.ts). */
  locations?: readonly string[];
  /** token is the raw bearer token, for forwarding. */
  token?: string;
}

/** principalKey holds the caller in the HandlerContext's values. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

/** getPrincipal returns the authenticated caller of this call (undefined on public services). */
export function getPrincipal(ctx: HandlerContext): Principal | undefined {
  return ctx.values.get(principalKey);
}
