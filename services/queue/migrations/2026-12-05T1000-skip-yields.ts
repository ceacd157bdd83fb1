import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = queue, public: unqualified names land in the queue schema.

/**
 * up lets a skipped ticket go back behind the ticket that was next (services/queue/ranking.ts):
 * `yields_to` names that ticket and `yields_to_skips` its skip count at the time; both or neither.
 * Idempotent: every step checks what is already there.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table queue.tickets add column if not exists yields_to text`.execute(db);
  await sql`alter table queue.tickets add column if not exists yields_to_skips integer`.execute(db);
  await sql`alter table queue.tickets drop constraint if exists tickets_yield_complete`.execute(db);
  await sql`alter table queue.tickets add constraint tickets_yield_complete check ((yields_to is null) = (yields_to_skips is null))`.execute(db);
}

/** down drops the two columns (skipped tickets rank by their own keys again). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table queue.tickets drop constraint if exists tickets_yield_complete`.execute(db);
  await sql`alter table queue.tickets drop column if exists yields_to_skips`.execute(db);
  await sql`alter table queue.tickets drop column if exists yields_to`.execute(db);
}
