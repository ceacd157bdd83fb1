import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types. Every statement names
// the schema explicitly, whatever search_path the runner uses.

/**
 * up creates the patient schema: the only place patient data is stored (DESIGN.md invariant 10), and
 * none of it in plaintext (docs/patient-data.md says column by column what is stored and why).
 *   * patients: one row per record. `data` is the sealed JSON of names, birth date, phones, email,
 *     identifiers, related persons and notes (AES-256-GCM, key id in front, `key_id` repeated for
 *     the re-encryption job). Gender, language, consents, location and version are plain: they are
 *     not identifying on their own and notifications and policies need to read them.
 *     `national_id_digest` and `mrn_digest` are blind indexes (HMAC under PATIENT_INDEX_KEY) that
 *     make a national id unique in the directory and a medical record number unique per location.
 *   * lookups: blind-index digests for search (phone, birth date, name terms), many per patient.
 *   * patient_locations: where a patient is registered or was booked or ticketed (ResolvePatient with
 *     a location), which is where staff limited to locations may read them.
 *   * merges: the reassignment of a merged record's appointments and tickets, retried until the
 *     scheduling and queue services have both done it.
 *   * request_keys and an append-only audit_log, as every service has, with the break-the-glass
 *     access_reason.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createSchema("patient").ifNotExists().execute();
  const schema = db.schema.withSchema("patient");

  await schema
    .createTable("patients")
    .addColumn("patient_id", "text", (c) => c.primaryKey())
    .addColumn("location_id", "text", (c) => c.notNull())
    .addColumn("data", "text", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("gender", "text", (c) => c.notNull().check(sql`gender in ('UNSPECIFIED', 'MALE', 'FEMALE', 'OTHER', 'UNKNOWN')`))
    .addColumn("preferred_language", "text", (c) => c.notNull())
    .addColumn("consents", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("national_id_digest", "text")
    .addColumn("mrn_digest", "text")
    .addColumn("version", "bigint", (c) => c.notNull().defaultTo(1).check(sql`version >= 1`))
    .addColumn("merged_into", "text", (c) => c.references("patient.patients.patient_id"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addCheckConstraint("patients_not_merged_into_self", sql`merged_into is null or merged_into <> patient_id`)
    .execute();
  await schema.createIndex("patients_national_id_digest").unique().on("patients").column("national_id_digest").where(sql.ref("national_id_digest"), "is not", null).execute();
  // mrn_digest is keyed with the location: unique per location.
  await schema.createIndex("patients_mrn_digest").unique().on("patients").column("mrn_digest").where(sql.ref("mrn_digest"), "is not", null).execute();
  await schema.createIndex("patients_by_key_id").on("patients").column("key_id").execute();
  await schema.createIndex("patients_by_location").on("patients").columns(["location_id", "patient_id"]).execute();

  // kind: 'phone', 'birth_date', 'name' (a whole name word), 'name_prefix' (its first 3+ letters),
  // 'name_edit' (the word with one letter left out: one typo apart shares one of them).
  await schema
    .createTable("lookups")
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("digest", "bigint", (c) => c.notNull())
    .addColumn("patient_id", "text", (c) => c.notNull().references("patient.patients.patient_id").onDelete("cascade"))
    .addPrimaryKeyConstraint("lookups_pkey", ["kind", "digest", "patient_id"])
    .execute();
  await schema.createIndex("lookups_by_patient").on("lookups").column("patient_id").execute();

  await schema
    .createTable("patient_locations")
    .addColumn("patient_id", "text", (c) => c.notNull().references("patient.patients.patient_id").onDelete("cascade"))
    .addColumn("location_id", "text", (c) => c.notNull())
    .addColumn("since", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("patient_locations_pkey", ["patient_id", "location_id"])
    .execute();
  await schema.createIndex("patient_locations_by_location").on("patient_locations").columns(["location_id", "patient_id"]).execute();

  await schema
    .createTable("merges")
    .addColumn("merged_patient_id", "text", (c) => c.primaryKey().references("patient.patients.patient_id"))
    .addColumn("survivor_patient_id", "text", (c) => c.notNull().references("patient.patients.patient_id"))
    .addColumn("merged_at", "timestamptz", (c) => c.notNull())
    .addColumn("scheduling_done_at", "timestamptz")
    .addColumn("queue_done_at", "timestamptz")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_error", "text")
    .execute();
  await schema.createIndex("merges_pending").on("merges").column("next_attempt_at").where(sql<boolean>`scheduling_done_at is null or queue_done_at is null`).execute();

  await schema
    .createTable("request_keys")
    .addColumn("caller", "text", (c) => c.notNull())
    .addColumn("rpc", "text", (c) => c.notNull())
    .addColumn("request_id", "text", (c) => c.notNull())
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("response", "bytea")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("request_keys_pkey", ["caller", "rpc", "request_id"])
    .execute();
  await schema.createIndex("request_keys_by_time").on("request_keys").column("created_at").execute();

  await schema
    .createTable("audit_log")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("record_type", "text")
    .addColumn("record_id", "text")
    .addColumn("on_behalf_of", "text")
    .addColumn("access_reason", "text")
    .execute();
  await schema.createIndex("audit_log_by_record").on("audit_log").columns(["record_type", "record_id"]).execute();
  await sql`
    create function patient.audit_log_append_only() returns trigger language plpgsql as $fn$
    begin
      raise exception 'patient.audit_log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege', hint = 'audit rows are never changed or removed';
    end
    $fn$`.execute(db);
  await sql`
    create trigger audit_log_append_only
    before update or delete or truncate on patient.audit_log
    for each statement execute function patient.audit_log_append_only()`.execute(db);
}

/** down drops the tables (the schema stays: the migrator keeps its bookkeeping in it). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists audit_log_append_only on patient.audit_log`.execute(db);
  await sql`drop function if exists patient.audit_log_append_only()`.execute(db);
  for (const table of ["audit_log", "request_keys", "merges", "patient_locations", "lookups", "patients"]) {
    await db.schema.withSchema("patient").dropTable(table).ifExists().execute();
  }
}
