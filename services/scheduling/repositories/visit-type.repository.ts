import { sql } from "kysely";
import type { Db } from "../db/database.js";
import type { VisitTypeRow } from "../db/visit-type.table.js";
import { ACTIVE } from "./appointment.sql.js";

/** findVisitType reads one visit type. */
export async function findVisitType(db: Db, visitTypeId: string): Promise<VisitTypeRow | undefined> {
  return db.selectFrom("scheduling.visit_types").selectAll().where("visit_type_id", "=", visitTypeId).executeTakeFirst();
}

/**
 * countPatientVisitsOfType counts a patient's active appointments of a visit type that start in
 * [from, to) (one local day), leaving out `excluding` (the appointment being moved).
 */
export async function countPatientVisitsOfType(
  db: Db,
  q: { patientId: string; visitTypeId: string; from: Date; to: Date; excluding?: string },
): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments a
    where a.patient_id = ${q.patientId} and a.visit_type_id = ${q.visitTypeId} and a.status in ${ACTIVE}
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
