import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types.

/**
 * up creates the Postgres lock backend's lease table: one row per resource ever locked, kept after
 * release so its fencing counter survives (a free row has no lease_id). Row checks, not advisory
 * locks: advisory locks are unsafe behind pooled connections and re-entrant in PGlite's one session.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema("lock")
    .createTable("leases")
    .addColumn("resource", "text", (c) => c.primaryKey())
    .addColumn("lease_id", "text")
    .addColumn("owner", "text")
    // Fencing token = epoch * 2^32 + counter; the counter restarts at 1 when the epoch moves.
    .addColumn("epoch", "bigint", (c) => c.notNull().check(sql`epoch >= 1`))
    .addColumn("counter", "bigint", (c) => c.notNull().check(sql`counter >= 1 and counter < 4294967296`))
    .addColumn("acquired_at", "timestamptz")
    .addColumn("expires_at", "timestamptz")
    .addCheckConstraint(
      "leases_held_consistent",
      sql`(lease_id is null and expires_at is null and acquired_at is null) or (lease_id is not null and expires_at is not null and acquired_at is not null)`,
    )
    .execute();
  await sql`create index leases_held_idx on lock.leases (acquired_at, resource) where lease_id is not null`.execute(db);
}

/** down drops the lease table. */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("lock").dropTable("leases").ifExists().execute();
}
