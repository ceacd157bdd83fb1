// Patient data at rest (issue 21, item 3): a pg_dump of the patient schema, after 10,000 synthetic
// patients were written and searched for, holds none of their names (as written or folded to ASCII),
// phones (E.164 or as dialled), e-mails, birth dates or national ids in plaintext. Sealed values
// (`keyId:base64`) and blind-index digests are the only opaque text in it: the lookups hold integers
// only, and every other column is checked after those are taken out.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Kysely } from "kysely";
import { PatientService, SearchPatientsRequestSchema } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { libpqEnv, runTool } from "../../services/backup/engines/run-tool.js";
import type { Database } from "../../services/patient/db/database.js";
import { patientModule } from "../../services/patient/patient.module.js";
import { PatientServiceImpl } from "../../services/patient/patient-service.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";
import { foldName } from "../../services/patient/search-terms.js";
import { callerContext } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { seedDirectory } from "../helpers/patients.js";
import { TEST_KEYS_ENV } from "../helpers/system.js";

t.setTimeout(300_000);
const database = await createModuleDatabase(t, [patientModule]);
const db = database.db as unknown as Kysely<Database>;
const vault = vaultFromConfig({ patientEncryptionKeys: TEST_KEYS_ENV.PATIENT_ENCRYPTION_KEYS, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });
const svc = new PatientServiceImpl({ db: database.db, vault, reencryptIntervalMs: 0 });
t.teardown(() => svc.close());
const all = await seedDirectory(db, vault, 10_000, 7);
const ctx = callerContext(PatientService.method.searchPatients, "receptionist");
for (const p of all.slice(0, 50)) {
  const found = await svc.searchPatients(create(SearchPatientsRequestSchema, { query: `${p.data.givenName} ${p.data.familyName}`, phone: p.data.phones[0], accessReason: `looking for ${p.data.familyName} at the desk` }), ctx);
  if (found.patients?.[0]?.patientId !== p.patientId) t.fail(`the search for ${p.patientId} did not find it first`);
}

const dir = await mkdtemp(path.join(os.tmpdir(), "patient-dump-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const file = path.join(dir, "patient.sql");
await runTool("pg_dump", ["--format=plain", "--no-owner", "--no-privileges", "--schema=patient", `--file=${file}`], { env: libpqEnv(database.databaseUrl) });
const dump = await readFile(file, "utf8");

/** SEALED is a FieldCipher value; DIGEST a BlindIndex.digest. */
const SEALED = /\b[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{24,}={0,2}/g;
const DIGEST = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
const opaque = dump.replace(SEALED, " ").replace(DIGEST, " ");

/** copyRows are the data lines of one table's COPY block. */
function copyRows(table: string): string[] {
  const start = dump.indexOf(`COPY patient.${table} `);
  if (start < 0) return [];
  const body = dump.slice(dump.indexOf("\n", start) + 1);
  return body.slice(0, body.indexOf("\n\\.\n")).split("\n");
}

t.test("the dump holds every record, sealed", async (t) => {
  const patients = copyRows("patients");
  t.equal(patients.length, all.length, "one row per patient");
  t.equal(patients.filter((l) => l.split("\t")[2].match(/^t1:[A-Za-z0-9+/]+={0,2}$/)).length, all.length, "data is sealed under key t1 in every row");
  const lookups = copyRows("lookups");
  t.ok(lookups.length > all.length * 10, `${lookups.length} lookup rows`);
  t.same(lookups.filter((l) => !/^(name|name_prefix|name_edit|phone|birth_date)\t-?\d+\t[a-z0-9-]+$/.test(l)), [], "lookups hold a kind, an integer digest and a patient id only");
  t.ok(copyRows("audit_log").length >= 50, "the searches were audited");
});

t.test("no name, phone, e-mail, birth date or national id in plaintext", async (t) => {
  // Every run of letters, digits, dates and e-mail-like text in the dump, once (then looked up per patient).
  const tokens = (re: RegExp, text: string) => new Set(Array.from(text.matchAll(re), (m) => m[0].toLowerCase()));
  const letterRuns = tokens(/\p{L}+/gu, opaque);
  const digitRuns = tokens(/\d+/g, dump);
  const dates = tokens(/\d{4}-\d{2}-\d{2}/g, dump);
  const emails = tokens(/[\p{L}0-9._%+-]+@[\p{L}0-9.-]+/gu, dump);
  const leaks = new Set<string>();
  let words = 0;
  for (const p of all) {
    const d = p.data;
    for (const name of [d.givenName, d.familyName]) {
      for (const w of [...name.toLowerCase().split(/\s+/), ...foldName(name).split(" ")]) {
        words++;
        if (letterRuns.has(w)) leaks.add(w);
      }
    }
    if (emails.has(d.email.toLowerCase())) leaks.add(d.email);
    if (dates.has(d.birthDate)) leaks.add(d.birthDate);
    for (const v of [d.nationalId, ...d.phones.flatMap((ph) => [ph.slice(1), ph.slice(3), `0${ph.slice(3)}`])]) if (digitRuns.has(v)) leaks.add(v);
  }
  t.same([...leaks], [], `${words} name words, ${all.length} patients' contacts and identifiers looked for among ${letterRuns.size} words, ${digitRuns.size} numbers, ${dates.size} dates, ${emails.size} e-mail-like strings`);
  t.notOk(dump.includes("at the desk"), "the access reasons are sealed too");
});
