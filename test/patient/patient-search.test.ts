// SearchPatients (issue 21, item 2) over a seeded directory of 10,000 synthetic patients on real
// Postgres: a misspelt, ASCII-folded or reordered name, a date of birth, a phone in five formats, a
// national id or a medical record number each finds the right patient first; criteria combine with
// AND; pages of at most 20 with tokens bound to the query; location scoping and break-the-glass;
// one audit row per search without the query; merged records and digest collisions left out.
import t from "tap";
import { create, ScalarType } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { CreatePatientRequestSchema, PatientService, SearchPatientsRequestSchema } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import type { Database } from "../../services/patient/db/database.js";
import { patientModule } from "../../services/patient/patient.module.js";
import { PatientServiceImpl } from "../../services/patient/patient-service.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";
import { candidatesQuery, insertLookups } from "../../services/patient/repositories/lookup.repository.js";
import { nameWords, queryTerms } from "../../services/patient/search-terms.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { PermissionDeniedError } from "../../services/runtime/errors.js";
import { domainCodeOf, invalidArgument } from "../helpers/call-outcome.js";
import { testContext } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { insertPatients, seedDirectory, TARGETS } from "../helpers/patients.js";
import { TEST_KEYS_ENV } from "../helpers/system.js";

t.setTimeout(300_000);
const database = await createModuleDatabase(t, [patientModule]);
const db = database.db as unknown as import("kysely").Kysely<Database>;
const vault = vaultFromConfig({ patientEncryptionKeys: TEST_KEYS_ENV.PATIENT_ENCRYPTION_KEYS, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });
const svc = new PatientServiceImpl({ db: database.db, vault, reencryptIntervalMs: 0 });
t.teardown(() => svc.close());
const all = await seedDirectory(db, vault, 10_000);
const byId = new Map(all.map((p) => [p.patientId, p]));
const target = (id: string) => byId.get(id)!;

/** ctx is a caller of SearchPatients: a role, optionally with a `locations` claim. */
const ctx = (role: Role = "receptionist", locations?: string[]) =>
  testContext(PatientService.method.searchPatients, { principal: { subject: `${role}-1`, roles: [role], grantedRole: role, ownOnly: false, locations } });
const search = (req: Record<string, unknown>, c = ctx()) => svc.searchPatients(create(SearchPatientsRequestSchema, req), c);
const ids = async (req: Record<string, unknown>, c = ctx()) => ((await search(req, c)).patients ?? []).map((p) => p.patientId!);
const firstOf = async (req: Record<string, unknown>, c = ctx()) => (await ids(req, c))[0];

t.test("a misspelt name finds the right patient first: one letter missing, extra, changed, or two swapped", async (t) => {
  for (const query of ["Nuretin Karabulut", "Nurettin Karabullut", "Nurettin Karabulot", "Nurettin Karaublut", "Nurettin Karabulut", "karabulut nurettin"]) {
    t.equal(await firstOf({ query }), "tp-02", query);
  }
  for (const query of ["Aysegul Kahramnaoglu", "Ayşegül Kahramanolu", "aysegull kahramanoglu", "Aysegul Kahramanoglu"]) {
    t.equal(await firstOf({ query }), "tp-03", query);
  }
  t.equal(await firstOf({ query: "Gulizar Ciftcioglu" }), "tp-04");
  t.equal(await firstOf({ query: "Gülzar Çiftçioğlu" }), "tp-04", "a letter missing in a folded Turkish name");
  t.equal(await firstOf({ query: "chloe dubois" }), "tp-05", "other marks are folded too");
});

t.test("ASCII-folded Turkish letters and name beginnings find the patient first", async (t) => {
  for (const query of ["sukru isik", "SUKRU ISIK", "Şükrü Işık", "isik sukru", "şükrü ışık", "suk isi"]) {
    t.equal(await firstOf({ query }), "tp-01", query);
  }
  t.equal(await firstOf({ query: "nur karab" }), "tp-02", "beginnings of both names");
  const sukru = await search({ query: "sukru isik" });
  t.same(sukru.patients![0], { patientId: "tp-01", givenName: "Şükrü", familyName: "Işık", birthDate: "1931-03-14", medicalRecordNumber: "MRN-TP-01" }, "a result holds only id, names, birth date and MRN");
});

