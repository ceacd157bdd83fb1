// Patient records over the network (the whole test system on real Postgres, every call with a signed
// token through the role table): what we try to break is that a phone number in any common format
// is stored as one E.164 number; that a national id is checked and used once in the directory, a
// medical record number once per location, without the refusal naming the other record; that an
// update needs the version it read (a stale one changes nothing: ABORTED VERSION_MISMATCH) and a
// retry with the same requestId answers as the first call did; that a patient reads and changes only
// their own record and only its contacts, language and consents; that staff of another location are
// refused without an accessReason and audited (with the reason sealed) with one; that a display board
// reads nothing and only the service role reads contact details; and that nothing of a record is
// stored in plaintext.
import t, { type Test } from "tap";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { ContactChannel, Gender, Relationship } from "../../gen/medschedule/patient/v1/patient_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";
import { rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { startTestSystem, TEST_KEYS_ENV, type TestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

t.setTimeout(240_000);

/** A synthetic T.C. Kimlik No with valid check digits (and two more). */
const NATIONAL_ID = "10000000146";
const OTHER_NATIONAL_ID = "12345678950";

async function system(t: Test) {
  const sys = await startTestSystem(t, { env: { ...TEST_KEYS_ENV, PATIENT_CHECK: "on" } });
  const as = async (roles: Role[], subject?: string, locations?: string[]): Promise<Client<typeof PatientService>> =>
    createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(roles, subject, locations ? { locations } : undefined)));
  return { sys, as };
}

/** testVault opens what the test system sealed (its test keys). */
const testVault = () => vaultFromConfig({ patientEncryptionKeys: TEST_KEYS_ENV.PATIENT_ENCRYPTION_KEYS, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });

let seq = 0;
const rid = () => `req-${++seq}-${Date.now()}`;

function registration(extra: Record<string, unknown> = {}) {
  return {
    requestId: rid(),
    givenName: "Şükrü",
    familyName: "Yılmaz",
    birthDate: "1980-04-23",
    gender: Gender.MALE,
    phones: ["0532 123 45 67"],
    email: "Sukru.Yilmaz@Example.COM",
    ...extra,
  };
}

async function auditRows(sys: TestSystem, patientId: string) {
  const r = await (await sys.runtime.ready).db
    .withSchema("patient")
    .selectFrom("audit_log" as never)
    .selectAll()
    .where("record_id" as never, "=", patientId as never)
    .orderBy("id" as never)
    .execute();
  return r as unknown as { actor: string; role: string; action: string; record_type: string; access_reason: string | null }[];
}

