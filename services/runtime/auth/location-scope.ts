// Location-scoped staff (issue 20): a token may carry `locations`, the location ids its holder works
// at. A receptionist, doctor, administrator or display board whose token has them sees and acts only
// there; a token without the claim sees every location (unless AUTH_REQUIRE_LOCATIONS refuses it at
// sign-in: auth-interceptor.ts). Patients are never scoped (their own records are, wherever they
// are), nor are the services (they act for a caller already checked) or calls with no principal.
// Every service asks here, so the rule is written once: scopeOf for lists, requireLocation for one
// record, listScope for a list that may name a location.
import type { HandlerContext } from "@connectrpc/connect";
import { PermissionDeniedError } from "../errors.js";
import { getPrincipal, type Principal } from "./principal.js";
import type { Role } from "./role-table.js";

/** DEFAULT_LOCATION_ID is the location every record without one belongs to; it always exists. */
export const DEFAULT_LOCATION_ID = "default";

/** OUTSIDE_YOUR_LOCATIONS is the ErrorInfo reason of a record at a location the caller's token does not list. */
export const OUTSIDE_YOUR_LOCATIONS = "OUTSIDE_YOUR_LOCATIONS";

/** LOCATIONS_REQUIRED is the ErrorInfo reason of a staff token without `locations` where AUTH_REQUIRE_LOCATIONS is set. */
export const LOCATIONS_REQUIRED = "LOCATIONS_REQUIRED";

/** LOCATION_SCOPED_ROLES are the roles a `locations` claim limits. */
export const LOCATION_SCOPED_ROLES: readonly Role[] = ["receptionist", "doctor", "admin", "display"];

/** LOCATIONS_REQUIRED_ROLES are the roles AUTH_REQUIRE_LOCATIONS refuses without a `locations` claim (administrators are exempt: they set locations up). */
export const LOCATIONS_REQUIRED_ROLES: readonly Role[] = ["receptionist", "doctor"];

/** LocationScope is where a caller may see and act: everywhere, or only at the listed locations. */
export type LocationScope = { all: true } | { all: false; locations: ReadonlySet<string> };

const ALL: LocationScope = Object.freeze({ all: true });

/**
 * scopeOfPrincipal is a principal's scope: its token's locations when the role it was allowed under
 * is scoped and the token is not also a service's; everywhere otherwise.
 */
export function scopeOfPrincipal(p: Principal | undefined): LocationScope {
  if (!p?.locations || p.roles.includes("service") || !LOCATION_SCOPED_ROLES.includes(p.grantedRole)) return ALL;
  return { all: false, locations: new Set(p.locations) };
}

/** scopeOf is the scope of the caller of an RPC (everywhere for a call without a principal). */
export function scopeOf(ctx: HandlerContext | undefined): LocationScope {
  return scopeOfPrincipal(ctx ? getPrincipal(ctx) : undefined);
}

/** inScope tells whether a location is in a scope. */
export function inScope(scope: LocationScope, locationId: string): boolean {
  return scope.all || scope.locations.has(locationId);
}

/**
 * OutsideYourLocationsError is PERMISSION_DENIED for a record (`what`, e.g. "this queue") at a
 * location the caller's token does not list, or for that location itself (`what` undefined). No ids
 * in the words; the location in metadata.
 */
export class OutsideYourLocationsError extends PermissionDeniedError {
  constructor(what: string | undefined, locationId: string) {
    const subject = what ? `${what} is at a location you do not work at` : "you do not work at this location";
    super(`${subject}; ask staff there, or an administrator to add the location to your sign-in`, OUTSIDE_YOUR_LOCATIONS, { metadata: { locationId } });
  }
}

/**
 * checkLocationsRequired is AUTH_REQUIRE_LOCATIONS at sign-in: a call allowed as a receptionist or
 * doctor whose token has no `locations` claim is refused (PERMISSION_DENIED LOCATIONS_REQUIRED: the
 * token is valid, signing in again does not help; an administrator must add the locations).
 */
export function checkLocationsRequired(grantedRole: Role, roles: readonly Role[], locations: readonly string[] | undefined): void {
  if (locations || roles.includes("service") || !LOCATIONS_REQUIRED_ROLES.includes(grantedRole)) return;
  throw new PermissionDeniedError("your sign-in does not say which locations you work at, and this clinic requires it; ask an administrator to add your locations to your account", LOCATIONS_REQUIRED, {
    metadata: { role: grantedRole },
  });
}

/**
 * requireLocation throws OutsideYourLocationsError unless the caller may act at `locationIds`: the
 * location, or, given several (a provider working at two locations), at least one of them. `what`
 * names the record in the message: "this queue", "this provider"; undefined: the location itself.
 */
export function requireLocation(ctx: HandlerContext | undefined, locationIds: string | readonly string[], what?: string): void {
  const scope = scopeOf(ctx);
  if (scope.all) return;
  const ids = typeof locationIds === "string" ? [locationIds] : locationIds;
  if (!ids.some((id) => scope.locations.has(id))) throw new OutsideYourLocationsError(what, ids[0] ?? DEFAULT_LOCATION_ID);
}

/**
 * listScope is what a list call filters by: the location the request names (undefined when it names
 * none), narrowed to the caller's scope. Undefined means every location; a list means only those.
 * Naming a location outside the scope is OutsideYourLocationsError, not a silently empty list.
 */
export function listScope(ctx: HandlerContext | undefined, requested: string | undefined): readonly string[] | undefined {
  const scope = scopeOf(ctx);
  if (requested !== undefined) {
    if (!inScope(scope, requested)) throw new OutsideYourLocationsError(undefined, requested);
    return [requested];
  }
  return scope.all ? undefined : [...scope.locations];
}
