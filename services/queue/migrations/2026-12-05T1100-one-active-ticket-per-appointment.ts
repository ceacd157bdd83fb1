import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = queue, public: unqualified names land in the queue schema.

/**
 * up lets an appointment have at most one active (WAITING or CALLED) ticket, in any queue: a partial
 * unique index, so a second check-in gets the first ticket back (IssueTicket) instead of a second
 * place in line. Active duplicates left by check-ins that raced before this index are resolved first:
 * the called one (else the first issued) stays, the others are CANCELLED, each with a WatchQueue
 * change and an audit entry. Idempotent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    with ranked as (
      select ticket_id, row_number() over (partition by appointment_id order by (status = 'CALLED') desc, seq) as n
      from queue.tickets
      where appointment_id is not null and status in ('WAITING', 'CALLED')
    ), cancelled as (
      update queue.tickets t set status = 'CANCELLED', ended_at = now(), updated_at = now()
      from ranked r where r.ticket_id = t.ticket_id and r.n > 1
      returning t.ticket_id, t.queue_id, t.patient_id
    ), changed as (
      insert into queue.changes (queue_id, at, kind, ticket_id) select queue_id, now(), 'ticket', ticket_id from cancelled
    )
    insert into queue.audit_log (at, actor, role, action, record_type, record_id)
    select now(), 'migration', 'system', 'CancelDuplicateAppointmentTicket', 'ticket', ticket_id from cancelled where patient_id is not null`.execute(db);
  await sql`create unique index if not exists tickets_one_active_per_appointment on queue.tickets (appointment_id)
    where appointment_id is not null and status in ('WAITING', 'CALLED')`.execute(db);
}

/** down drops the index (the cancelled duplicates stay cancelled). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists queue.tickets_one_active_per_appointment`.execute(db);
}