t.test("records: create, formats, identifiers, updates, retries", async (t) => {
  const { sys, as } = await system(t);
  const desk = await as(["receptionist"], "rec-1");

  await t.test("phones in five formats are stored as one E.164 number; the domain of an email in lower case", async (t) => {
    const formats = ["0532 123 45 67", "+90 532 123 4567", "(0532) 123-4567", "0090 532 123 45 67", "532 123 45 67"];
    const { patient } = await desk.createPatient(registration({ phones: formats, preferredLanguage: "TR-tr" }));
    t.same(patient?.phones, Array(5).fill("+905321234567"));
    t.equal(patient?.email, "Sukru.Yilmaz@example.com");
    t.equal(patient?.preferredLanguage, "tr-TR");
    t.equal(patient?.version, 1n);
    t.match(patient?.patientId, /^pat-[a-z0-9]{20}$/);
    t.equal(patient?.locationId, "default");
    const read = await desk.getPatient({ patientId: patient!.patientId });
    t.same(read.patient?.phones, patient?.phones, "read back");
    t.equal(read.patient?.givenName, "Şükrü");
  });

  await t.test("a national id with a wrong check digit is INVALID_ARGUMENT INVALID_NATIONAL_ID, never quoting it", async (t) => {
    const got = await rpcErrorInfoOf(desk.createPatient(registration({ nationalId: "10000000147" })));
    t.equal(got.code, Code.InvalidArgument);
    t.match(got.message, /nationalId/);
    t.notMatch(got.message, /10000000147/);
    const bad = await rpcErrorInfoOf(desk.createPatient(registration({ phones: ["12"] })));
    t.equal(bad.code, Code.InvalidArgument);
    t.match(bad.message, /phones\[0\]/);
  });

  await t.test("a national id is used once in the directory; a record number once per location", async (t) => {
    const first = await desk.createPatient(registration({ nationalId: NATIONAL_ID, medicalRecordNumber: "MRN-1" }));
    t.equal(first.patient?.nationalId, NATIONAL_ID);
    const again = await rpcErrorInfoOf(desk.createPatient(registration({ nationalId: NATIONAL_ID, givenName: "Ayşe" })));
    t.equal(again.code, Code.AlreadyExists);
    t.equal(again.reason, "NATIONAL_ID_IN_USE");
    t.notMatch(JSON.stringify(again), new RegExp(`${first.patient!.patientId}|${NATIONAL_ID}|Şükrü`), "names no other record");
    const mrn = await rpcErrorInfoOf(desk.createPatient(registration({ medicalRecordNumber: "mrn-1" })));
    t.equal(mrn.reason, "MEDICAL_RECORD_NUMBER_IN_USE", "the same number in another letter case, at the same location");
    const admin = await as(["admin"], "admin-1");
    const elsewhere = await admin.createPatient(registration({ medicalRecordNumber: "MRN-1", locationId: "loc-b" }));
    t.equal(elsewhere.patient?.medicalRecordNumber, "MRN-1", "the same number at another location");
    const byUpdate = await rpcErrorInfoOf(
      desk.updatePatient({ requestId: rid(), patient: { patientId: elsewhere.patient!.patientId, version: 1n, nationalId: NATIONAL_ID }, updateMask: { paths: ["national_id"] } }),
    );
    t.equal(byUpdate.reason, "NATIONAL_ID_IN_USE", "an update into a national id in use");
    const unchanged = await desk.getPatient({ patientId: elsewhere.patient!.patientId });
    t.equal(unchanged.patient?.version, 1n, "nothing changed");
  });

  await t.test("update: the mask decides, a stale version is ABORTED, a retry answers the first result", async (t) => {
    const { patient } = await desk.createPatient(registration({ notes: "prefers mornings" }));
    const id = patient!.patientId;
    const req = { requestId: rid(), patient: { patientId: id, version: 1n, familyName: "Yıldız", email: "ignored@example.com", phones: ["+90 533 000 00 01"] }, updateMask: { paths: ["familyName", "phones"] } };
    const updated = await desk.updatePatient(req);
    t.equal(updated.patient?.familyName, "Yıldız");
    t.same(updated.patient?.phones, ["+905330000001"]);
    t.equal(updated.patient?.email, "Sukru.Yilmaz@example.com", "a field outside the mask is unchanged");
    t.equal(updated.patient?.notes, "prefers mornings");
    t.equal(updated.patient?.version, 2n);
    const retried = await desk.updatePatient(req);
    t.same(retried.patient?.version, 2n, "the retry answers as the first call did");
    const stale = await rpcErrorInfoOf(desk.updatePatient({ ...req, requestId: rid() }));
    t.equal(stale.code, Code.Aborted);
    t.equal(stale.reason, "VERSION_MISMATCH");
    t.same(stale.metadata, { currentVersion: "2" });
    const reused = await rpcErrorInfoOf(desk.updatePatient({ ...req, patient: { ...req.patient, version: 2n } }));
    t.equal(reused.reason, "REQUEST_ID_REUSED", "the same requestId with another request");
    const read = await desk.getPatient({ patientId: id });
    t.equal(read.patient?.version, 2n, "one change made");
  });

  await t.test("create is idempotent by requestId", async (t) => {
    const req = registration({ consents: [{ channel: ContactChannel.SMS, granted: true }] });
    const a = await desk.createPatient(req);
    const b = await desk.createPatient(req);
    t.equal(b.patient?.patientId, a.patient?.patientId);
    t.same(b.patient?.consents, a.patient?.consents, "the same answer, recordedAt included");
    const chosen = await desk.createPatient(registration({ patientId: "legacy-004" }));
    t.equal(chosen.patient?.patientId, "legacy-004");
    const taken = await rpcErrorInfoOf(desk.createPatient(registration({ patientId: "legacy-004" })));
    t.equal(taken.reason, "PATIENT_ID_IN_USE");
  });

  await t.test("nothing of a record is stored in plaintext", async (t) => {
    const { patient } = await desk.createPatient(
      registration({
        givenName: "Zeynep",
        familyName: "Karaçam",
        nationalId: OTHER_NATIONAL_ID,
        phones: ["0555 987 65 43"],
        relatedPersons: [{ relationship: Relationship.GUARDIAN, givenName: "Hatice", phone: "0555 111 22 33" }],
      }),
    );
    const { db } = await sys.runtime.ready;
    const dump = JSON.stringify(
      await Promise.all(
        ["patients", "lookups", "request_keys", "audit_log", "patient_locations"].map((table) => db.withSchema("patient").selectFrom(table as never).selectAll().execute()),
      ),
      (_k, v: unknown) => (v && typeof v === "object" && (v as { type?: string }).type === "Buffer" ? Buffer.from((v as { data: number[] }).data).toString("latin1") : v),
    );
    t.ok(dump.includes(patient!.patientId), "the rows are there");
    for (const secret of ["Zeynep", "Karaçam", "Karacam", OTHER_NATIONAL_ID, "905559876543", "5559876543", "Hatice", "1980-04-23", "example.com"]) t.notOk(dump.includes(secret), `no ${secret}`);
  });
});

