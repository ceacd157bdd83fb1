// Locations: a clinic or branch with its name, address, IANA time zone and closures (whole local dates
// it is closed, such as public holidays: slots.ts removes every slot there on them). Providers, rooms
// and devices belong to one; a provider's weekly hours may name others it also works at.
//
// Why / how:
// * Create and update are idempotent by requestId: the key is claimed in the transaction's first
//   statement (booking.repository.ts claimAndFence, without a fence: no provider's time is taken) and
//   its response stored before commit, so a retry answers as the first call did. A create with a
//   client-chosen id that exists returns it when its details are the ones sent, ALREADY_EXISTS
//   LOCATION_EXISTS otherwise; nothing is half-written (one transaction, audit row included).
// * The `default` location, into which the schema moved every provider, room and appointment made
//   before locations existed, follows SCHEDULING_DEFAULT_TIME_ZONE until an administrator changes it:
//   its updated_at stays null till then, and the service sets its zone at start only while it is.
import { randomUUID } from "node:crypto";
import { create, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  CreateLocationResponseSchema,
  SchedulingService,
  UpdateLocationResponseSchema,
  type GetLocationResponseSchema,
  type ListLocationsResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditEntries } from "../runtime/audit.js";
import { listScope, requireLocation } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import { requestHash, RequestInProgressError, type RequestKey } from "../runtime/idempotency.js";
import { definePageKind, type PageTokens } from "../runtime/page-token.js";
import type { Db } from "./db/database.js";
import type { LocationRow } from "./db/location.table.js";
import { locationConflictError, locationExistsError, locationNotFoundError } from "./location.errors.js";
import type { ValidCreateLocation, ValidUpdateLocation, validateGetLocation, validateListLocations } from "./locations.validation.js";
import { closuresOf, toLocation } from "./mappers/location.mapper.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { claimAndFence } from "./repositories/booking.repository.js";
import { findLocation, findLocations, followConfiguredZone, insertLocation, listLocations, updateLocation } from "./repositories/location.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";

/** LOCATIONS_PAGE is ListLocations' page token: the locations after (display name, id). */
export const LOCATIONS_PAGE = definePageKind(SchedulingService.method.listLocations, { name: "text", id: "text" });

/** requireLocations checks that every named location exists (NOT_FOUND LOCATION_NOT_FOUND naming the first missing one and its field). */
export async function requireLocations(db: Db, named: readonly { locationId: string; field: string }[]): Promise<void> {
  if (named.length === 0) return;
  const found = new Set((await findLocations(db, [...new Set(named.map((n) => n.locationId))])).map((l) => l.location_id));
  const missing = named.find((n) => !found.has(n.locationId));
  if (missing) throw locationNotFoundError(missing.locationId, missing.field);
}

/** Locations serves the location RPCs (see the file comment). */
export class Locations {
  /** started settles once the default location's zone has been brought in line with the configuration (a failure is logged). */
  private readonly started: Promise<void>;

  constructor(
    private readonly c: SchedulingContext,
    private readonly pageTokens: PageTokens,
  ) {
    this.started = followConfiguredZone(c.db, c.options.defaultTimeZone).then(
      (changed) => void (changed && c.logger?.info({ timeZone: c.options.defaultTimeZone }, "scheduling: the default location follows SCHEDULING_DEFAULT_TIME_ZONE")),
      (err: unknown) => c.logger?.warn({ err }, "scheduling: setting the default location's time zone failed; it keeps its zone until the next start"),
    );
  }

  /** ready settles once the start-up work is done (close waits for it; reads too, so none sees the zone before it was set). */
  ready(): Promise<void> {
    return this.started;
  }

