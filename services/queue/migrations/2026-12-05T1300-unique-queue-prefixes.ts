import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = queue, public: unqualified names land in the queue schema.

/**
 * up makes a ticket prefix belong to one queue, so no two queues call "D-001". Installations may
 * already have queues sharing a prefix (every automatic provider queue used "A"), and renumbering
 * them is not an option (numbers handed out today would change), so a plain unique index cannot be
 * built. Instead each queue gets `owns_prefix`: of the queues sharing a prefix, the first created
 * owns it and the others keep working as before, unowned; every queue created from now on owns its
 * prefix (the column's default), and the partial unique index queues_one_owner_per_prefix lets one
 * owner per prefix exist. As every prefix in use has an owner, a new queue can take no prefix in use.
 * Idempotent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table queue.queues add column if not exists owns_prefix boolean not null default false`.execute(db);
  await sql`
    update queue.queues q set owns_prefix = true
    where q.queue_id in (select distinct on (prefix) queue_id from queue.queues order by prefix, created_at, queue_id)
      and not exists (select 1 from queue.queues o where o.prefix = q.prefix and o.owns_prefix)`.execute(db);
  await sql`alter table queue.queues alter column owns_prefix set default true`.execute(db);
  await sql`create unique index if not exists queues_one_owner_per_prefix on queue.queues (prefix) where owns_prefix`.execute(db);
}

/** down drops the index and the column. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists queue.queues_one_owner_per_prefix`.execute(db);
  await sql`alter table queue.queues drop column if exists owns_prefix`.execute(db);
}
