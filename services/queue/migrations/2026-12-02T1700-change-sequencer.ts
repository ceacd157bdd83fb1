import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = queue, public: unqualified names land in the queue schema.

/**
 * up moves WatchQueue's sequence numbers out of the writers' transactions (see
 * services/queue/change-sequencer.ts): a change is inserted with a NULL sequence and stamped after
 * its commit by queue.stamp_changes(), which numbers every pending change of a queue in one short
 * transaction. Existing rows keep their sequences; `id` (insertion order) becomes the key.
 * Idempotent: every step checks what is already there.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table queue.changes add column if not exists id bigserial`.execute(db);
  await sql`alter table queue.changes drop constraint if exists changes_pkey`.execute(db);
  await sql`alter table queue.changes add constraint changes_pkey primary key (id)`.execute(db);
  await sql`alter table queue.changes alter column sequence drop not null`.execute(db);
  // One change per queue and sequence (NULLs, the pending changes, are distinct); WatchQueue reads by it.
  await sql`create unique index if not exists changes_by_sequence on queue.changes (queue_id, sequence)`.execute(db);
  // The sequencer's work list: pending changes per queue, in insertion order.
  await sql`create index if not exists changes_pending on queue.changes (queue_id, id) where sequence is null`.execute(db);

  // stamp_changes numbers up to p_limit pending changes of a queue after queues.last_sequence, in
  // insertion order, and returns how many it numbered. The queue row lock serializes stampers (of all
  // replicas) and is taken first; each later statement of this volatile function reads with a fresh
  // snapshot, so it sees every change committed before the lock was granted, and none that a
  // previous stamper numbered is still seen as pending. One round trip, one commit per batch.
  await sql`
    create or replace function queue.stamp_changes(p_queue_id text, p_limit integer) returns integer
    language plpgsql volatile as $fn$
    declare
      v_last bigint;
      v_count integer;
    begin
      select last_sequence into v_last from queue.queues where queue_id = p_queue_id for no key update;
      if not found then
        return 0;
      end if;
      with pending as (
        select id, row_number() over (order by id) as n
        from queue.changes
        where queue_id = p_queue_id and sequence is null
        order by id
        limit p_limit
      )
      update queue.changes c set sequence = v_last + p.n from pending p where c.id = p.id;
      get diagnostics v_count = row_count;
      if v_count > 0 then
        update queue.queues set last_sequence = v_last + v_count where queue_id = p_queue_id;
      end if;
      return v_count;
    end
    $fn$`.execute(db);
}

/** down drops the function and indexes; the change log keeps its id key (rows without a sequence are deleted). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists queue.stamp_changes(text, integer)`.execute(db);
  await sql`drop index if exists queue.changes_pending`.execute(db);
  await sql`delete from queue.changes where sequence is null`.execute(db);
  await sql`alter table queue.changes alter column sequence set not null`.execute(db);
}