t.test("who may read and change a record", async (t) => {
  const { sys, as } = await system(t);
  const deskA = await as(["receptionist"], "rec-a", ["loc-a"]);
  const { patient } = await deskA.createPatient(registration({ locationId: "loc-a", notes: "staff only" }));
  const id = patient!.patientId;
  const { patient: other } = await deskA.createPatient(registration({ locationId: "loc-a", givenName: "Ayşe" }));

  await t.test("a patient reads their own record, without the staff notes, and not another's", async (t) => {
    const self = await as(["patient"], id);
    const own = await self.getPatient({ patientId: id });
    t.equal(own.patient?.givenName, "Şükrü");
    t.equal(own.patient?.notes, "", "no staff notes");
    t.equal((await rpcErrorInfoOf(self.getPatient({ patientId: other!.patientId }))).code, Code.PermissionDenied);
    const upd = await rpcErrorInfoOf(self.updatePatient({ requestId: rid(), patient: { patientId: other!.patientId, version: 1n, email: "x@example.com" }, updateMask: { paths: ["email"] } }));
    t.equal(upd.code, Code.PermissionDenied);
    t.equal(upd.reason, "OWN_RECORDS_ONLY");
    const denied = await auditRows(sys, other!.patientId);
    t.ok(denied.some((r) => r.action === "DeniedUpdate" && r.actor === id), "the refusal is audited");
  });

  await t.test("a patient changes their contacts, language and consents, never their name or identifiers", async (t) => {
    const self = await as(["patient"], id);
    for (const [path, value] of [
      ["given_name", { givenName: "Sukru" }],
      ["nationalId", { nationalId: NATIONAL_ID }],
      ["medical_record_number", { medicalRecordNumber: "X1" }],
      ["notes", { notes: "hi" }],
    ] as const) {
      const got = await rpcErrorInfoOf(self.updatePatient({ requestId: rid(), patient: { patientId: id, version: 1n, ...value }, updateMask: { paths: ["phones", path] } }));
      t.equal(got.code, Code.PermissionDenied, path);
      t.equal(got.reason, "NOT_CHANGEABLE_BY_PATIENT", path);
    }
    const ok = await self.updatePatient({
      requestId: rid(),
      patient: { patientId: id, version: 1n, phones: ["+90 533 444 55 66"], preferredLanguage: "en", consents: [{ channel: ContactChannel.EMAIL, granted: false }] },
      updateMask: { paths: ["phones", "preferred_language", "consents"] },
    });
    t.same(ok.patient?.phones, ["+905334445566"]);
    t.equal(ok.patient?.preferredLanguage, "en");
    t.equal(ok.patient?.notes, "", "no staff notes in the patient's answer either");
    t.equal((await deskA.getPatient({ patientId: id })).patient?.notes, "staff only", "the notes are kept");
  });

  await t.test("staff of another location: refused without an accessReason, allowed and audited with one", async (t) => {
    const deskB = await as(["receptionist"], "rec-b", ["loc-b"]);
    const refused = await rpcErrorInfoOf(deskB.getPatient({ patientId: id }));
    t.equal(refused.code, Code.PermissionDenied);
    t.equal(refused.reason, "ACCESS_REASON_REQUIRED");
    const doctorB = await as(["doctor"], "dr-b", ["loc-b"]);
    t.equal((await rpcErrorInfoOf(doctorB.getPatient({ patientId: id }))).reason, "ACCESS_REASON_REQUIRED", "a doctor too");
    const upd = await rpcErrorInfoOf(deskB.updatePatient({ requestId: rid(), patient: { patientId: id, version: 2n, email: "x@example.com" }, updateMask: { paths: ["email"] } }));
    t.equal(upd.reason, "ACCESS_REASON_REQUIRED", "an update too");
    const reason = "patient arrived unconscious at the emergency desk";
    const read = await deskB.getPatient({ patientId: id, accessReason: reason });
    t.equal(read.patient?.patientId, id);
    const rows = await auditRows(sys, id);
    t.ok(rows.some((r) => r.action === "DeniedRead" && r.actor === "rec-b"), "the refusal is audited");
    const granted = rows.find((r) => r.action === "GetPatient" && r.actor === "rec-b");
    t.ok(granted?.access_reason, "the read is audited with its reason");
    t.notOk(granted?.access_reason?.includes("unconscious"), "sealed");
    t.equal(testVault().openReason(granted!.access_reason!), reason, "and opens to the reason given");
    const outside = await rpcErrorInfoOf(deskB.createPatient(registration({ locationId: "loc-a" })));
    t.equal(outside.reason, "OUTSIDE_YOUR_LOCATIONS", "registering at someone else's location");
    const unscoped = await as(["receptionist"], "rec-all");
    t.equal((await unscoped.getPatient({ patientId: id })).patient?.patientId, id, "staff without a locations claim read every record");
  });

  await t.test("every read and change is audited with actor, role and action", async (t) => {
    const rows = await auditRows(sys, id);
    const actions = rows.map((r) => `${r.action}:${r.role}:${r.actor}`);
    t.ok(actions.includes("CreatePatient:receptionist:rec-a"));
    t.ok(actions.includes(`GetPatient:patient:${id}`));
    t.ok(actions.includes(`UpdatePatient:patient:${id}`));
    t.ok(rows.every((r) => r.record_type === "patient"));
  });

  await t.test("a display board reads nothing; only the service role reads contact details, audited with its purpose", async (t) => {
    const display = await as(["display"], "board-1");
    t.equal((await rpcErrorInfoOf(display.getPatient({ patientId: id }))).code, Code.PermissionDenied);
    const admin = await as(["admin"], "admin-1");
    t.equal((await rpcErrorInfoOf(admin.getContactDetails({ patientId: id, purpose: "reminder" }))).code, Code.PermissionDenied, "not even an administrator");
    t.equal((await rpcErrorInfoOf(deskA.getContactDetails({ patientId: id, purpose: "reminder" }))).code, Code.PermissionDenied);
    const service = await as(["service"], "notification");
    const { contact } = await service.getContactDetails({ patientId: id, purpose: "reminder for appointment apt-1" });
    t.same(contact?.phones, ["+905334445566"]);
    t.equal(contact?.givenName, "Şükrü");
    t.equal(contact?.preferredLanguage, "en");
    t.same(Object.keys(contact ?? {}).filter((k) => !["$typeName", "patientId", "givenName", "phones", "email", "preferredLanguage", "consents"].includes(k)), []);
    const rows = await auditRows(sys, id);
    t.ok(rows.some((r) => r.action === "GetContactDetails" && r.role === "service" && r.access_reason), "audited with its purpose, sealed");
    t.equal((await rpcErrorInfoOf(service.getPatient({ patientId: id }))).code, Code.PermissionDenied, "the service role reads no whole record");
    t.equal((await rpcErrorInfoOf(service.getContactDetails({ patientId: "pat-missing", purpose: "reminder" }))).code, Code.NotFound);
  });
});
