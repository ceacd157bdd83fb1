import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = scheduling, public: btree_gist (created by the runtime) is visible.

const STATUSES = sql`('PROPOSED', 'BOOKED', 'CHECKED_IN', 'FULFILLED', 'CANCELLED', 'NOSHOW')`;
const ACTIVE = sql`('PROPOSED', 'BOOKED', 'CHECKED_IN')`;

/**
 * up creates providers, resources, availability, appointments (with their rooms), the waitlist, the
 * WatchAppointments change log and the fence tokens. Postgres itself guarantees DESIGN.md invariant 1:
 * exclusion constraints keep active appointments of a provider, and bookings of a room, from overlapping.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const schema = db.schema.withSchema("scheduling");

  await schema
    .createTable("providers")
    .addColumn("provider_id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull().check(sql`length(display_name) between 1 and 200`))
    // An IANA zone, validated by the service (Intl) before insert.
    .addColumn("time_zone", "text", (c) => c.notNull())
    .addColumn("specialty", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    // The last WatchAppointments sequence handed out; bumped (and row-locked) by every change.
    .addColumn("last_sequence", "bigint", (c) => c.notNull().defaultTo(0).check(sql`last_sequence >= 0`))
    .execute();
  await schema.createIndex("providers_by_name").on("providers").columns(["display_name", "provider_id"]).execute();

  await schema
    .createTable("resources")
    .addColumn("resource_id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull().check(sql`length(display_name) between 1 and 200`))
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('ROOM', 'DEVICE')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .execute();
  await schema.createIndex("resources_by_name").on("resources").columns(["display_name", "resource_id"]).execute();

  // One row per provider: the weekly pattern as JSON (validated by the service), slot and buffer in minutes.
  await schema
    .createTable("availability")
    .addColumn("provider_id", "text", (c) => c.primaryKey().references("scheduling.providers.provider_id").onDelete("cascade"))
    .addColumn("weekly_hours", "jsonb", (c) => c.notNull())
    .addColumn("breaks", "jsonb", (c) => c.notNull())
    .addColumn("exceptions", "jsonb", (c) => c.notNull())
    .addColumn("slot_minutes", "integer", (c) => c.notNull().check(sql`slot_minutes between 5 and 480`))
    .addColumn("buffer_minutes", "integer", (c) => c.notNull().check(sql`buffer_minutes between 0 and 120`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .execute();

  await schema
    .createTable("appointments")
    .addColumn("appointment_id", "text", (c) => c.primaryKey())
    .addColumn("provider_id", "text", (c) => c.notNull().references("scheduling.providers.provider_id"))
    .addColumn("patient_id", "text", (c) => c.notNull())
    // The visit itself, UTC, half-open.
    .addColumn("during", sql`tstzrange`, (c) => c.notNull())
    // The visit plus the provider's buffer after it: what no other active appointment may overlap.
    .addColumn("blocked", sql`tstzrange`, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ${STATUSES}`))
    .addColumn("resource_ids", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn("reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("cancel_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("offer_expires_at", "timestamptz")
    .addColumn("waitlist_entry_id", "text")
    .addColumn("ticket_id", "text")
    .addColumn("fencing_token", sql`numeric(20, 0)`, (c) => c.notNull().defaultTo(0))
    .addColumn("rescheduled_from_id", "text", (c) => c.references("scheduling.appointments.appointment_id"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addCheckConstraint("appointments_during_nonempty", sql`not isempty(during) and lower(during) = lower(blocked) and upper(blocked) >= upper(during)`)
    .addCheckConstraint("appointments_proposed_has_expiry", sql`status <> 'PROPOSED' or offer_expires_at is not null`)
    .execute();
  // DESIGN.md invariant 1 for providers: no two active appointments overlap (buffer included).
  await sql`alter table scheduling.appointments add constraint appointments_no_provider_overlap
    exclude using gist (provider_id with =, blocked with &&) where (status in ${ACTIVE})`.execute(db);
  await sql`create index appointments_by_provider on scheduling.appointments (provider_id, lower(during))`.execute(db);
  await sql`create index appointments_by_patient on scheduling.appointments (patient_id, lower(during))`.execute(db);

  // One row per room or device of an appointment; `active` follows the appointment's status in the same transaction.
  await schema
    .createTable("appointment_resources")
    .addColumn("appointment_id", "text", (c) => c.notNull().references("scheduling.appointments.appointment_id").onDelete("cascade"))
    .addColumn("resource_id", "text", (c) => c.notNull().references("scheduling.resources.resource_id"))
    .addColumn("during", sql`tstzrange`, (c) => c.notNull())
    .addColumn("active", "boolean", (c) => c.notNull())
    .addPrimaryKeyConstraint("appointment_resources_pkey", ["appointment_id", "resource_id"])
    .execute();
  // DESIGN.md invariant 1 for rooms and devices.
  await sql`alter table scheduling.appointment_resources add constraint appointment_resources_no_overlap
    exclude using gist (resource_id with =, during with &&) where (active)`.execute(db);

  await schema
    .createTable("waitlist")
    .addColumn("entry_id", "text", (c) => c.primaryKey())
    // Join order: the first waiting patient gets the next offer.
    .addColumn("seq", "bigserial", (c) => c.notNull().unique())
    .addColumn("provider_id", "text", (c) => c.notNull().references("scheduling.providers.provider_id"))
    .addColumn("patient_id", "text", (c) => c.notNull())
    .addColumn("window_start", "timestamptz", (c) => c.notNull())
    .addColumn("window_end", "timestamptz", (c) => c.notNull())
    .addColumn("duration_minutes", "integer", (c) => c.check(sql`duration_minutes > 0`))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('WAITING', 'OFFERED', 'BOOKED', 'EXPIRED')`))
    .addColumn("offered_appointment_id", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addCheckConstraint("waitlist_window", sql`window_end > window_start`)
    .execute();
  await sql`create index waitlist_waiting on scheduling.waitlist (provider_id, seq) where status = 'WAITING'`.execute(db);

  // What changed, per provider and sequence; WatchAppointments replays from here.
  await schema
    .createTable("changes")
    .addColumn("provider_id", "text", (c) => c.notNull().references("scheduling.providers.provider_id"))
    .addColumn("sequence", "bigint", (c) => c.notNull().check(sql`sequence > 0`))
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("appointment_id", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("changes_pkey", ["provider_id", "sequence"])
    .execute();
  await schema.createIndex("changes_by_time").on("changes").column("at").execute();

  // The fencing tokens of the provider lock (checkFence, runtime/clients/with-lock.ts): the DDL as it stood
  // when this migration was written, inlined so that the migration never changes with the code.
  await sql`create table if not exists scheduling.fence_tokens (
    resource text primary key,
    last_token numeric(20, 0) not null check (last_token >= 0),
    updated_at timestamptz not null default now()
  )`.execute(db);
  await schema.createIndex("request_keys_by_time").on("request_keys").column("created_at").execute();
  await schema.createIndex("audit_log_by_record").on("audit_log").columns(["record_type", "record_id"]).execute();
}

/** down drops what up created. */
export async function down(db: Kysely<any>): Promise<void> {
  const schema = db.schema.withSchema("scheduling");
  await schema.dropIndex("audit_log_by_record").ifExists().execute();
  await schema.dropIndex("request_keys_by_time").ifExists().execute();
  for (const table of ["fence_tokens", "changes", "waitlist", "appointment_resources", "appointments", "availability", "resources", "providers"]) {
    await schema.dropTable(table).ifExists().execute();
  }
}
