import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types.

/**
 * up adds what verification and restore need to the catalog: the file format, the per-table row
 * counts and content checksums recorded at dump time, the last verification's findings and restore
 * time, and a heartbeat so that a backup whose process died can be told from a running one.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema("backup")
    .alterTable("backups")
    .addColumn("format", "text", (c) => c.check(sql`format in ('pg_custom', 'pg_sql', 'rdb')`))
    .addColumn("table_checks", "jsonb")
    .addColumn("verify_restore_ms", "bigint")
    .addColumn("verify_details", "jsonb")
    .addColumn("heartbeat_at", "timestamptz")
    .addColumn("deleted_at", "timestamptz")
    .execute();
}

/** down drops the added columns. */
export async function down(db: Kysely<any>): Promise<void> {
  for (const c of ["format", "table_checks", "verify_restore_ms", "verify_details", "heartbeat_at", "deleted_at"]) {
    await db.schema.withSchema("backup").alterTable("backups").dropColumn(c).execute();
  }
}
