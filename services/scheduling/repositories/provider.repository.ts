import { sql, type ExpressionBuilder, type Expression, type SqlBool } from "kysely";
import type { AvailabilityRow } from "../db/availability.table.js";
import type { Database, Db } from "../db/database.js";
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
 * providerLocations are the locations a provider works at: its own and those its weekly hours name
 * (entries may carry `locationId`); undefined when there is no such provider.
 */
export async function providerLocations(db: Db, providerId: string): Promise<string[] | undefined> {
  const { rows } = await sql<{ location_id: string; weekly: string[] | null }>`
    select p.location_id, (select array_agg(distinct e->>'locationId') from scheduling.availability a cross join lateral jsonb_array_elements(a.weekly_hours) e
                           where a.provider_id = p.provider_id and e->>'locationId' is not null) as weekly
      from scheduling.providers p where p.provider_id = ${providerId}`.execute(db);
  const row = rows[0];
  return row ? [...new Set([row.location_id, ...(row.weekly ?? [])])] : undefined;
}

/** worksAtAny is the condition "the provider works at one of `locationIds`" (providerLocations, in SQL). */
function worksAtAny(eb: ExpressionBuilder<Database, "scheduling.providers">, locationIds: readonly string[]): Expression<SqlBool> {
  return eb.or([
    eb("scheduling.providers.location_id", "in", [...locationIds]),
    sql<SqlBool>`exists (select 1 from scheduling.availability a cross join lateral jsonb_array_elements(a.weekly_hours) e
                          where a.provider_id = scheduling.providers.provider_id and e->>'locationId' = any(${[...locationIds]}::text[]))`,
  ]);
}

/**
 * listProviders pages providers by display name, then id; with `locationIds`, only those working at
 * one of them: their own location, or one named by a weekly-hours entry.
 */
export async function listProviders(db: Db, after: { name: string; id: string } | undefined, limit: number, locationIds?: readonly string[]): Promise<ProviderRow[]> {
  let q = db.selectFrom("scheduling.providers").selectAll();
  if (locationIds) {
    if (locationIds.length === 0) return [];
    q = q.where((eb) => worksAtAny(eb, locationIds));
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

/** listResources pages resources by display name, then id, optionally of one kind; with `locationIds`, only those at one of them. */
export async function listResources(
  db: Db,
  filter: { kind: ResourceRow["kind"] | undefined; locationIds: readonly string[] | undefined },
  after: { name: string; id: string } | undefined,
  limit: number,
): Promise<ResourceRow[]> {
  let q = db.selectFrom("scheduling.resources").selectAll();
  if (filter.locationIds) {
    if (filter.locationIds.length === 0) return [];
    q = q.where("location_id", "in", [...filter.locationIds]);
  }
  if (filter.kind) q = q.where("kind", "=", filter.kind);
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
