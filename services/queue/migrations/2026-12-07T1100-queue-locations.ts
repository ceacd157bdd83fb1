import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types. Every
// statement names the schema explicitly, whatever search_path the runner uses.

/**
 * up gives every queue a location (a location of the scheduling service, checked there when a queue
 * is created; issue 20). Existing queues belong to the location `default`, which always exists.
 * ListQueues filters by it, paged by display name: the index serves that order within a location.
 * Idempotent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table queue.queues add column if not exists location_id text not null default 'default'`.execute(db);
  await sql`create index if not exists queues_by_location on queue.queues (location_id, display_name, queue_id)`.execute(db);
}

/** down drops the index and the column. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists queue.queues_by_location`.execute(db);
  await sql`alter table queue.queues drop column if exists location_id`.execute(db);
}
