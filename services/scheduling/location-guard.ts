/**
 * Location-scoped staff in the scheduling service (issue 20; the rule itself is
 * runtime/auth/location-scope.ts): a caller whose token lists locations reaches a provider only if
 * it works at one of them (its own location or one its weekly hours name), an appointment only if
 * it takes place at one of them, a room or device only there, and creates or names only those
 * locations. Lists are filtered with
 * listScope. Records that do not exist are left to the call (NOT_FOUND as before).
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { DEFAULT_LOCATION_ID, requireLocation, scopeOf } from "../runtime/auth/location-scope.js";
import type { Database } from "./db/database.js";
import { findAppointment } from "./repositories/appointment.repository.js";
import { findResources, providerLocations } from "./repositories/provider.repository.js";

/** ScopedRequest is what LocationGuard.check reads from a validated request: whichever of these it has. */
export interface ScopedRequest {
  /** appointmentId: the appointment's location must be the caller's. */
  appointmentId?: string;
  /** providerId: the provider must work at one of the caller's locations. */
  providerId?: string;
  /** locationId: a location the request names (empty: none). */
  locationId?: string;
  /** resourceIds: rooms and devices, each of which must be at one of the caller's locations. */
  resourceIds?: readonly string[];
  /** weeklyHours: working hours, whose entries may name a location (`locationId`, SetAvailability). */
  weeklyHours?: readonly object[];
}

/** LocationGuard checks a location-scoped caller against the records a request names. */
export class LocationGuard {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * check refuses (PERMISSION_DENIED OUTSIDE_YOUR_LOCATIONS) a request naming an appointment,
   * provider or location outside the caller's locations; nothing to do for an unscoped caller.
   */
  async check(ctx: HandlerContext, v: ScopedRequest): Promise<void> {
    if (scopeOf(ctx).all) return;
    if (v.locationId) requireLocation(ctx, v.locationId);
    for (const entry of v.weeklyHours ?? []) {
      const at = (entry as { locationId?: unknown }).locationId;
      if (typeof at === "string" && at !== "") requireLocation(ctx, at);
    }
    if (v.providerId) {
      const locations = await providerLocations(this.db, v.providerId);
      if (locations) requireLocation(ctx, locations, "this provider");
    }
    for (const r of await findResources(this.db, [...(v.resourceIds ?? [])])) requireLocation(ctx, r.location_id, "this room or device");
    if (v.appointmentId) {
      const row = await findAppointment(this.db, v.appointmentId);
      if (row) requireLocation(ctx, row.location_id, "this appointment");
    }
  }

  /** checked is check, then the request itself (for handlers that pass it on). */
  async checked<V extends ScopedRequest>(ctx: HandlerContext, v: V): Promise<V> {
    await this.check(ctx, v);
    return v;
  }

  /** creating refuses creating a record (a provider, a room or device) at a location outside the caller's; empty is the default location. */
  creating(ctx: HandlerContext, locationId: string | undefined): void {
    requireLocation(ctx, locationId || DEFAULT_LOCATION_ID);
  }
}
