// Rows of issue 20's clinic model written straight into the scheduling schema, for tests that set up
// a visit type, a location or a capable room without going through their RPCs (tests of the RPCs
// themselves use them).
import { sql, type Kysely } from "kysely";

/** TestVisitType is a visit type row's settable part (minutes; 0 = no rule); everything else has its default. */
export interface TestVisitType {
  visitTypeId: string;
  providerIds: string[];
  locationId?: string;
  displayName?: string;
  durationMinutes?: number;
  bufferBeforeMinutes?: number;
  bufferAfterMinutes?: number;
  requiredCapabilities?: string[];
  patientBookable?: boolean;
  minNoticeMinutes?: number;
  horizonMinutes?: number;
  patientCancelCutoffMinutes?: number;
  maxPerPatientPerDay?: number;
}

/** insertVisitType adds a visit type (patient-bookable, 15 minutes, at location `default` unless told); returns its id. */
export async function insertVisitType(db: Kysely<any>, vt: TestVisitType): Promise<string> {
  await sql`insert into scheduling.visit_types (visit_type_id, location_id, display_name, duration_minutes, buffer_before_minutes, buffer_after_minutes,
      provider_ids, required_capabilities, patient_bookable, min_notice_minutes, horizon_minutes, patient_cancel_cutoff_minutes, max_per_patient_per_day, created_at, updated_at)
    values (${vt.visitTypeId}, ${vt.locationId ?? "default"}, ${vt.displayName ?? `Visit ${vt.visitTypeId}`}, ${vt.durationMinutes ?? 15}, ${vt.bufferBeforeMinutes ?? 0},
      ${vt.bufferAfterMinutes ?? 0}, ${vt.providerIds}::text[], ${vt.requiredCapabilities ?? []}::text[], ${vt.patientBookable ?? true}, ${vt.minNoticeMinutes ?? 0},
      ${vt.horizonMinutes ?? 0}, ${vt.patientCancelCutoffMinutes ?? 0}, ${vt.maxPerPatientPerDay ?? 0}, now(), now())`.execute(db);
  return vt.visitTypeId;
}

/** setCapabilities gives a room or device its capabilities. */
export async function setCapabilities(db: Kysely<any>, resourceId: string, capabilities: string[]): Promise<void> {
  await sql`update scheduling.resources set capabilities = ${capabilities}::text[] where resource_id = ${resourceId}`.execute(db);
}

/** insertLocation writes a location row directly. */
export async function insertLocation(db: Kysely<any>, locationId: string, timeZone = "UTC"): Promise<void> {
  await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at) values (${locationId}, ${`Clinic ${locationId}`}, ${timeZone}, now())`.execute(db);
}

/** insertCapableResource writes a room with capabilities at a location directly. */
export async function insertCapableResource(db: Kysely<any>, resourceId: string, capabilities: string[], locationId = "default"): Promise<void> {
  await sql`insert into scheduling.resources (resource_id, display_name, kind, location_id, capabilities, created_at)
    values (${resourceId}, ${`Room ${resourceId}`}, 'ROOM', ${locationId}, ${capabilities}::text[], now())`.execute(db);
}
