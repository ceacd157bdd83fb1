import { sql, type Kysely } from "kysely";

// Frozen in time: written against Kysely<any>, never against the application's Database types.
// Migrations run with search_path = scheduling, public: btree_gist (created by the runtime) is visible.

const CONSTRAINT = "waitlist_one_active_per_window";

/**
 * up lets a patient hold at most one active (WAITING or OFFERED) waitlist entry per provider for any
 * stretch of time: an exclusion constraint over (provider, patient, window). Overlapping active
 * entries left from before are resolved first: offered ones, then the earliest joined, stay; the
 * others become EXPIRED. Idempotent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ entry_id: string; provider_id: string; patient_id: string; window_start: Date; window_end: Date }>`
    select entry_id, provider_id, patient_id, window_start, window_end from scheduling.waitlist
    where status in ('WAITING', 'OFFERED')
    order by provider_id, patient_id, (status = 'OFFERED') desc, seq`.execute(db);
  const kept = new Map<string, { start: number; end: number }[]>();
  const expire: string[] = [];
  for (const r of rows) {
    const key = JSON.stringify([r.provider_id, r.patient_id]);
    const windows = kept.get(key) ?? [];
    const start = new Date(r.window_start).getTime();
    const end = new Date(r.window_end).getTime();
    if (windows.some((w) => w.start < end && start < w.end)) {
      expire.push(r.entry_id);
      continue;
    }
    windows.push({ start, end });
    kept.set(key, windows);
  }
  if (expire.length > 0) {
    await sql`update scheduling.waitlist set status = 'EXPIRED', updated_at = now() where entry_id = any(${expire}::text[])`.execute(db);
  }
  await sql`alter table scheduling.waitlist drop constraint if exists ${sql.raw(CONSTRAINT)}`.execute(db);
  await sql`alter table scheduling.waitlist add constraint ${sql.raw(CONSTRAINT)}
    exclude using gist (provider_id with =, patient_id with =, tstzrange(window_start, window_end, '[)') with &&)
    where (status in ('WAITING', 'OFFERED'))`.execute(db);
}

/** down drops the constraint (entries expired by up stay expired). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table scheduling.waitlist drop constraint if exists ${sql.raw(CONSTRAINT)}`.execute(db);
}
