// What SearchSlots reads beyond busy time (appointment.repository.ts): each a single query for all
// providers at once, never one per provider or per day.
import { sql } from "kysely";
import type { AvailabilityRow } from "../db/availability.table.js";
import type { Db } from "../db/database.js";
import type { ProviderRow } from "../db/provider.table.js";
import type { Interval } from "../slots.js";
import { parseSpans, spansOf } from "./appointment.repository.js";
import { ACTIVE, liveAt } from "./appointment.sql.js";
import type { CapableResource } from "./visit-type.repository.js";
import { scheduleLocationsSql, type ScheduleLocations } from "./location.repository.js";

/** ProviderWithAvailability is a provider and its weekly pattern (undefined: never set). */
export interface ProviderWithAvailability {
  /** provider is the provider. */
  provider: ProviderRow;
  /** availability is its weekly pattern. */
  availability: AvailabilityRow | undefined;
  /** locations are the locations its weekly hours are worked at, with their zones and closures. */
  locations: ScheduleLocations;
}

/** providersWithAvailability reads providers and their weekly patterns in one query (unknown ids are left out). */
export async function providersWithAvailability(db: Db, providerIds: readonly string[]): Promise<ProviderWithAvailability[]> {
  if (providerIds.length === 0) return [];
  const rows = await db
    .selectFrom("scheduling.providers as p")
    .leftJoin("scheduling.availability as a", "a.provider_id", "p.provider_id")
    .select(["p.provider_id", "p.display_name", "p.time_zone", "p.specialty", "p.created_at", "p.location_id", "p.last_sequence"])
    .select(["a.weekly_hours", "a.breaks", "a.exceptions", "a.slot_minutes", "a.buffer_minutes", "a.updated_at"])
    .select(scheduleLocationsSql(sql.ref("p.location_id"), sql.ref("a.weekly_hours")).as("locations"))
    .where("p.provider_id", "in", [...providerIds])
    .execute();
  return rows.map(({ weekly_hours, breaks, exceptions, slot_minutes, buffer_minutes, updated_at, locations, ...provider }) => ({
    provider,
    locations,
    availability:
      slot_minutes === null || updated_at === null
        ? undefined
        : { provider_id: provider.provider_id, weekly_hours, breaks, exceptions, slot_minutes, buffer_minutes: buffer_minutes ?? 0, updated_at },
  }));
}

/**
 * patientVisitStarts lists the starts of a patient's active appointments of a visit type in a range:
 * what countPatientVisitsOfType counts, read once for every local day of a search.
 */
export async function patientVisitStarts(db: Db, q: { patientId: string; visitTypeId: string; range: Interval; now: Date }): Promise<number[]> {
  const { rows } = await sql<{ s: Date }>`select lower(a.during) as s from scheduling.appointments a
    where a.patient_id = ${q.patientId} and a.visit_type_id = ${q.visitTypeId} and a.status in ${ACTIVE} and ${liveAt("a", q.now)}
      and lower(a.during) >= ${new Date(q.range.start)} and lower(a.during) < ${new Date(q.range.end)}`.execute(db);
  return rows.map((r) => r.s.getTime());
}

/**
 * capableResourcesBusy lists what resourcesWithCapabilities lists (the rooms and devices of a
 * location having any of `capabilities`, by id) with each one's active bookings overlapping `range`
 * (but those of holds lapsed at `now`), sorted and merged, in one query: the search waits for one
 * round trip fewer.
 */
export async function capableResourcesBusy(
  db: Db,
  q: { locationId: string; capabilities: string[]; range: Interval; now: Date },
): Promise<{ resources: CapableResource[]; resourceBusy: Map<string, Interval[]> }> {
  if (q.capabilities.length === 0) return { resources: [], resourceBusy: new Map() };
  const { rows } = await sql<CapableResource & { spans: string }>`select r.resource_id, r.capabilities,
      coalesce((select ${spansOf(sql`b.during`)} from scheduling.appointment_resources b join scheduling.appointments a on a.appointment_id = b.appointment_id
        where b.resource_id = r.resource_id and b.active and ${liveAt("a", q.now)} and b.during && tstzrange(${new Date(q.range.start)}, ${new Date(q.range.end)}, '[)')), '') as spans
    from scheduling.resources r where r.location_id = ${q.locationId} and r.capabilities && ${q.capabilities}::text[]
    order by r.resource_id`.execute(db);
  return {
    resources: rows.map((r) => ({ resource_id: r.resource_id, capabilities: r.capabilities })),
    resourceBusy: parseSpans(rows.map((r) => ({ id: r.resource_id, spans: r.spans }))),
  };
}
