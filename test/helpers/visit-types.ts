// Rows of issue 20's clinic model written straight into the scheduling schema, for tests that need a
// location, a visit type or a capable room before their CRUD RPCs exist (branches loc and vt).
import { sql, type Kysely } from "kysely";

/** TestVisitType is a visit type row's settable part (minutes; 0 = no rule). */
export interface TestVisitType {
  visitTypeId: string;
  locationId?: string;
  displayName?: string;
  durationMinutes: number;
  bufferBeforeMinutes?: number;
  bufferAfterMinutes?: number;
  providerIds: string[];
  requiredCapabilities?: string[];
  patientBookable?: boolean;
  minNoticeMinutes?: number;
  horizonMinutes?: number;
  patientCancelCutoffMinutes?: number;
  maxPerPatientPerDay?: number;
}

/** insertVisitType writes a visit type row directly (until CreateVisitType exists). */
export async function insertVisitType(db: Kysely<any>, vt: TestVisitType): Promise<void> {
  await sql`insert into scheduling.visit_types (visit_type_id, location_id, display_name, duration_minutes, buffer_before_minutes, buffer_after_minutes,
      provider_ids, required_capabilities, patient_bookable, min_notice_minutes, horizon_minutes, patient_cancel_cutoff_minutes, max_per_patient_per_day, created_at, updated_at)
    values (${vt.visitTypeId}, ${vt.locationId ?? "default"}, ${vt.displayName ?? `Visit ${vt.visitTypeId}`}, ${vt.durationMinutes}, ${vt.bufferBeforeMinutes ?? 0},
      ${vt.bufferAfterMinutes ?? 0}, ${vt.providerIds}::text[], ${vt.requiredCapabilities ?? []}::text[], ${vt.patientBookable ?? true}, ${vt.minNoticeMinutes ?? 0},
      ${vt.horizonMinutes ?? 0}, ${vt.patientCancelCutoffMinutes ?? 0}, ${vt.maxPerPatientPerDay ?? 0}, now(), now())`.execute(db);
}

/** insertLocation writes a location row directly (until CreateLocation exists). */
export async function insertLocation(db: Kysely<any>, locationId: string, timeZone = "UTC"): Promise<void> {
  await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at) values (${locationId}, ${`Clinic ${locationId}`}, ${timeZone}, now())`.execute(db);
}

/** insertCapableResource writes a room with capabilities at a location directly (CreateResource takes no capabilities yet). */
export async function insertCapableResource(db: Kysely<any>, resourceId: string, capabilities: string[], locationId = "default"): Promise<void> {
  await sql`insert into scheduling.resources (resource_id, display_name, kind, location_id, capabilities, created_at)
    values (${resourceId}, ${`Room ${resourceId}`}, 'ROOM', ${locationId}, ${capabilities}::text[], now())`.execute(db);
}
