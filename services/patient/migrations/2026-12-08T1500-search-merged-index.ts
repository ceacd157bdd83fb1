import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against application types.

/**
 * up adds patients_merged, a partial index of the merged records (few): SearchPatients leaves them
 * out of its candidates with one probe of this index per candidate instead of reading the row.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("patient").createIndex("patients_merged").on("patients").column("patient_id").where(sql.ref("merged_into"), "is not", null).execute();
}

/** down drops it. */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("patient").dropIndex("patients_merged").ifExists().execute();
}
