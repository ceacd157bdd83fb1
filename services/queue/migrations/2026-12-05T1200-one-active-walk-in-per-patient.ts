import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = queue, public: unqualified names land in the queue schema.

/**
 * up lets a patient hold at most one active (WAITING or CALLED) walk-in ticket (one without an
 * appointment) per queue: a partial unique index, so asking again returns the ticket they hold (IssueTicket)
 * instead of a second place in line, also when the requests race. Active duplicates left from before
 * are resolved first: the called one (else the first issued) stays, the others are CANCELLED, each with
 * a WatchQueue change and an audit entry. Anonymous walk-ins (no patient) are not concerned. Idempotent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    with ranked as (
      select ticket_id, row_number() over (partition by queue_id, patient_id order by (status = 'CALLED') desc, seq) as n
      from queue.tickets
      where patient_id is not null and appointment_id is null and status in ('WAITING', 'CALLED')
    ), cancelled as (
      update queue.tickets t set status = 'CANCELLED', ended_at = now(), updated_at = now()
      from ranked r where r.ticket_id = t.ticket_id and r.n > 1
      returning t.ticket_id, t.queue_id
    ), changed as (
      insert into queue.changes (queue_id, at, kind, ticket_id) select queue_id, now(), 'ticket', ticket_id from cancelled
    )
    insert into queue.audit_log (at, actor, role, action, record_type, record_id)
    select now(), 'migration', 'system', 'CancelDuplicateWalkInTicket', 'ticket', ticket_id from cancelled`.execute(db);
  await sql`create unique index if not exists tickets_one_active_walk_in_per_patient on queue.tickets (queue_id, patient_id)
    where patient_id is not null and appointment_id is null and status in ('WAITING', 'CALLED')`.execute(db);
}

/** down drops the index (the cancelled duplicates stay cancelled). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists queue.tickets_one_active_walk_in_per_patient`.execute(db);
}
