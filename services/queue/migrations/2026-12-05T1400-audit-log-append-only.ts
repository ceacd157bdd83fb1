import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types. Every statement names
// the schema explicitly, whatever search_path the runner uses.

/**
 * up makes queue.audit_log (who read or changed which ticket) append-only in the database itself: a
 * statement trigger refuses every UPDATE, DELETE and TRUNCATE, whoever sends it, even one that
 * touches no row. Rows are still inserted as before; dropping the schema (a restore) is not
 * affected. Pruning old rows, should a retention rule ever need it, is a deliberate act of the
 * table's owner (a migration that drops the trigger for it), never something the application can do
 * by mistake.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function queue.audit_log_append_only() returns trigger language plpgsql as $fn$
    begin
      raise exception 'queue.audit_log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege', hint = 'audit rows are never changed or removed';
    end
    $fn$`.execute(db);
  await sql`
    create trigger audit_log_append_only
    before update or delete or truncate on queue.audit_log
    for each statement execute function queue.audit_log_append_only()`.execute(db);
}

/** down drops the trigger and its function. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists audit_log_append_only on queue.audit_log`.execute(db);
  await sql`drop function if exists queue.audit_log_append_only()`.execute(db);
}
