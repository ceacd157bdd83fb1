import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = scheduling, public: btree_gist (created by the runtime) is visible.

/**
 * up adds the clinic's own model (issue 20): locations (every existing provider, room and appointment
 * moves into the location `default`, whose zone the service sets from SCHEDULING_DEFAULT_TIME_ZONE
 * until an administrator changes it), capabilities of rooms and devices, visit types with their
 * booking rules, and on appointments their location, visit type, series and hold. A visit type's
 * buffer before the visit widens `blocked` below `during`, so the check that tied their lower
 * bounds together now only keeps `during` inside `blocked`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const schema = db.schema.withSchema("scheduling");

  await schema
    .createTable("locations")
    .addColumn("location_id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull().check(sql`length(display_name) between 1 and 200`))
    .addColumn("time_zone", "text", (c) => c.notNull())
    .addColumn("address", "text", (c) => c.notNull().defaultTo(""))
    // [{startDate, endDate, reason}], validated by the service.
    .addColumn("closures", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    // Null until the location is first changed by an administrator: `default` follows the configured zone till then.
    .addColumn("updated_at", "timestamptz")
    // The last sequence of the location's WatchAppointments stream.
    .addColumn("last_sequence", "bigint", (c) => c.notNull().defaultTo(0).check(sql`last_sequence >= 0`))
    .execute();
  await schema.createIndex("locations_by_name").on("locations").columns(["display_name", "location_id"]).execute();
  await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at)
    values ('default', 'Main clinic', 'UTC', now()) on conflict do nothing`.execute(db);

  await schema.alterTable("providers").addColumn("location_id", "text", (c) => c.notNull().defaultTo("default").references("scheduling.locations.location_id")).execute();
  await schema.createIndex("providers_by_location").on("providers").columns(["location_id", "display_name", "provider_id"]).execute();
  await schema.alterTable("resources").addColumn("location_id", "text", (c) => c.notNull().defaultTo("default").references("scheduling.locations.location_id")).execute();
  await schema.alterTable("resources").addColumn("capabilities", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`)).execute();
  await schema.createIndex("resources_by_location").on("resources").columns(["location_id", "display_name", "resource_id"]).execute();

  await schema
    .createTable("visit_types")
    .addColumn("visit_type_id", "text", (c) => c.primaryKey())
    .addColumn("location_id", "text", (c) => c.notNull().references("scheduling.locations.location_id"))
    .addColumn("display_name", "text", (c) => c.notNull().check(sql`length(display_name) between 1 and 200`))
    .addColumn("duration_minutes", "integer", (c) => c.notNull().check(sql`duration_minutes between 5 and 480`))
    .addColumn("buffer_before_minutes", "integer", (c) => c.notNull().defaultTo(0).check(sql`buffer_before_minutes between 0 and 120`))
    .addColumn("buffer_after_minutes", "integer", (c) => c.notNull().defaultTo(0).check(sql`buffer_after_minutes between 0 and 120`))
    .addColumn("provider_ids", sql`text[]`, (c) => c.notNull())
    .addColumn("required_capabilities", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn("patient_bookable", "boolean", (c) => c.notNull().defaultTo(false))
    // Booking rules in minutes; 0: no rule.
    .addColumn("min_notice_minutes", "integer", (c) => c.notNull().defaultTo(0).check(sql`min_notice_minutes >= 0`))
    .addColumn("horizon_minutes", "integer", (c) => c.notNull().defaultTo(0).check(sql`horizon_minutes >= 0`))
    .addColumn("patient_cancel_cutoff_minutes", "integer", (c) => c.notNull().defaultTo(0).check(sql`patient_cancel_cutoff_minutes >= 0`))
    .addColumn("max_per_patient_per_day", "integer", (c) => c.notNull().defaultTo(0).check(sql`max_per_patient_per_day >= 0`))
    .addColumn("color", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .execute();
  await schema.createIndex("visit_types_by_location").on("visit_types").columns(["location_id", "display_name", "visit_type_id"]).execute();

  await schema.alterTable("appointments").addColumn("location_id", "text", (c) => c.notNull().defaultTo("default").references("scheduling.locations.location_id")).execute();
  await schema.alterTable("appointments").addColumn("visit_type_id", "text", (c) => c.references("scheduling.visit_types.visit_type_id")).execute();
  await schema.alterTable("appointments").addColumn("series_id", "text").execute();
  await schema.alterTable("appointments").addColumn("series_index", "integer", (c) => c.check(sql`series_index > 0`)).execute();
  await schema.alterTable("appointments").addColumn("hold_id", "text", (c) => c.unique()).execute();
  await sql`alter table scheduling.appointments drop constraint appointments_during_nonempty`.execute(db);
  await sql`alter table scheduling.appointments add constraint appointments_during_nonempty
    check (not isempty(during) and lower(blocked) <= lower(during) and upper(blocked) >= upper(during))`.execute(db);
  await sql`create index appointments_by_location on scheduling.appointments (location_id, lower(during))`.execute(db);
  await sql`create index appointments_by_series on scheduling.appointments (series_id, series_index) where series_id is not null`.execute(db);
}

/** down drops what up added. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table scheduling.appointments drop constraint appointments_during_nonempty`.execute(db);
  await sql`alter table scheduling.appointments add constraint appointments_during_nonempty
    check (not isempty(during) and lower(during) = lower(blocked) and upper(blocked) >= upper(during))`.execute(db);
  for (const column of ["hold_id", "series_index", "series_id", "visit_type_id", "location_id"]) {
    await db.schema.withSchema("scheduling").alterTable("appointments").dropColumn(column).execute();
  }
  await db.schema.withSchema("scheduling").dropTable("visit_types").execute();
  await db.schema.withSchema("scheduling").alterTable("resources").dropColumn("capabilities").dropColumn("location_id").execute();
  await db.schema.withSchema("scheduling").alterTable("providers").dropColumn("location_id").execute();
  await db.schema.withSchema("scheduling").dropTable("locations").execute();
}