t.test("date of birth, phone in any common format, national id and medical record number find the patient first", async (t) => {
  t.same(await ids({ birthDate: "1931-03-14" }), ["tp-01"]);
  for (const phone of ["05321234567", "0532 123 45 67", "+90 532 123 45 67", "(0532) 123-4567", "905321234567", "0090 532 123 45 67", "+905321234567"]) {
    t.equal(await firstOf({ phone }), "tp-01", phone);
  }
  t.equal(await firstOf({ phone: "+33 6 12 34 56 78" }), "tp-05", "a foreign number with its country code");
  t.same(await ids({ phone: "0532 999 99 99" }), [], "a number nobody has finds no one");
  for (const p of TARGETS) t.same(await ids({ nationalId: p.data.nationalId }), [p.patientId], `national id of ${p.patientId}`);
  const generated = all[1234];
  t.same(await ids({ nationalId: generated.data.nationalId }), [generated.patientId], "a generated patient by national id");
  t.same(await ids({ phone: generated.data.phones[0] }), [generated.patientId], "a generated patient by phone");
  t.same(await ids({ medicalRecordNumber: generated.data.medicalRecordNumber.toLowerCase(), locationId: generated.locationId }), [generated.patientId], "MRN at a location, any case");
  t.same(await ids({ medicalRecordNumber: "mrn-tp-02" }, ctx("admin")), ["tp-02"], "MRN without a location: at every location for an unscoped caller");
  t.same(await ids({ medicalRecordNumber: "MRN-TP-02" }, ctx("receptionist", ["loc-south"])), [], "MRN at the caller's own locations only");
});

t.test("criteria combine with AND", async (t) => {
  t.same(await ids({ query: "sukru isik", birthDate: "1931-03-14", phone: "05321234567" }), ["tp-01"]);
  t.same(await ids({ query: "sukru isik", birthDate: "1932-07-01" }), [], "name of one, birth date of another");
  t.same(await ids({ query: "nurettin", nationalId: target("tp-01").data.nationalId }), []);
  const mehmets = await ids({ query: "mehmet", locationId: "loc-south" });
  t.ok(mehmets.length > 0 && mehmets.every((id) => byId.get(id)!.locationId === "loc-south"), "locationId filters");
});

t.test("pages: at most 20, tokens bound to the query, at most 100 results in all", async (t) => {
  const first = await search({ query: "mehmet" });
  t.equal(first.patients!.length, 20, "default page size 20");
  t.ok(first.patients!.every((p) => /mehmet/i.test(p.givenName!)), "every result is a Mehmet");
  const seen = new Set(first.patients!.map((p) => p.patientId));
  let token = first.nextPageToken!;
  let pages = 1;
  while (token !== "") {
    const page = await search({ query: "mehmet", pageToken: token });
    for (const p of page.patients!) {
      t.notOk(seen.has(p.patientId), "no patient twice across pages");
      seen.add(p.patientId);
    }
    token = page.nextPageToken!;
    pages++;
  }
  t.equal(seen.size, 100, "the 100 best candidates, over 5 pages");
  t.equal(pages, 5);
  const small = await search({ query: "mehmet", pageSize: 7 });
  t.equal(small.patients!.length, 7);
  const other = await invalidArgument(search({ query: "ahmet", pageToken: small.nextPageToken }));
  t.same(typeof other === "string" ? other : other.violations.map((v) => [v.field, v.reason]), [["pageToken", "INVALID_PAGE_TOKEN"]], "a token of another query is refused");
  const big = await invalidArgument(search({ query: "mehmet", pageSize: 21 }));
  t.same(typeof big === "string" ? big : big.violations.map((v) => [v.field, v.reason]), [["pageSize", "OUT_OF_RANGE"]]);
});

