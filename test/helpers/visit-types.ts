// Visit types for tests, inserted straight into scheduling.visit_types (until CreateVisitType is
// built: then tests may create them through the RPC instead).
import { sql, type Kysely } from "kysely";

/** TestVisitType is what a test sets of a visit type; everything else has its default. */
export interface TestVisitType {
  visitTypeId: string;
  providerIds: string[];
  durationMinutes?: number;
  bufferBeforeMinutes?: number;
  bufferAfterMinutes?: number;
  requiredCapabilities?: string[];
  patientBookable?: boolean;
  minNoticeMinutes?: number;
  horizonMinutes?: number;
  maxPerPatientPerDay?: number;
  locationId?: string;
}

/** insertVisitType adds a visit type (patient-bookable, 15 minutes, at location `default` unless told). */
export async function insertVisitType(db: Kysely<any>, v: TestVisitType): Promise<string> {
  await sql`insert into scheduling.visit_types (visit_type_id, location_id, display_name, duration_minutes, buffer_before_minutes, buffer_after_minutes,
      provider_ids, required_capabilities, patient_bookable, min_notice_minutes, horizon_minutes, max_per_patient_per_day, created_at, updated_at)
    values (${v.visitTypeId}, ${v.locationId ?? "default"}, ${`Visit ${v.visitTypeId}`}, ${v.durationMinutes ?? 15}, ${v.bufferBeforeMinutes ?? 0}, ${v.bufferAfterMinutes ?? 0},
      ${v.providerIds}::text[], ${v.requiredCapabilities ?? []}::text[], ${v.patientBookable ?? true}, ${v.minNoticeMinutes ?? 0}, ${v.horizonMinutes ?? 0},
      ${v.maxPerPatientPerDay ?? 0}, now(), now())`.execute(db);
  return v.visitTypeId;
}

/** setCapabilities gives a room or device its capabilities. */
export async function setCapabilities(db: Kysely<any>, resourceId: string, capabilities: string[]): Promise<void> {
  await sql`update scheduling.resources set capabilities = ${capabilities}::text[] where resource_id = ${resourceId}`.execute(db);
}
