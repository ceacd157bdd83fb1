import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types. Every statement names
// the schema explicitly, whatever search_path the runner uses.

/** up creates the backup catalog (backup.backups) and its audit log. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createSchema("backup").ifNotExists().execute();

  // target and state hold the enum value names without their prefix (POSTGRES, RUNNING, ...).
  await db.schema
    .withSchema("backup")
    .createTable("backups")
    .addColumn("backup_id", "text", (c) => c.primaryKey())
    .addColumn("target", "text", (c) => c.notNull().check(sql`target in ('POSTGRES', 'REDIS')`))
    .addColumn("state", "text", (c) => c.notNull().check(sql`state in ('RUNNING', 'SUCCEEDED', 'FAILED')`))
    .addColumn("started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .addColumn("size_bytes", "bigint", (c) => c.check(sql`size_bytes >= 0`))
    .addColumn("sha256", "text", (c) => c.check(sql`sha256 ~ '^[0-9a-f]{64}$'`))
    .addColumn("location", "text")
    .addColumn("error", "text")
    .addColumn("verified_at", "timestamptz")
    .addColumn("verified_ok", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("request_caller", "text")
    .addColumn("request_id", "text")
    .addUniqueConstraint("backups_request_caller_request_id_key", ["request_caller", "request_id"])
    // Invariant 6: a backup is only SUCCEEDED with its checksum, size, file and end time recorded.
    .addCheckConstraint(
      "backups_succeeded_complete",
      sql`state <> 'SUCCEEDED' or (sha256 is not null and size_bytes is not null and location is not null and finished_at is not null)`,
    )
    .addCheckConstraint("backups_ended_when_not_running", sql`(state = 'RUNNING') = (finished_at is null)`)
    .addCheckConstraint("backups_finished_after_started", sql`finished_at is null or finished_at >= started_at`)
    .execute();

  // At most one RUNNING backup per target: the second concurrent StartBackup fails in the database.
  await db.schema
    .withSchema("backup")
    .createIndex("backups_one_running_per_target")
    .on("backups")
    .column("target")
    .unique()
    .where(sql.ref("state"), "=", "RUNNING")
    .execute();
  // ListBackups (newest first, optionally per target) and retention.
  await db.schema
    .withSchema("backup")
    .createIndex("backups_target_started_at_idx")
    .on("backups")
    .expression(sql`target, started_at desc, backup_id desc`)
    .execute();

  // Append-only trail of restores, prunes and other operator actions.
  await db.schema
    .withSchema("backup")
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
    .withSchema("backup")
    .createIndex("audit_log_resource_at_idx")
    .on("audit_log")
    .columns(["resource", "at"])
    .execute();
}

/** down drops what up created (the schema itself belongs to the migration runner). */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("backup").dropTable("audit_log").ifExists().execute();
  await db.schema.withSchema("backup").dropTable("backups").ifExists().execute();
}