  /** createLocation adds a location; with a client-chosen id a retry returns the existing one (LOCATION_EXISTS when its details differ). */
  async createLocation(v: ValidCreateLocation, ctx: HandlerContext): Promise<MessageInitShape<typeof CreateLocationResponseSchema>> {
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "CreateLocation", requestId: v.requestId };
    const hash = requestHash([v.locationId ?? "", v.displayName, v.timeZone, v.address, v.closures]);
    const locationId = v.locationId ?? `l-${randomUUID()}`;
    // An administrator limited to some locations may not add others.
    requireLocation(ctx, locationId);
    const now = this.c.clock.now();
    return this.write(key, hash, now, CreateLocationResponseSchema, async (trx) => {
      const fields = { display_name: v.displayName, time_zone: v.timeZone, address: v.address, closures: v.closures };
      const row = (await insertLocation(trx, { location_id: locationId, ...fields, created_at: now })) ?? (await findLocation(trx, locationId));
      if (!row) throw locationConflictError();
      const same = row.display_name === v.displayName && row.time_zone === v.timeZone && row.address === v.address && JSON.stringify(closuresOf(row)) === JSON.stringify(v.closures);
      if (!same) throw locationExistsError(locationId);
      await AUDIT_LOG.append(trx, auditEntries(caller, "CreateLocation", now, "location", [row.location_id]));
      return create(CreateLocationResponseSchema, { location: toLocation(row) });
    });
  }

  /** getLocation reads one location. */
  async getLocation(v: ReturnType<typeof validateGetLocation>, ctx: HandlerContext): Promise<MessageInitShape<typeof GetLocationResponseSchema>> {
    await this.started;
    requireLocation(ctx, v.locationId);
    const row = await findLocation(this.c.db, v.locationId);
    if (!row) throw locationNotFoundError(v.locationId);
    return { location: toLocation(row) };
  }

  /** listLocations pages through locations by display name (a location-scoped caller's only). */
  async listLocations(v: ReturnType<typeof validateListLocations>, ctx: HandlerContext): Promise<MessageInitShape<typeof ListLocationsResponseSchema>> {
    await this.started;
    const rows = await listLocations(this.c.db, this.pageTokens.open(LOCATIONS_PAGE, v.pageToken), v.pageSize + 1, listScope(ctx, undefined));
    const { page, nextPageToken } = this.pageTokens.page(LOCATIONS_PAGE, rows, v.pageSize, (l) => ({ name: l.display_name, id: l.location_id }));
    return { locations: page.map(toLocation), nextPageToken };
  }

  /** updateLocation changes the fields the update mask names; from then on `default` keeps the zone it was given. */
  async updateLocation(v: ValidUpdateLocation, ctx: HandlerContext): Promise<MessageInitShape<typeof UpdateLocationResponseSchema>> {
    await this.started;
    requireLocation(ctx, v.locationId);
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "UpdateLocation", requestId: v.requestId };
    const hash = requestHash([v.locationId, v.change]);
    const now = this.c.clock.now();
    const c = v.change;
    return this.write(key, hash, now, UpdateLocationResponseSchema, async (trx) => {
      const row: LocationRow | undefined = await updateLocation(trx, v.locationId, {
        display_name: c.displayName,
        time_zone: c.timeZone,
        address: c.address,
        closures: c.closures,
        updated_at: now,
      });
      if (!row) throw locationNotFoundError(v.locationId, "location.locationId");
      await AUDIT_LOG.append(trx, auditEntries(caller, "UpdateLocation", now, "location", [row.location_id]));
      return create(UpdateLocationResponseSchema, { location: toLocation(row) });
    });
  }

  /**
   * write runs a location write in one transaction: the requestId claimed first (a committed key
   * answers with its stored response), then `fn`, whose response is stored with the key.
   */
  private async write<S extends DescMessage>(key: RequestKey, hash: string, at: Date, schema: S, fn: (trx: Db) => Promise<MessageShape<S>>): Promise<MessageShape<S>> {
    const { writes } = this.c;
    return writes.transaction(async (trx) => {
      const claim = await claimAndFence(trx, { key, hash, at, fence: undefined, lockTimeoutMs: writes.lockTimeoutMs });
      if (!claim.claimed) {
        const existing = await REQUEST_KEYS.find(trx, key);
        if (!existing) throw new RequestInProgressError();
        return this.c.reasons.replay(schema, key, hash, existing);
      }
      const response = await fn(trx);
      await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(schema, response)));
      return response;
    }, { claims: true });
  }
}
