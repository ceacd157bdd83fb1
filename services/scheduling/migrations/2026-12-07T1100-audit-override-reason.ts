import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.

/**
 * up gives scheduling.audit_log the reason staff gave for overriding a visit type's booking rule
 * (minimum notice, horizon, maximum per patient per day) on the entry of the booking or move it
 * allowed: null on every other entry. The table stays append-only; restore_carry_over copies the
 * columns both schemas have, so a backup made before this column restores as before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table scheduling.audit_log add column override_reason text
    constraint audit_log_override_reason_length check (length(override_reason) between 1 and 500)`.execute(db);
}

/** down drops the column. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table scheduling.audit_log drop column override_reason`.execute(db);
}
