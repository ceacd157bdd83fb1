import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types. Every
// statement names the schema explicitly, whatever search_path the runner uses.

/**
 * up defines patient.restore_carry_over(previous_schema), which the backup service calls in a
 * restore's transaction (services/backup/engines/restore-script.ts): the live schema has been renamed
 * to `previous_schema` and the backup's `patient` schema is in place. It carries over what must not go
 * back with the data:
 *   * The audit log (who read or changed which record, break-the-glass reasons included): rows
 *     written after the backup are copied back with their ids (the restored rows are a subset of the
 *     live ones, the table being append-only), and the id sequence moves past them.
 *   * Record versions: a record changed since the backup gets a version one past the live one, so no
 *     version a client has seen is handed out again for other content (UpdatePatient's optimistic
 *     concurrency answers VERSION_MISMATCH to a client holding a version from after the backup).
 * A migration that changes these tables replaces this function. The live schema's version runs, so
 * a backup made before this migration is covered too.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function patient.restore_carry_over(previous_schema text) returns void
    language plpgsql volatile as $fn$
    declare
      v_columns text;
    begin
      if to_regclass('patient.patients') is not null and to_regclass(format('%I.patients', previous_schema)) is not null then
        execute format($q$
          update patient.patients p set version = o.version + 1
            from %I.patients o
           where o.patient_id = p.patient_id and o.version > p.version
        $q$, previous_schema);
      end if;

      -- The columns both audit tables have (a backup may predate a column added later).
      select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
        from pg_attribute a
       where a.attrelid = to_regclass('patient.audit_log') and a.attnum > 0 and not a.attisdropped
         and exists (select 1 from pg_attribute b
                      where b.attrelid = to_regclass(format('%I.audit_log', previous_schema)) and b.attname = a.attname
                        and b.attnum > 0 and not b.attisdropped);
      if v_columns is not null then
        execute format('insert into patient.audit_log (%s) select %s from %I.audit_log o where not exists (select 1 from patient.audit_log r where r.id = o.id)',
          v_columns, v_columns, previous_schema);
        perform setval(pg_get_serial_sequence('patient.audit_log', 'id'), greatest((select max(id) from patient.audit_log), 1));
      end if;
    end
    $fn$`.execute(db);
}

/** down drops the function (a restore then leaves versions and audit rows as in the backup). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists patient.restore_carry_over(text)`.execute(db);
}
