import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types.

/**
 * up records which backend the epoch in force was bumped for. An epoch bumped for Redis belongs to
 * Redis alone: the Postgres backend must not issue tokens under it, or a Postgres acquire racing the
 * switch to Redis could issue epoch * 2^32 + 1 and Redis the very same token right after.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table lock.fencing_epoch add column issued_by text not null default 'postgres'
            constraint fencing_epoch_issued_by_check check (issued_by in ('postgres', 'redis'))`.execute(db);
}

/** down drops the column. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table lock.fencing_epoch drop column issued_by`.execute(db);
}
