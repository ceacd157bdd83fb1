// The migration that lets a patient hold one active waitlist entry per provider and stretch of time
// resolves what earlier code let pile up: overlapping active entries of one patient and provider are
// reduced to the offered ones, then the earliest joined; entries of other patients, other providers,
// adjacent windows and ended entries stay as they were; afterwards Postgres refuses a duplicate. Real
// Postgres, the migration's up() run against rows written as the old code wrote them.
import t from "tap";
import { sql } from "kysely";
import { down, up } from "../../services/scheduling/migrations/2026-12-05T1200-one-waitlist-entry-per-window.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { createModuleDatabase } from "../helpers/module-database.js";

const database = await createModuleDatabase(t, [schedulingModule]);
const db = database.db;

t.test("overlapping active entries are resolved, then the constraint holds", async (t) => {
  await down(db);
  for (const p of ["p-1", "p-2"]) await sql`insert into scheduling.providers (provider_id, display_name, time_zone, created_at) values (${p}, ${p}, 'UTC', now())`.execute(db);
  const h = (hour: number) => new Date(Date.UTC(2026, 6, 2, hour));
  const rows: [string, string, string, number, number, string][] = [
    ["w-1", "p-1", "pat", 9, 12, "WAITING"],
    ["w-2", "p-1", "pat", 9, 12, "WAITING"], // the same again: expired
    ["w-3", "p-1", "pat", 10, 11, "OFFERED"], // offered: kept, and w-1 overlapping it expires
    ["w-4", "p-1", "pat", 12, 14, "WAITING"], // adjacent to w-1, overlapping neither kept one: kept
    ["w-5", "p-2", "pat", 9, 12, "WAITING"], // another provider
    ["w-6", "p-1", "pat-b", 9, 12, "WAITING"], // another patient
    ["w-7", "p-1", "pat", 9, 12, "EXPIRED"], // ended already
    ["w-8", "p-1", "pat", 13, 15, "WAITING"], // overlaps w-4: expired
  ];
  for (const [id, provider, patient, from, to, status] of rows) {
    await sql`insert into scheduling.waitlist (entry_id, provider_id, patient_id, window_start, window_end, status, created_at, updated_at)
      values (${id}, ${provider}, ${patient}, ${h(from)}, ${h(to)}, ${status}, now(), now())`.execute(db);
  }
  await up(db);
  const { rows: after } = await sql<{ entry_id: string; status: string }>`select entry_id, status from scheduling.waitlist order by entry_id`.execute(db);
  t.same(Object.fromEntries(after.map((r) => [r.entry_id, r.status])), {
    "w-1": "EXPIRED",
    "w-2": "EXPIRED",
    "w-3": "OFFERED",
    "w-4": "WAITING",
    "w-5": "WAITING",
    "w-6": "WAITING",
    "w-7": "EXPIRED",
    "w-8": "EXPIRED",
  });
  const dup = await sql`insert into scheduling.waitlist (entry_id, provider_id, patient_id, window_start, window_end, status, created_at, updated_at)
      values ('w-9', 'p-1', 'pat', ${h(11)}, ${h(13)}, 'WAITING', now(), now())`
    .execute(db)
    .then(
      () => "inserted",
      (err: { code?: string }) => err.code,
    );
  t.equal(dup, "23P01", "an overlapping active entry is refused by Postgres");
  await up(db);
  t.pass("up runs again without harm");
});
