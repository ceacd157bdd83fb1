import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.

/**
 * up indexes the room and device bookings by resource and start, every state included, for a
 * resource's calendar (ListAppointments and WatchAppointments by resourceId): the exclusion
 * constraint's index holds only the active ones.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index if not exists appointment_resources_by_resource on scheduling.appointment_resources (resource_id, lower(during))`.execute(db);
}

/** down drops the index. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists scheduling.appointment_resources_by_resource`.execute(db);
}
