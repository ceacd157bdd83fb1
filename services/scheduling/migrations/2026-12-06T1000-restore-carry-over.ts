import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types. Every
// statement names the schema explicitly, whatever search_path the runner uses.

/**
 * up defines scheduling.restore_carry_over(previous_schema), which the backup service calls in a
 * restore's transaction (services/backup/engines/restore-script.ts): the live schema has been renamed
 * to `previous_schema` and the backup's `scheduling` schema is in place. It carries over what must not
 * go back with the data:
 *   * WatchAppointments sequences: every provider's last_sequence moves one past the highest of the
 *     live and the restored one. No sequence a screen has seen is handed out again, and the gap (a
 *     sequence with no change) makes every open stream and every resume from before the restore get a
 *     fresh snapshot with resumeFailed (services/runtime/change-feed.ts).
 *   * The audit log: rows written after the backup are copied back with their ids (the restored rows
 *     are a subset of the live ones, the table being append-only), and the id sequence moves past them.
 * A migration that adds a counter that must never go back (or changes these tables) replaces this
 * function. The live schema's version runs, so a backup made before this migration is covered too.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function scheduling.restore_carry_over(previous_schema text) returns void
    language plpgsql volatile as $fn$
    declare
      v_columns text;
    begin
      execute format($q$
        update scheduling.providers p
           set last_sequence = greatest(p.last_sequence, coalesce((select o.last_sequence from %I.providers o where o.provider_id = p.provider_id), 0)) + 1
      $q$, previous_schema);

      -- The columns both audit tables have (a backup may predate a column added later).
      select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
        from pg_attribute a
       where a.attrelid = to_regclass('scheduling.audit_log') and a.attnum > 0 and not a.attisdropped
         and exists (select 1 from pg_attribute b
                      where b.attrelid = to_regclass(format('%I.audit_log', previous_schema)) and b.attname = a.attname
                        and b.attnum > 0 and not b.attisdropped);
      if v_columns is not null then
        execute format('insert into scheduling.audit_log (%s) select %s from %I.audit_log o where not exists (select 1 from scheduling.audit_log r where r.id = o.id)',
          v_columns, v_columns, previous_schema);
        perform setval(pg_get_serial_sequence('scheduling.audit_log', 'id'), greatest((select max(id) from scheduling.audit_log), 1));
      end if;
    end
    $fn$`.execute(db);
}

/** down drops the function (a restore then leaves sequences and audit rows as in the backup). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists scheduling.restore_carry_over(text)`.execute(db);
}
