// The requestIds of patient writes: a retry within the retention answers as the first call did, and
// after REQUEST_KEY_RETENTION_MS (24 h) the key and its sealed answer (which holds the record) are
// pruned, as every service prunes its keys, so stored answers do not pile up for ever. The class
// against a real database under a fake clock.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { CreatePatientRequestSchema, PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { REQUEST_KEY_RETENTION_MS } from "../../services/patient/patient-records.js";
import { PatientServiceImpl } from "../../services/patient/patient-service.js";
import { patientModule } from "../../services/patient/patient.module.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { callerContext } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { TEST_KEYS_ENV } from "../helpers/system.js";

t.test("request keys are pruned after their retention", async (t) => {
  const database = await createModuleDatabase(t, [patientModule]);
  const clock = createFakeClock(new Date("2026-12-05T08:00:00Z"));
  const vault = vaultFromConfig({ patientEncryptionKeys: TEST_KEYS_ENV.PATIENT_ENCRYPTION_KEYS, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });
  const svc = new PatientServiceImpl({ db: database.db, vault, clock, config: { patientDefaultRegion: "TR" } });
  t.teardown(() => svc.close());
  const ctx = () => callerContext(PatientService.method.createPatient, "receptionist", "rec-1");
  const req = (requestId: string) => create(CreatePatientRequestSchema, { requestId, givenName: "Ayşe", familyName: "Demir", birthDate: "1990-01-02" });
  const keys = async () => (await database.db.selectFrom("patient.request_keys" as never).select("request_id" as never).execute()).map((r) => (r as { request_id: string }).request_id).sort();

  const first = await svc.createPatient(req("old"), ctx());
  clock.advance(REQUEST_KEY_RETENTION_MS - 60_000);
  t.equal((await svc.createPatient(req("old"), ctx())).patient?.patientId, first.patient?.patientId, "a retry within the retention replays");
  clock.advance(2 * 60_000);
  await svc.createPatient(req("new"), ctx());
  // The prune runs in the background after the write; wait for it (bounded only against a hang).
  for (let i = 0; i < 200 && (await keys()).includes("old"); i++) await new Promise((r) => setTimeout(r, 25));
  t.same(await keys(), ["new"], "the key past its retention is gone, the new one kept");
});
