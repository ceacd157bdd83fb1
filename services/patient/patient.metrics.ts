// The patient service's own metrics. Labels never carry patient data: no ids, names or digests, only
// counts (DESIGN.md section 5; the RPC metrics come from the runtime's interceptor).
import { databaseCountGauge } from "../runtime/observability/database-count-gauge.js";
import type { Db } from "./db/database.js";

/** countPendingMerges counts the merges whose reassignment in scheduling or queue is not done yet. */
export async function countPendingMerges(db: Db): Promise<number> {
  const row = await db
    .selectFrom("patient.merges")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where((eb) => eb.or([eb("scheduling_done_at", "is", null), eb("queue_done_at", "is", null)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * mergesPending is `medschedule_patient_merges_pending`: merges whose appointments or tickets are not
 * yet moved to the survivor (ReassignPatient), read from the database at scrape time, so every
 * replica reports the same figure (alerts take the max). A backlog that stays above 0 means
 * scheduling or queue keeps refusing or cannot be reached.
 */
export const mergesPending = databaseCountGauge<Db>({
  name: "medschedule_patient_merges_pending",
  help: "Patient merges whose reassignment of appointments or tickets to the surviving record is not done yet.",
  count: countPendingMerges,
});

/** reportMergesPendingOf adds a database to medschedule_patient_merges_pending; the returned function removes it. */
export function reportMergesPendingOf(db: Db): () => void {
  return mergesPending.report(db);
}
