import { sql } from "kysely";
import type { Db } from "../db/database.js";
import type { VisitTypeRow } from "../db/visit-type.table.js";
import { ACTIVE, liveAt } from "./appointment.sql.js";

/** findVisitType reads one visit type. */
export async function findVisitType(db: Db, visitTypeId: string): Promise<VisitTypeRow | undefined> {
  return db.selectFrom("scheduling.visit_types").selectAll().where("visit_type_id", "=", visitTypeId).executeTakeFirst();
}

/**
 * countPatientVisitsOfType counts a patient's active appointments of a visit type that start in
 * [from, to) (one local day), leaving out `excluding` (the appointment being moved) and holds lapsed at `now`.
 */
export async function countPatientVisitsOfType(
  db: Db,
  q: { patientId: string; visitTypeId: string; from: Date; to: Date; excluding?: string; now: Date },
): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments a
    where a.patient_id = ${q.patientId} and a.visit_type_id = ${q.visitTypeId} and a.status in ${ACTIVE} and ${liveAt("a", q.now)}
      and lower(a.during) >= ${q.from} and lower(a.during) < ${q.to}
      and a.appointment_id is distinct from ${q.excluding ?? null}::text`.execute(db);
  return Number(rows[0].n);
}

/** CapableResource is a room or device with its capabilities. */
export interface CapableResource {
  /** resource_id is the id. */
  resource_id: string;
  /** capabilities it has. */
  capabilities: string[];
}

/** resourcesWithCapabilities lists the rooms and devices of a location having any of `capabilities`, by id. */
export async function resourcesWithCapabilities(db: Db, locationId: string, capabilities: string[]): Promise<CapableResource[]> {
  if (capabilities.length === 0) return [];
  return db
    .selectFrom("scheduling.resources")
    .select(["resource_id", "capabilities"])
    .where("location_id", "=", locationId)
    .where(sql<boolean>`capabilities && ${capabilities}::text[]`)
    .orderBy("resource_id")
    .execute();
}

/** findVisitTypeForUpdate reads one visit type and locks its row for the rest of the transaction (UpdateVisitType). */
export async function findVisitTypeForUpdate(db: Db, visitTypeId: string): Promise<VisitTypeRow | undefined> {
  return db.selectFrom("scheduling.visit_types").selectAll().where("visit_type_id", "=", visitTypeId).forUpdate().executeTakeFirst();
}

/** insertVisitType inserts a visit type; undefined when the id exists already. */
export async function insertVisitType(db: Db, row: VisitTypeRow): Promise<VisitTypeRow | undefined> {
  return db
    .insertInto("scheduling.visit_types")
    .values(row)
    .onConflict((oc) => oc.column("visit_type_id").doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** replaceVisitType writes every column of a visit type read before (its id stays). */
export async function replaceVisitType(db: Db, row: VisitTypeRow): Promise<VisitTypeRow> {
  const { visit_type_id, ...rest } = row;
  return db.updateTable("scheduling.visit_types").set(rest).where("visit_type_id", "=", visit_type_id).returningAll().executeTakeFirstOrThrow();
}

/** listVisitTypes pages visit types by display name, then id, of a location and/or offered by a provider. */
export async function listVisitTypes(
  db: Db,
  q: { locationIds: readonly string[] | undefined; providerId: string | undefined; after: { name: string; id: string } | undefined; limit: number },
): Promise<VisitTypeRow[]> {
  let s = db.selectFrom("scheduling.visit_types").selectAll();
  if (q.locationIds !== undefined) {
    if (q.locationIds.length === 0) return [];
    s = s.where("location_id", "in", [...q.locationIds]);
  }
  if (q.providerId !== undefined) s = s.where(sql<boolean>`${q.providerId}::text = any(provider_ids)`);
  const after = q.after;
  if (after) s = s.where((eb) => eb.or([eb("display_name", ">", after.name), eb.and([eb("display_name", "=", after.name), eb("visit_type_id", ">", after.id)])]));
  return s.orderBy("display_name").orderBy("visit_type_id").limit(q.limit).execute();
}

/** busyResources are those of `resourceIds` booked (actively) at some time in [from, to), leaving out the bookings of appointment `excluding`. */
export async function busyResources(db: Db, resourceIds: string[], from: Date, to: Date, excluding?: string): Promise<Set<string>> {
  if (resourceIds.length === 0) return new Set();
  const { rows } = await sql<{ resource_id: string }>`select distinct x.resource_id from scheduling.appointment_resources x
    where x.resource_id = any(${resourceIds}::text[]) and x.active and x.during && tstzrange(${from}::timestamptz, ${to}::timestamptz, '[)')
      and x.appointment_id is distinct from ${excluding ?? null}::text`.execute(db);
  return new Set(rows.map((r) => r.resource_id));
}
