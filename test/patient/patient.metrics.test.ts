// medschedule_patient_merges_pending: the merges whose reassignment is not done in scheduling or
// queue, read from the patient schema at scrape time; no labels (no patient data in metrics).
import t from "tap";
import type { Kysely } from "kysely";
import type { Database } from "../../services/patient/db/database.js";
import { patientModule } from "../../services/patient/patient.module.js";
import { reportMergesPendingOf } from "../../services/patient/patient.metrics.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import { createModuleDatabase } from "../helpers/module-database.js";

/** samples returns the lines of one metric family in the registry's exposition. */
async function samples(name: string): Promise<string[]> {
  return (await metricsRegistry.metrics()).split("\n").filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
}

t.test("counts the merges not yet reassigned in both services, from the database", async (t) => {
  const database = await createModuleDatabase(t, [patientModule]);
  const db = database.db as Kysely<Database>;
  const now = new Date("2026-12-08T09:00:00Z");
  const ids = ["pat-m1", "pat-m2", "pat-m3", "pat-m4", "pat-s1"];
  await db
    .insertInto("patient.patients")
    .values(ids.map((id) => ({ patient_id: id, location_id: "default", data: "k1:sealed", key_id: "k1", gender: "UNKNOWN" as const, preferred_language: "tr", consents: "[]", version: 1, created_at: now, updated_at: now })))
    .execute();
  const merge = (id: string, schedulingDone: boolean, queueDone: boolean) => ({
    merged_patient_id: id,
    survivor_patient_id: "pat-s1",
    merged_at: now,
    scheduling_done_at: schedulingDone ? now : null,
    queue_done_at: queueDone ? now : null,
    next_attempt_at: now,
  });
  await db.insertInto("patient.merges").values([merge("pat-m1", false, false), merge("pat-m2", true, false), merge("pat-m3", false, true), merge("pat-m4", true, true)]).execute();

  const unreport = reportMergesPendingOf(db);
  t.same(await samples("medschedule_patient_merges_pending"), ["medschedule_patient_merges_pending 3"], "three merges wait for scheduling, queue or both; the done one does not count");
  await db.updateTable("patient.merges").set({ queue_done_at: now }).where("merged_patient_id", "=", "pat-m2").execute();
  t.same(await samples("medschedule_patient_merges_pending"), ["medschedule_patient_merges_pending 2"], "read again at each scrape");
  unreport();
  t.same(await samples("medschedule_patient_merges_pending"), ["medschedule_patient_merges_pending 0"], "a removed database no longer counts");
  t.match((await metricsRegistry.metrics()).split("\n").find((l) => l.startsWith("# HELP medschedule_patient_merges_pending")), /reassignment/, "documented in HELP");
});
