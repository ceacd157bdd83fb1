import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = queue, public: unqualified names land in the queue schema.

const PRIORITIES = sql`('URGENT', 'APPOINTMENT', 'PRIORITY', 'ROUTINE')`;
const STATUSES = sql`('WAITING', 'CALLED', 'COMPLETED', 'NO_SHOW', 'CANCELLED', 'TRANSFERRED')`;

/**
 * up creates queues, counters, per-day ticket numbers, tickets and the change log that WatchQueue
 * streams from. The database enforces the invariants: one number per queue and local day, at most
 * one CALLED ticket per counter, and consistent states.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const schema = db.schema.withSchema("queue");

  await schema
    .createTable("queues")
    .addColumn("queue_id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull().check(sql`length(display_name) between 1 and 200`))
    .addColumn("prefix", "text", (c) => c.notNull().check(sql`prefix ~ '^[A-Z]{1,3}$'`))
    .addColumn("time_zone", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    // The last WatchQueue sequence handed out; bumped (and row-locked) by every change, so a queue's
    // sequences commit in order.
    .addColumn("last_sequence", "bigint", (c) => c.notNull().defaultTo(0).check(sql`last_sequence >= 0`))
    .execute();
  await schema.createIndex("queues_by_name").on("queues").columns(["display_name", "queue_id"]).execute();

  await schema
    .createTable("counters")
    .addColumn("queue_id", "text", (c) => c.notNull().references("queue.queues.queue_id").onDelete("cascade"))
    .addColumn("counter_id", "text", (c) => c.notNull())
    .addColumn("is_open", "boolean", (c) => c.notNull())
    .addColumn("opened_at", "timestamptz")
    .addColumn("closed_at", "timestamptz")
    .addPrimaryKeyConstraint("counters_pkey", ["queue_id", "counter_id"])
    .addCheckConstraint("counters_open_has_time", sql`not is_open or opened_at is not null`)
    .execute();

  // The last ticket number of each queue and local day (numbers restart at local midnight).
  await schema
    .createTable("ticket_days")
    .addColumn("queue_id", "text", (c) => c.notNull().references("queue.queues.queue_id").onDelete("cascade"))
    .addColumn("local_day", "date", (c) => c.notNull())
    .addColumn("last_number", "integer", (c) => c.notNull().check(sql`last_number > 0`))
    .addPrimaryKeyConstraint("ticket_days_pkey", ["queue_id", "local_day"])
    .execute();

  await schema
    .createTable("tickets")
    .addColumn("ticket_id", "text", (c) => c.primaryKey())
    // Insertion order: the ranking's last tie-breaker (tickets issued in the same millisecond).
    .addColumn("seq", "bigserial", (c) => c.notNull().unique())
    .addColumn("queue_id", "text", (c) => c.notNull().references("queue.queues.queue_id").onDelete("cascade"))
    .addColumn("local_day", "date", (c) => c.notNull())
    .addColumn("day_number", "integer", (c) => c.notNull().check(sql`day_number > 0`))
    .addColumn("number", "text", (c) => c.notNull())
    .addColumn("priority", "text", (c) => c.notNull().check(sql`priority in ${PRIORITIES}`))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ${STATUSES}`))
    .addColumn("patient_id", "text")
    .addColumn("appointment_id", "text")
    .addColumn("appointment_time", "timestamptz")
    // First arrival, kept across transfers: the fairness bound counts from here.
    .addColumn("arrived_at", "timestamptz", (c) => c.notNull())
    // When it entered this queue (equals arrived_at except after a transfer).
    .addColumn("enqueued_at", "timestamptz", (c) => c.notNull())
    // Static preference key of the ranking (see ranking.ts): arrival, minus a head start, or the booked time.
    .addColumn("rank_at", "timestamptz", (c) => c.notNull())
    .addColumn("counter_id", "text")
    .addColumn("called_at", "timestamptz")
    .addColumn("first_called_at", "timestamptz")
    .addColumn("ended_at", "timestamptz")
    .addColumn("recall_count", "integer", (c) => c.notNull().defaultTo(0).check(sql`recall_count >= 0`))
    .addColumn("skip_count", "integer", (c) => c.notNull().defaultTo(0).check(sql`skip_count >= 0`))
    .addColumn("transferred_from_id", "text", (c) => c.references("queue.tickets.ticket_id"))
    // The uncalibrated p50 wait estimated at issue, in ms: the estimator learns from its own errors.
    .addColumn("issue_estimate_ms", "integer")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addUniqueConstraint("tickets_number_per_day", ["queue_id", "local_day", "day_number"])
    .addForeignKeyConstraint("tickets_counter_fkey", ["queue_id", "counter_id"], "queue.counters", ["queue_id", "counter_id"])
    .addCheckConstraint("tickets_called_has_counter", sql`status <> 'CALLED' or (counter_id is not null and called_at is not null)`)
    .addCheckConstraint(
      "tickets_ended_has_time",
      sql`(status in ('COMPLETED', 'NO_SHOW', 'CANCELLED', 'TRANSFERRED')) = (ended_at is not null)`,
    )
    .addCheckConstraint("tickets_appointment_has_id", sql`priority <> 'APPOINTMENT' or appointment_id is not null`)
    .execute();
  // One called ticket per counter: CallNext's guarantee, enforced by Postgres itself.
  await sql`create unique index tickets_one_called_per_counter on queue.tickets (queue_id, counter_id) where status = 'CALLED'`.execute(db);
  await sql`create index tickets_active on queue.tickets (queue_id, status) where status in ('WAITING', 'CALLED')`.execute(db);
  await sql`create index tickets_completed on queue.tickets (queue_id, ended_at) where status = 'COMPLETED'`.execute(db);
  await sql`create index tickets_first_called on queue.tickets (queue_id, first_called_at) where first_called_at is not null`.execute(db);
  await sql`create index tickets_by_queue_status on queue.tickets (queue_id, status, ended_at)`.execute(db);

  // What changed, per queue and sequence; WatchQueue replays from here. Pruned after a retention window.
  await schema
    .createTable("changes")
    .addColumn("queue_id", "text", (c) => c.notNull().references("queue.queues.queue_id").onDelete("cascade"))
    .addColumn("sequence", "bigint", (c) => c.notNull().check(sql`sequence > 0`))
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('ticket', 'counter')`))
    .addColumn("ticket_id", "text")
    .addColumn("counter_id", "text")
    .addPrimaryKeyConstraint("changes_pkey", ["queue_id", "sequence"])
    .addCheckConstraint("changes_names_what", sql`(kind = 'ticket') = (ticket_id is not null)`)
    .execute();
  await schema.createIndex("changes_by_time").on("changes").column("at").execute();
  await schema.createIndex("request_keys_by_time").on("request_keys").column("created_at").execute();
  await schema.createIndex("audit_log_by_record").on("audit_log").columns(["record_type", "record_id"]).execute();
}

/** down drops what up created. */
export async function down(db: Kysely<any>): Promise<void> {
  const schema = db.schema.withSchema("queue");
  await schema.dropIndex("audit_log_by_record").ifExists().execute();
  await schema.dropIndex("request_keys_by_time").ifExists().execute();
  await schema.dropTable("changes").ifExists().execute();
  await schema.dropTable("tickets").ifExists().execute();
  await schema.dropTable("ticket_days").ifExists().execute();
  await schema.dropTable("counters").ifExists().execute();
  await schema.dropTable("queues").ifExists().execute();
}
