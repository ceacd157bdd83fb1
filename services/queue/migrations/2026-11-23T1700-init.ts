import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.

/** up creates the queue schema with its idempotency keys and its append-only audit log. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createSchema("queue").ifNotExists().execute();
  const schema = db.schema.withSchema("queue");

  // requestId replay store: (caller, rpc, request_id) -> hash of the request and the first response.
  await schema
    .createTable("request_keys")
    .addColumn("caller", "text", (c) => c.notNull())
    .addColumn("rpc", "text", (c) => c.notNull())
    .addColumn("request_id", "text", (c) => c.notNull())
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("response", "bytea")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("request_keys_pkey", ["caller", "rpc", "request_id"])
    .execute();

  // Who read or changed which patient record, when; rows are only ever inserted.
  await schema
    .createTable("audit_log")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("record_type", "text")
    .addColumn("record_id", "text")
    .addColumn("on_behalf_of", "text")
    .execute();
}

/**
 * down drops the two tables. The schema itself stays: the migrator may keep its own bookkeeping
 * tables in it.
 */
export async function down(db: Kysely<any>): Promise<void> {
  const schema = db.schema.withSchema("queue");
  await schema.dropTable("audit_log").ifExists().execute();
  await schema.dropTable("request_keys").ifExists().execute();
}
