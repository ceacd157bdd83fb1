import { sql, type RawBuilder } from "kysely";
import type { DateRange } from "../availability.validation.js";
import type { Db } from "../db/database.js";
import type { LocationRow } from "../db/location.table.js";
import type { ScheduleLocation } from "../slots.js";

/** DEFAULT_LOCATION_ID is the location holding everything created without one (the migration creates it). */
export const DEFAULT_LOCATION_ID = "default";

/** NewLocation is a location to insert. */
export interface NewLocation {
  location_id: string;
  display_name: string;
  time_zone: string;
  address: string;
  closures: DateRange[];
  created_at: Date;
}

/** insertLocation inserts a location (updated_at: its creation); undefined when the id exists already. */
export async function insertLocation(db: Db, row: NewLocation): Promise<LocationRow | undefined> {
  const values = { ...row, closures: JSON.stringify(row.closures), updated_at: row.created_at };
  const [inserted] = await db.insertInto("scheduling.locations").values(values).onConflict((oc) => oc.doNothing()).returningAll().execute();
  return inserted;
}

/** findLocation reads a location (`forUpdate`: locked until the transaction ends). */
export async function findLocation(db: Db, locationId: string, opts: { forUpdate?: boolean } = {}): Promise<LocationRow | undefined> {
  let q = db.selectFrom("scheduling.locations").selectAll().where("location_id", "=", locationId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** findLocations reads several locations by id. */
export async function findLocations(db: Db, locationIds: readonly string[]): Promise<LocationRow[]> {
  if (locationIds.length === 0) return [];
  return db.selectFrom("scheduling.locations").selectAll().where("location_id", "in", [...locationIds]).execute();
}

/** listLocations pages locations by display name, then id. */
export async function listLocations(db: Db, after: { name: string; id: string } | undefined, limit: number, locationIds?: readonly string[]): Promise<LocationRow[]> {
  let q = db.selectFrom("scheduling.locations").selectAll();
  if (locationIds) {
    if (locationIds.length === 0) return [];
    q = q.where("location_id", "in", [...locationIds]);
  }
  if (after) q = q.where((eb) => eb.or([eb("display_name", ">", after.name), eb.and([eb("display_name", "=", after.name), eb("location_id", ">", after.id)])]));
  return q.orderBy("display_name").orderBy("location_id").limit(limit).execute();
}

/** LocationChange is what an update sets: only the fields present change; updated_at always. */
export interface LocationChange {
  display_name?: string;
  time_zone?: string;
  address?: string;
  closures?: DateRange[];
  updated_at: Date;
}

/** updateLocation changes a location; undefined when it does not exist. */
export async function updateLocation(db: Db, locationId: string, change: LocationChange): Promise<LocationRow | undefined> {
  const { closures, ...rest } = change;
  return db
    .updateTable("scheduling.locations")
    .set({ ...rest, ...(closures === undefined ? {} : { closures: JSON.stringify(closures) }) })
    .where("location_id", "=", locationId)
    .returningAll()
    .executeTakeFirst();
}

/**
 * followConfiguredZone sets the default location's zone to the configured one while no administrator
 * has changed the location (updated_at null); once one has, their zone stays. Returns whether it changed.
 */
export async function followConfiguredZone(db: Db, timeZone: string): Promise<boolean> {
  const r = await sql`update scheduling.locations set time_zone = ${timeZone}
    where location_id = ${DEFAULT_LOCATION_ID} and updated_at is null and time_zone <> ${timeZone}`.execute(db);
  return Number(r.numAffectedRows ?? 0n) > 0;
}

/** ScheduleLocations are the locations of a provider's weekly hours by id, as the slot engine needs them. */
export type ScheduleLocations = Record<string, ScheduleLocation>;

/**
 * scheduleLocationsSql is an expression selecting, as one jsonb object by location id ({displayName,
 * timeZone, closures}), the locations a provider's weekly hours are worked at: its own
 * (`providerLocation`) and every one an entry of `weeklyHours` (jsonb, possibly null) names. An
 * expression, so that the booking path reads it in its one statement (booking.repository.ts).
 */
export function scheduleLocationsSql(providerLocation: RawBuilder<unknown>, weeklyHours: RawBuilder<unknown>): RawBuilder<ScheduleLocations> {
  return sql<ScheduleLocations>`coalesce((select jsonb_object_agg(l.location_id, jsonb_build_object('displayName', l.display_name, 'timeZone', l.time_zone, 'closures', l.closures))
    from scheduling.locations l
    where l.location_id = ${providerLocation}
      or l.location_id in (select w->>'locationId' from jsonb_array_elements(coalesce(${weeklyHours}, '[]'::jsonb)) w)), '{}'::jsonb)`;
}

/** locationExists tells whether a location exists. */
export async function locationExists(db: Db, locationId: string): Promise<boolean> {
  return (await db.selectFrom("scheduling.locations").select("location_id").where("location_id", "=", locationId).executeTakeFirst()) !== undefined;
}

/** findScheduleLocations reads the locations of a provider's weekly hours (scheduleLocationsSql); none for an unknown provider. */
export async function findScheduleLocations(db: Db, providerId: string): Promise<ScheduleLocations> {
  const { rows } = await sql<{ locations: ScheduleLocations }>`
    select ${scheduleLocationsSql(sql`p.location_id`, sql`av.weekly_hours`)} as locations
    from scheduling.providers p left join scheduling.availability av on av.provider_id = p.provider_id
    where p.provider_id = ${providerId}`.execute(db);
  return rows[0]?.locations ?? {};
}
