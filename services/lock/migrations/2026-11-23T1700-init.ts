import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types. Every statement names
// the schema explicitly, whatever search_path the runner uses.

/** up creates the lock schema's fencing epoch (one row, seeded with epoch 1) and its audit log. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createSchema("lock").ifNotExists().execute();

  // The epoch is the high part of every fencing token; AdvanceEpoch raises it after a restore so tokens
  // never go backwards. Exactly one row, enforced by the check on the primary key.
  await db.schema
    .withSchema("lock")
    .createTable("fencing_epoch")
    .addColumn("id", "smallint", (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn("epoch", "bigint", (c) => c.notNull().defaultTo(1).check(sql`epoch >= 1`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.withSchema("lock").insertInto("fencing_epoch").values({ id: 1, epoch: 1 }).execute();

  // Append-only trail of ForceRelease, AdvanceEpoch and other operator actions.
  await db.schema
    .withSchema("lock")
    .createTable("audit_log")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("actor", "text")
    .addColumn("role", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("resource", "text")
    .addColumn("detail", "jsonb")
    .execute();
  await db.schema
    .withSchema("lock")
    .createIndex("audit_log_resource_at_idx")
    .on("audit_log")
    .columns(["resource", "at"])
    .execute();
}

/** down drops what up created (the schema itself belongs to the migration runner). */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("lock").dropTable("audit_log").ifExists().execute();
  await db.schema.withSchema("lock").dropTable("fencing_epoch").ifExists().execute();
}
