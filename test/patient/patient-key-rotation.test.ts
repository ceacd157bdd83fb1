// Key rotation (issue 21, item 3): the patient service restarted with PATIENT_ENCRYPTION_KEYS "new,old"
// re-seals every record with the new key in the background (two replicas sharing the work), without
// bumping versions, while searches keep finding and decrypting patients; afterwards every row names
// the new key and a service with the new key alone reads everything, and a requestId's stored first
// answer still replays.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { CreatePatientRequestSchema, GetPatientRequestSchema, PatientService, SearchPatientsRequestSchema } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import type { Database } from "../../services/patient/db/database.js";
import { patientModule } from "../../services/patient/patient.module.js";
import { reencryptAll } from "../../services/patient/patient-reencryption.js";
import { PatientServiceImpl } from "../../services/patient/patient-service.js";
import { vaultFromConfig, type PatientVault } from "../../services/patient/patient-vault.js";
import { UndecryptableError } from "../../services/runtime/crypto/field-cipher.js";
import { callerContext } from "../helpers/handler-context.js";
import { createModuleDatabase, openAnotherPool } from "../helpers/module-database.js";
import { seedDirectory, TARGETS } from "../helpers/patients.js";
import { TEST_KEYS_ENV } from "../helpers/system.js";

t.setTimeout(300_000);
const OLD = `old:${Buffer.alloc(32, 5).toString("base64")}`;
const NEW = `new:${Buffer.alloc(32, 6).toString("base64")}`;
const vaultOf = (keys: string) => vaultFromConfig({ patientEncryptionKeys: keys, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });
const database = await createModuleDatabase(t, [patientModule]);
const db = database.db as unknown as Kysely<Database>;
const all = await seedDirectory(db, vaultOf(OLD), 3_000, 99);
const ctx = callerContext(PatientService.method.searchPatients, "admin", "admin-1");
const getCtx = callerContext(PatientService.method.getPatient, "admin", "admin-1");
const createCtx = callerContext(PatientService.method.createPatient, "admin", "admin-1");
/** REGISTERED is a registration made under the old key: its stored first answer is sealed too. */
const REGISTERED = create(CreatePatientRequestSchema, { requestId: "rotate-1", givenName: "Döndü", familyName: "Anahtaroğlu", birthDate: "1971-04-02", phones: ["0532 555 01 02"] });
let registeredId = "";
/** rows is how many records the directory holds: the seeded ones and REGISTERED. */
const rows = () => all.length + (registeredId === "" ? 0 : 1);

/** service is the patient service class as a restart with `keys` makes it (its re-encryption job started unless `intervalMs` is 0). */
function service(keys: string, intervalMs?: number): PatientServiceImpl {
  const svc = new PatientServiceImpl({ db: database.db, vault: vaultOf(keys), reencryptIntervalMs: intervalMs });
  t.teardown(() => svc.close());
  return svc;
}

/** findsEveryTarget searches each target by name and phone and checks it comes first, decrypted, and reads it with GetPatient. */
async function findsEveryTarget(svc: PatientServiceImpl): Promise<string[]> {
  const wrong: string[] = [];
  for (const p of TARGETS) {
    const res = await svc.searchPatients(create(SearchPatientsRequestSchema, { query: `${p.data.givenName} ${p.data.familyName}` }), ctx);
    const byPhone = await svc.searchPatients(create(SearchPatientsRequestSchema, { phone: p.data.phones[0] }), ctx);
    if (res.patients?.[0]?.patientId !== p.patientId || res.patients[0].familyName !== p.data.familyName) wrong.push(`${p.patientId} by name`);
    if (byPhone.patients?.[0]?.patientId !== p.patientId) wrong.push(`${p.patientId} by phone`);
    const got = await svc.getPatient(create(GetPatientRequestSchema, { patientId: p.patientId }), getCtx);
    if (got.patient?.nationalId !== p.data.nationalId || got.patient?.familyName !== p.data.familyName) wrong.push(`${p.patientId} by GetPatient`);
  }
  return wrong;
}

const keyIds = async () => (await db.selectFrom("patient.patients").select(({ fn }) => ["key_id", fn.countAll<string>().as("n")]).groupBy("key_id").orderBy("key_id").execute()).map((r) => [r.key_id, Number(r.n)]);

/** opensAll opens every row with `vault`, counting the ones it cannot. */
async function opensAll(vault: PatientVault): Promise<{ ok: number; failed: number }> {
  let ok = 0;
  let failed = 0;
  for (const row of await db.selectFrom("patient.patients").select(["patient_id", "data"]).execute()) {
    try {
      vault.open(row.patient_id, row.data);
      ok++;
    } catch (err) {
      if (!(err instanceof UndecryptableError)) throw err;
      failed++;
    }
  }
  return { ok, failed };
}

t.test("before: every row under the old key", async (t) => {
  const svc = service(OLD, 0);
  registeredId = (await svc.createPatient(REGISTERED, createCtx)).patient?.patientId ?? "";
  t.same(await keyIds(), [["old", rows()]]);
  t.same(await findsEveryTarget(svc), []);
});

t.test("restarted with new,old: the background job re-seals every row while searches keep working", async (t) => {
  const svc = service(`${NEW},${OLD}`); // the job starts with the service
  const other = await openAnotherPool(t, database);
  const replica = reencryptAll(other.db as unknown as Kysely<Database>, vaultOf(`${NEW},${OLD}`), { batch: 50 }); // a second replica's job
  let rounds = 0;
  const problems: string[] = [];
  let done = false;
  const job = Promise.all([svc.reencryption.runOnce(), replica]).finally(() => (done = true));
  while (!done || rounds === 0) {
    problems.push(...(await findsEveryTarget(svc)));
    rounds++;
  }
  const [, replicaRows] = await job;
  await svc.reencryption.runOnce();
  t.same(problems, [], `searches during the rotation (${rounds} rounds) found every target; the replica re-sealed ${replicaRows} rows`);
  t.same(await keyIds(), [["new", rows()]], "every row names the new key");
  const versions = await db.selectFrom("patient.patients").select("version").distinct().execute();
  t.same(versions.map((v) => v.version), ["1"], "versions are not bumped");
  t.same(await findsEveryTarget(svc), []);
});

t.test("with the new key alone everything reads; the old key alone reads nothing", async (t) => {
  t.same(await opensAll(vaultOf(NEW)), { ok: rows(), failed: 0 });
  t.same(await opensAll(vaultOf(OLD)), { ok: 0, failed: rows() });
  const svc = service(NEW, 0);
  t.same(await findsEveryTarget(svc), []);
  const again = await svc.createPatient(REGISTERED, createCtx);
  t.equal(again.patient?.patientId, registeredId, "a retry of the registration made under the old key replays its first answer");
});
