import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types. Every
// statement names the schema explicitly, whatever search_path the runner uses.

/**
 * up gives every location a WatchAppointments stream of its own (services/scheduling/location-changes.ts
 * says why it is built this way):
 *   * scheduling.location_changes, the location's change log. A trigger on scheduling.appointments
 *     appends a pending row (sequence NULL) for every inserted or changed appointment, in the writer's
 *     transaction, for the appointment's location, the location it left (an UPDATE of location_id),
 *     and the locations of its rooms and devices: no writer can forget it, and no writer takes a
 *     location-wide lock.
 *   * scheduling.stamp_location_changes(limit) numbers the pending rows after their commit, per
 *     location after locations.last_sequence, in one short transaction, and returns the locations it
 *     numbered.
 *   * restore_carry_over also moves every location's last_sequence past the live one (the previous
 *     version, renamed restore_carry_over_providers, still does the providers and the audit log).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table scheduling.location_changes (
      id bigserial primary key,
      location_id text not null,
      sequence bigint,
      at timestamptz not null,
      appointment_id text not null
    )`.execute(db);
  await sql`create unique index location_changes_by_sequence on scheduling.location_changes (location_id, sequence)`.execute(db);
  await sql`create index location_changes_pending on scheduling.location_changes (location_id, id) where sequence is null`.execute(db);
  await sql`create index location_changes_by_time on scheduling.location_changes (at)`.execute(db);

  await sql`
    create function scheduling.append_location_change() returns trigger language plpgsql as $fn$
    begin
      insert into scheduling.location_changes (location_id, at, appointment_id)
      select distinct l.location_id, new.updated_at, new.appointment_id
        from (select new.location_id
              union all select r.location_id from scheduling.resources r where r.resource_id = any(new.resource_ids)) as l(location_id);
      if tg_op = 'UPDATE' then
        insert into scheduling.location_changes (location_id, at, appointment_id)
        select distinct l.location_id, new.updated_at, new.appointment_id
          from (select old.location_id
                union all select r.location_id from scheduling.resources r where r.resource_id = any(old.resource_ids)) as l(location_id)
         where l.location_id <> new.location_id
           and not exists (select 1 from scheduling.resources r where r.resource_id = any(new.resource_ids) and r.location_id = l.location_id);
      end if;
      return null;
    end
    $fn$`.execute(db);
  await sql`create trigger appointments_location_changes_insert after insert on scheduling.appointments
    for each row execute function scheduling.append_location_change()`.execute(db);
  await sql`create trigger appointments_location_changes_update after update on scheduling.appointments
    for each row when (old is distinct from new) execute function scheduling.append_location_change()`.execute(db);

  // Locations are locked in id order (two stampers never wait for each other in a cycle); each later
  // statement of this volatile function reads with a fresh snapshot, so once a location's lock is
  // granted it sees every change committed before, and none another stamper already numbered.
  await sql`
    create function scheduling.stamp_location_changes(p_limit integer) returns table (location_id text, stamped integer)
    language plpgsql volatile as $fn$
    declare
      v_location text;
      v_last bigint;
      v_count integer;
    begin
      for v_location in select distinct c.location_id from scheduling.location_changes c where c.sequence is null order by 1 loop
        select l.last_sequence into v_last from scheduling.locations l where l.location_id = v_location for no key update;
        if not found then
          continue;
        end if;
        with pending as (
          select c.id, row_number() over (order by c.id) as n
            from scheduling.location_changes c
           where c.location_id = v_location and c.sequence is null
           order by c.id
           limit p_limit
        )
        update scheduling.location_changes c set sequence = v_last + p.n from pending p where c.id = p.id;
        get diagnostics v_count = row_count;
        if v_count > 0 then
          update scheduling.locations l set last_sequence = v_last + v_count where l.location_id = v_location;
          location_id := v_location;
          stamped := v_count;
          return next;
        end if;
      end loop;
    end
    $fn$`.execute(db);

  await sql`alter function scheduling.restore_carry_over(text) rename to restore_carry_over_providers`.execute(db);
  await sql`
    create function scheduling.restore_carry_over(previous_schema text) returns void
    language plpgsql volatile as $fn$
    begin
      -- This function runs from the live schema renamed to previous_schema (the restore calls it there):
      -- its sibling is called there too, not the restored schema's copy, which an older backup lacks.
      execute format('select %I.restore_carry_over_providers($1)', previous_schema) using previous_schema;
      -- A backup from before locations existed has none to carry over.
      if to_regclass('scheduling.locations') is not null and to_regclass(format('%I.locations', previous_schema)) is not null then
        execute format($q$
          update scheduling.locations l
             set last_sequence = greatest(l.last_sequence, coalesce((select o.last_sequence from %I.locations o where o.location_id = l.location_id), 0)) + 1
        $q$, previous_schema);
      end if;
    end
    $fn$`.execute(db);
}

/** down restores the previous restore_carry_over and drops the log, its trigger and functions. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists scheduling.restore_carry_over(text)`.execute(db);
  await sql`alter function scheduling.restore_carry_over_providers(text) rename to restore_carry_over`.execute(db);
  await sql`drop function if exists scheduling.stamp_location_changes(integer)`.execute(db);
  await sql`drop trigger if exists appointments_location_changes_update on scheduling.appointments`.execute(db);
  await sql`drop trigger if exists appointments_location_changes_insert on scheduling.appointments`.execute(db);
  await sql`drop function if exists scheduling.append_location_change()`.execute(db);
  await sql`drop table if exists scheduling.location_changes`.execute(db);
}