t.test("bad input: field violations naming the field, never the value", async (t) => {
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ query: "ab" }, "query", "QUERY_TOO_SHORT"],
    [{ query: "a b" }, "query", "QUERY_TOO_SHORT"],
    [{}, "query", "NO_CRITERIA"],
    [{ locationId: "default" }, "query", "NO_CRITERIA"],
    [{ query: "meh\u0000met" }, "query", "CONTROL_CHARACTERS"],
    [{ phone: "98765" }, "phone", "INVALID_PHONE"],
    [{ phone: "0532\u00001234567" }, "phone", "CONTROL_CHARACTERS"],
    [{ nationalId: "1234" }, "nationalId", "INVALID_NATIONAL_ID"],
    [{ birthDate: "1931-02-30" }, "birthDate", "INVALID_LOCAL_DATE"],
    [{ query: "mehmet", accessReason: "short" }, "accessReason", "TOO_SHORT"],
    [{ query: "mehmet", locationId: "bad id!" }, "locationId", "INVALID_ID"],
  ];
  for (const [req, field, reason] of cases) {
    const err = await invalidArgument(search(req));
    t.same(typeof err === "string" ? err : err.violations.map((v) => [v.field, v.reason]), [[field, reason]], JSON.stringify(req));
    if (typeof err !== "string" && typeof req.phone === "string") t.notMatch(err.message, req.phone, "the phone is not repeated");
  }
  const initials = await ids({ query: "mehmet a" });
  t.ok(initials.length > 0 && initials.every((id) => /(^|\s)[aA]/.test(`${byId.get(id)!.data.givenName} ${byId.get(id)!.data.familyName}`)), "each result has a name word starting with the initial");
});

t.test("location scoping: limited staff see their locations' patients, break-the-glass sees all and is audited", async (t) => {
  t.same(await ids({ query: "sukru isik" }, ctx("receptionist", ["loc-south"])), [], "tp-01 is at loc-north");
  t.equal(await firstOf({ query: "sukru isik" }, ctx("doctor", ["loc-north"])), "tp-01");
  t.equal(await firstOf({ query: "sukru isik" }, ctx("receptionist")), "tp-01", "a token without locations: everywhere");
  // An administrator whose token lists locations is limited like other staff, as GetPatient limits them.
  t.same(await ids({ query: "sukru isik" }, ctx("admin", ["loc-south"])), [], "an administrator limited to loc-south");
  t.equal(await firstOf({ query: "sukru isik" }, ctx("admin")), "tp-01", "an administrator without the claim sees everyone");
  t.equal(await domainCodeOf(search({ query: "sukru isik", locationId: "loc-north" }, ctx("receptionist", ["loc-south"]))), Code.PermissionDenied, "naming a location outside them is refused");
  const err = await search({ query: "sukru isik", locationId: "loc-north" }, ctx("receptionist", ["loc-south"])).catch((e: unknown) => e);
  t.ok(err instanceof PermissionDeniedError && err.reason === "OUTSIDE_YOUR_LOCATIONS");
  const denied = await db.selectFrom("patient.audit_log").selectAll().orderBy("id", "desc").limit(1).executeTakeFirstOrThrow();
  t.match(denied, { action: "DeniedSearch", record_type: "patient_search", record_id: null, actor: "receptionist-1" }, "the refusal is audited");

  const reason = "patient arrived by ambulance, registered at north";
  const before = Number((await sql<{ n: string }>`select max(id) as n from patient.audit_log`.execute(db)).rows[0].n ?? 0);
  t.equal(await firstOf({ query: "sukru isik", accessReason: reason }, ctx("receptionist", ["loc-south"])), "tp-01", "with an accessReason");
  const rows = await db.selectFrom("patient.audit_log").selectAll().where("id", ">", String(before) as never).execute();
  t.equal(rows.length, 1, "one audit row per search");
  t.match(rows[0], { actor: "receptionist-1", role: "receptionist", action: "SearchPatients", record_type: "patient_search" });
  t.equal(rows[0].record_id!.split(" ")[0], "tp-01", "the returned ids");
  t.equal(vault.openReason(rows[0].access_reason!), reason, "the reason, sealed");
  t.notMatch(rows[0].access_reason!, /ambulance/);
});

