// scheduling.location_changes: the WatchAppointments change log of each location, numbered per
// location (locations.last_sequence) after the commit. A trigger on scheduling.appointments writes it
// (migration 2026-12-07T1210); this file stamps and reads it.
import { sql } from "kysely";
import { ChangeLog } from "../../runtime/db/change-log.js";
import type { Db } from "../db/database.js";
import type { LocationChangeRow } from "../db/location-change.table.js";
import type { LocationRow } from "../db/location.table.js";

/** LOCATION_CHANGES_CHANNEL is the Postgres NOTIFY channel of location streams; the payload is the location id. */
export const LOCATION_CHANGES_CHANNEL = "medschedule_scheduling_location_changes";

/** stampLocationChanges numbers up to `limit` pending changes of each location (scheduling.stamp_location_changes); returns how many of which. */
export async function stampLocationChanges(db: Db, limit: number): Promise<{ locationId: string; count: number }[]> {
  const { rows } = await sql<{ location_id: string; stamped: number }>`select location_id, stamped from scheduling.stamp_location_changes(${limit})`.execute(db);
  return rows.map((r) => ({ locationId: r.location_id, count: Number(r.stamped) }));
}

/** LOCATION_CHANGE_LOG is scheduling.location_changes, read as every service reads its change log (runtime/db/change-log.ts): stamped rows only. */
export const LOCATION_CHANGE_LOG = new ChangeLog<LocationChangeRow>("scheduling.location_changes", "location_id");

/** pruneLocationChanges deletes stamped changes older than `before` (pending ones wait for their sequence); returns how many. */
export async function pruneLocationChanges(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom("scheduling.location_changes").where("at", "<", before).where("sequence", "is not", null).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** findLocationsById reads locations by id (their zone and last sequence). */
export async function findLocationsById(db: Db, locationIds: string[]): Promise<LocationRow[]> {
  if (locationIds.length === 0) return [];
  return db.selectFrom("scheduling.locations").selectAll().where("location_id", "in", locationIds).execute();
}
