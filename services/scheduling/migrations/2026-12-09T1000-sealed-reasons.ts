import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types. Every statement names
// the schema explicitly, whatever search_path the runner uses.

/**
 * up prepares the free text the scheduling schema keeps about patients for sealing (DESIGN.md
 * invariant 10; services/scheduling/reason-vault.ts). A migration holds no keys, so it only adds what
 * tells a sealed value from plaintext; the service seals what is left in plaintext when it starts:
 *   * appointments.reason_key_id and cancel_reason_key_id: the key id a value was sealed with, null
 *     for "" and for plaintext written before (what the service's sealer looks for).
 *   * audit_log.override_reason_key_id, the same for staff's override reason; a sealed reason is
 *     longer than the 500 characters the plaintext was limited to (the service still checks that).
 *   * The location change log ignores an update made while `scheduling.sealing` is on in the
 *     transaction: sealing a value in place changes nothing anybody watching can see.
 * Stored replay responses (request_keys.response) need no column: a sealed one starts with byte 0,
 * which no protobuf message does.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table scheduling.appointments add column reason_key_id text, add column cancel_reason_key_id text`.execute(db);
  await sql`alter table scheduling.audit_log add column override_reason_key_id text`.execute(db);
  await sql`alter table scheduling.audit_log drop constraint audit_log_override_reason_length`.execute(db);
  await sql`alter table scheduling.audit_log add constraint audit_log_override_reason_length check (length(override_reason) between 1 and 4000)`.execute(db);
  await sql`drop trigger appointments_location_changes_update on scheduling.appointments`.execute(db);
  await sql`create trigger appointments_location_changes_update after update on scheduling.appointments
    for each row when (old is distinct from new and coalesce(current_setting('scheduling.sealing', true), '') <> 'on')
    execute function scheduling.append_location_change()`.execute(db);
}

/** down drops the key id columns (values already sealed stay sealed: only the service can open them). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger appointments_location_changes_update on scheduling.appointments`.execute(db);
  await sql`create trigger appointments_location_changes_update after update on scheduling.appointments
    for each row when (old is distinct from new) execute function scheduling.append_location_change()`.execute(db);
  await sql`alter table scheduling.audit_log drop column override_reason_key_id`.execute(db);
  await sql`alter table scheduling.appointments drop column reason_key_id, drop column cancel_reason_key_id`.execute(db);
}
