// The patient service's own metrics. Labels never carry patient data: no ids, names or digests, only
// counts (DESIGN.md section 5; the RPC metrics come from the runtime's interceptor).
import { Gauge } from "prom-client";
import { metricsRegistry } from "../runtime/observability/metrics.js";
import type { Db } from "./db/database.js";

/** Databases whose pending merges medschedule_patient_merges_pending reports (one per patient module). */
const sources = new Set<Db>();

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
export const mergesPending = new Gauge({
  name: "medschedule_patient_merges_pending",
  help: "Patient merges whose reassignment of appointments or tickets to the surviving record is not done yet.",
  registers: [metricsRegistry],
  async collect() {
    let total = 0;
    for (const db of sources) {
      try {
        total += await countPendingMerges(db);
      } catch {
        // A closed database (tests, shutdown) reports nothing.
      }
    }
    this.set(total);
  },
});

/** reportMergesPendingOf adds a database to medschedule_patient_merges_pending; the returned function removes it. */
export function reportMergesPendingOf(db: Db): () => void {
  sources.add(db);
  return () => sources.delete(db);
}
