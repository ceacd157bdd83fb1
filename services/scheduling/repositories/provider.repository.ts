import { sql } from "kysely";
import type { AvailabilityRow } from "../db/availability.table.js";
import type { Db } from "../db/database.js";
import type { ProviderRow } from "../db/provider.table.js";
import type { ResourceRow } from "../db/resource.table.js";

/** insertProvider inserts a provider; undefined when the id exists already. */
export async function insertProvider(db: Db, row: Omit<ProviderRow, "last_sequence">): Promise<ProviderRow | undefined> {
  return db
    .insertInto("scheduling.providers")
    .values({ ...row, last_sequence: 0 })
    .onConflict((oc) => oc.column("provider_id").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** findProvider reads a provider. */
export async function findProvider(db: Db, providerId: string, opts: { forUpdate?: boolean } = {}): Promise<ProviderRow | undefined> {
  let q = db.selectFrom("scheduling.providers").selectAll().where("provider_id", "=", providerId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** findProviders reads several providers. */
export async function findProviders(db: Db, providerIds: string[]): Promise<ProviderRow[]> {
  if (providerIds.length === 0) return [];
  return db.selectFrom("scheduling.providers").selectAll().where("provider_id", "in", providerIds).execute();
}

/**
 * listProviders pages providers by display name, then id; with `locationId`, only the providers of
 * that location: their own, or named by one of their weekly-hours entries.
 */
export async function listProviders(db: Db, locationId: string | undefined, after: { name: string; id: string } | undefined, limit: number): Promise<ProviderRow[]> {
  let q = db.selectFrom("scheduling.providers as p").selectAll("p");
  if (locationId !== undefined) {
    const named = sql<boolean>`exists (select 1 from scheduling.availability av
      where av.provider_id = p.provider_id and av.weekly_hours @> jsonb_build_array(jsonb_build_object('locationId', ${locationId}::text)))`;
    q = q.where((eb) => eb.or([eb("p.location_id", "=", locationId), named]));
  }
  if (after) q = q.where((eb) => eb.or([eb("display_name", ">", after.name), eb.and([eb("display_name", "=", after.name), eb("provider_id", ">", after.id)])]));
  return q.orderBy("display_name").orderBy("provider_id").limit(limit).execute();
}

/** insertResource inserts a room or device; undefined when the id exists already. */
export async function insertResource(db: Db, row: ResourceRow): Promise<ResourceRow | undefined> {
  return db
    .insertInto("scheduling.resources")
    .values(row)
    .onConflict((oc) => oc.column("resource_id").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** findResources reads resources by id. */
export async function findResources(db: Db, resourceIds: string[]): Promise<ResourceRow[]> {
  if (resourceIds.length === 0) return [];
  return db.selectFrom("scheduling.resources").selectAll().where("resource_id", "in", resourceIds).execute();
}

/** listResources pages resources by display name, then id, optionally of one kind and at one location. */
export async function listResources(
  db: Db,
  filter: { kind: ResourceRow["kind"] | undefined; locationId: string | undefined },
  after: { name: string; id: string } | undefined,
  limit: number,
): Promise<ResourceRow[]> {
  let q = db.selectFrom("scheduling.resources").selectAll();
  if (filter.kind) q = q.where("kind", "=", filter.kind);
  if (filter.locationId !== undefined) q = q.where("location_id", "=", filter.locationId);
  if (after) q = q.where((eb) => eb.or([eb("display_name", ">", after.name), eb.and([eb("display_name", "=", after.name), eb("resource_id", ">", after.id)])]));
  return q.orderBy("display_name").orderBy("resource_id").limit(limit).execute();
}

/** upsertAvailability replaces a provider's availability. */
export async function upsertAvailability(
  db: Db,
  row: { provider_id: string; weekly_hours: unknown; breaks: unknown; exceptions: unknown; slot_minutes: number; buffer_minutes: number; updated_at: Date },
): Promise<AvailabilityRow> {
  const values = {
    ...row,
    weekly_hours: JSON.stringify(row.weekly_hours),
    breaks: JSON.stringify(row.breaks),
    exceptions: JSON.stringify(row.exceptions),
  };
  return db
    .insertInto("scheduling.availability")
    .values(values)
    .onConflict((oc) =>
      oc.column("provider_id").doUpdateSet({
        weekly_hours: values.weekly_hours,
        breaks: values.breaks,
        exceptions: values.exceptions,
        slot_minutes: values.slot_minutes,
        buffer_minutes: values.buffer_minutes,
        updated_at: values.updated_at,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** findAvailability reads a provider's availability. */
export async function findAvailability(db: Db, providerId: string): Promise<AvailabilityRow | undefined> {
  return db.selectFrom("scheduling.availability").selectAll().where("provider_id", "=", providerId).executeTakeFirst();
}