t.test("the audit log holds who searched and what they were shown, never what they typed", async (t) => {
  await search({ query: "Kahramanoğlu", phone: "0505 111 22 33" });
  await search({ query: "zzqqxx" });
  const dump = JSON.stringify(await db.selectFrom("patient.audit_log").selectAll().execute());
  for (const s of ["kahraman", "Kahraman", "111 22 33", "1112233", "zzqqxx", "Nuretin", "Karabul", "Gülzar"]) t.notOk(dump.includes(s), s);
  const last = await db.selectFrom("patient.audit_log").selectAll().orderBy("id", "desc").limit(2).execute();
  t.same(last.map((r) => r.record_id), [null, "tp-03"], "no results: record_id null");
});

t.test("merged records and digest collisions are left out", async (t) => {
  const dup = { ...target("tp-04"), patientId: "tp-04-dup" };
  await insertPatients(db, vault, [{ ...dup, data: { ...dup.data, nationalId: "", medicalRecordNumber: "" } }]);
  t.same((await ids({ query: "gulizar ciftcioglu" })).sort(), ["tp-04", "tp-04-dup"]);
  await db.updateTable("patient.patients").set({ merged_into: "tp-04" }).where("patient_id", "=", "tp-04-dup").execute();
  t.same(await ids({ query: "gulizar ciftcioglu" }), ["tp-04"], "the merged record is not found");
  // A digest that collides: tp-05 holds the digest of a word she does not have.
  await insertLookups(db, [{ kind: "name", digest: vault.index.digest64("name", "zzqqxx"), patientId: "tp-05" }]);
  t.same(await ids({ query: "zzqqxx" }), [], "the decrypted check drops her");
  t.equal(await firstOf({ query: "chloe dubois" }), "tp-05", "found by her own name still");
});

t.test("the name query goes through the lookups index, also for a common beginning", async (t) => {
  for (const query of ["meh", "mehmet yilmaz", "yil"]) {
    const words = [...new Set(nameWords(query))].map((w) => queryTerms(w, vault.index));
    const q = candidatesQuery({ words, exact: [], nationalIdDigest: undefined, mrnDigests: undefined, locations: ["loc-north"], limit: 100 });
    const plan = (await sql<{ "QUERY PLAN": string }>`explain ${q}`.execute(db)).rows.map((r) => r["QUERY PLAN"]).join("\n");
    t.match(plan, /Index (Only )?Scan using lookups_pkey/, `${query}: ${plan}`);
    t.notMatch(plan, /Seq Scan on lookups/, query);
  }
});

t.test("a patient registered through CreatePatient is found by name, phone and national id", async (t) => {
  const nationalId = "10000000146";
  const created = await svc.createPatient(
    create(CreatePatientRequestSchema, { requestId: "reg-1", givenName: "Işıl Zümrüt", familyName: "Çağlayangil", birthDate: "1990-02-03", phones: ["(0533) 765-4321"], nationalId, locationId: "loc-north" }),
    testContext(PatientService.method.createPatient, { principal: { subject: "rec-2", roles: ["receptionist"], grantedRole: "receptionist", ownOnly: false, locations: ["loc-north"] } }),
  );
  const id = created.patient!.patientId;
  t.equal(await firstOf({ query: "isil caglayangil" }, ctx("receptionist", ["loc-north"])), id, "by folded name, at the location it was registered");
  t.equal(await firstOf({ query: "zumrut caglayangl" }), id, "by the second given name and a misspelt family name");
  t.same(await ids({ phone: "+90 533 765 43 21" }), [id]);
  t.same(await ids({ nationalId }), [id]);
});

t.test("a NUL in any string field is INVALID_ARGUMENT naming that field", async (t) => {
  const valid: Record<string, string> = { query: "mehmet", birthDate: "1931-03-14", phone: "05321234567", nationalId: target("tp-01").data.nationalId, medicalRecordNumber: "MRN-TP-01", locationId: "loc-north", accessReason: "patient at the desk asks" };
  const fields = SearchPatientsRequestSchema.fields.filter((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING).map((f) => f.localName);
  t.same([...fields].sort(), [...Object.keys(valid), "pageToken"].sort(), "every string field of the request");
  for (const field of fields) {
    const err = await invalidArgument(search({ ...valid, [field]: `${valid[field] ?? "abc"}\u0000` }));
    t.ok(typeof err !== "string" && err.violations.some((v) => v.field === field), `${field}: ${typeof err === "string" ? err : err.violations.map((v) => v.field).join(",")}`);
  }
});
