import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types. Every
// statement names the schema explicitly, whatever search_path the runner uses.

/**
 * up defines queue.restore_carry_over(previous_schema), which the backup service calls in a restore's
 * transaction (services/backup/engines/restore-script.ts): the live schema has been renamed to
 * `previous_schema` and the backup's `queue` schema is in place. It carries over what must not go
 * back with the data:
 *   * WatchQueue sequences: every queue's last_sequence moves one past the highest of the live and the
 *     restored one. No sequence a screen has seen is handed out again, and the gap (a sequence with no
 *     change) makes every open stream and every resume from before the restore get a fresh snapshot
 *     with resumeFailed (services/runtime/change-feed.ts).
 *   * Ticket numbers: each queue's last number of each local day is the highest of the live and the
 *     restored one, so today's numbering goes on after the last number handed out ("D-103" after
 *     "D-102", never a second "D-102"). Queues created after the backup are gone with their tickets.
 *   * The audit log: rows written after the backup are copied back with their ids (the restored rows
 *     are a subset of the live ones, the table being append-only), and the id sequence moves past them.
 * A migration that adds a counter that must never go back (or changes these tables) replaces this
 * function. The live schema's version runs, so a backup made before this migration is covered too.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function queue.restore_carry_over(previous_schema text) returns void
    language plpgsql volatile as $fn$
    declare
      v_columns text;
    begin
      execute format($q$
        update queue.queues q
           set last_sequence = greatest(q.last_sequence, coalesce((select o.last_sequence from %I.queues o where o.queue_id = q.queue_id), 0)) + 1
      $q$, previous_schema);

      execute format($q$
        insert into queue.ticket_days (queue_id, local_day, last_number)
        select o.queue_id, o.local_day, o.last_number from %I.ticket_days o
         where exists (select 1 from queue.queues q where q.queue_id = o.queue_id)
        on conflict (queue_id, local_day) do update set last_number = greatest(queue.ticket_days.last_number, excluded.last_number)
      $q$, previous_schema);

      -- The columns both audit tables have (a backup may predate a column added later).
      select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
        from pg_attribute a
       where a.attrelid = to_regclass('queue.audit_log') and a.attnum > 0 and not a.attisdropped
         and exists (select 1 from pg_attribute b
                      where b.attrelid = to_regclass(format('%I.audit_log', previous_schema)) and b.attname = a.attname
                        and b.attnum > 0 and not b.attisdropped);
      if v_columns is not null then
        execute format('insert into queue.audit_log (%s) select %s from %I.audit_log o where not exists (select 1 from queue.audit_log r where r.id = o.id)',
          v_columns, v_columns, previous_schema);
        perform setval(pg_get_serial_sequence('queue.audit_log', 'id'), greatest((select max(id) from queue.audit_log), 1));
      end if;
    end
    $fn$`.execute(db);
}

/** down drops the function (a restore then leaves sequences, numbers and audit rows as in the backup). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists queue.restore_carry_over(text)`.execute(db);
}
