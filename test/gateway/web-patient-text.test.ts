// The patient screens' search box reads what reception types by its shape (issue 21): a name
// fragment of at least 3 letters, a date of birth in the forms a Turkish desk writes, a phone in any
// common format (a local Turkish number starts with 0), a T.C. Kimlik No, a medical record number; and
// the screens speak Turkish in a Turkish browser and English otherwise, with every sentence in both
// (patient-text.ts; the browser side is test/gateway/browser-patients.test.ts). Also: no screen of
// the display board reaches the patient modules.
import t from "tap";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { detectQuery, explainPatientError, langOf, PATIENT_TEXT } from "../../gateway/web/src/patient-text.js";

t.test("detectQuery: each kind of input goes to its own search field", async (t) => {
  const cases: [string, string, string][] = [
    ["sukru", "name", "sukru"],
    ["Şükrü Yılmaz", "name", "Şükrü Yılmaz"],
    ["  işık   kaya ", "name", "işık kaya"],
    ["yıl", "name", "yıl"],
    ["al", "tooShort", "al"],
    ["a b", "tooShort", "a b"],
    ["", "empty", ""],
    ["1985-03-07", "birthDate", "1985-03-07"],
    ["07.03.1985", "birthDate", "1985-03-07"],
    ["7/3/1985", "birthDate", "1985-03-07"],
    ["10000000146", "nationalId", "10000000146"],
    ["0532 123 45 67", "phone", "0532 123 45 67"],
    ["+90 (532) 123-45-67", "phone", "+90 (532) 123-45-67"],
    ["05321234567", "phone", "05321234567"],
    ["5321234567", "phone", "5321234567"],
    ["MRN-0042", "medicalRecordNumber", "MRN-0042"],
    ["2024/118", "medicalRecordNumber", "2024/118"],
  ];
  for (const [input, kind, value] of cases) t.same(detectQuery(input), { kind, value }, JSON.stringify(input));
  t.equal(detectQuery("31.02.1985").kind, "tooShort", "31 February is no date of birth");
  t.not(detectQuery("1985-02-31").kind, "birthDate", "nor 1985-02-31");
  t.equal(detectQuery("10000000147").kind, "nationalId", "11 digits with a wrong check digit are still searched as a T.C. Kimlik No (the service says it is not valid)");
});

t.test("the browser language picks the dictionary; both say every sentence, in proper Turkish", async (t) => {
  t.equal(langOf("tr-TR"), "tr");
  t.equal(langOf("tr"), "tr");
  t.equal(langOf("en-GB"), "en");
  t.equal(langOf("de-DE"), "en");
  t.equal(langOf(undefined), "en");
  const tr = PATIENT_TEXT.tr;
  t.equal(tr.searchHeading, "Hasta ara");
  t.equal(tr.newPatient, "Yeni hasta kaydı");
  t.equal(tr.birthDate, "Doğum tarihi");
  t.equal(tr.nationalId, "T.C. Kimlik No");
  t.equal(tr.save, "Kaydet");
  const en = PATIENT_TEXT.en;
  for (const key of Object.keys(en) as (keyof typeof en)[]) t.ok(tr[key] !== undefined && tr[key] !== "", `Turkish has ${key}`);
  t.same(Object.keys(tr.fieldReasons).filter((k) => k !== "INVALID_VALUE").sort(), Object.keys(en.fieldReasons).sort(), "the same field reasons in both");
  t.same(Object.keys(tr.reasons).sort(), Object.keys(en.reasons).sort(), "the same error reasons in both");
  t.same(Object.keys(tr.codes).sort(), Object.keys(en.codes).sort(), "the same status codes in both");
});

t.test("explainPatientError: field violations next to their fields, in the screen's language", async (t) => {
  const bad = new ConnectError("invalid", Code.InvalidArgument, undefined, [
    { desc: BadRequestSchema, value: { fieldViolations: [{ field: "nationalId", description: "check digits do not add up", reason: "INVALID_NATIONAL_ID" }, { field: "phones[0]", description: "is not a phone number", reason: "SOMETHING_NEW" }] } },
  ]);
  const tr = explainPatientError(bad, "tr");
  t.match(tr.fields.nationalId, /T\.C\. Kimlik No/, "the national id's error, in Turkish");
  t.ok(tr.fields.phones, "phones[0] is shown at the phone input");
  t.equal(tr.title, PATIENT_TEXT.tr.codes.InvalidArgument.title);
  const en = explainPatientError(bad, "en");
  t.match(en.fields.phones, /not a phone number/i, "an unknown reason in English: the server's own description");
  const stale = new ConnectError("stale", Code.Aborted, undefined, [{ desc: ErrorInfoSchema, value: { domain: "medschedule.io", reason: "VERSION_MISMATCH", metadata: {} } }]);
  t.match(explainPatientError(stale, "en").action, /Reload/);
  t.match(explainPatientError(stale, "tr").action, /yeniden yükleyin/);
});

t.test("the display board's code reaches no patient module", async (t) => {
  const src = "gateway/web/src";
  const seen = new Set<string>();
  const visit = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = await readFile(path.join(src, file), "utf8");
    for (const m of code.matchAll(/from "\.\/([\w-]+)\.js"/g)) {
      for (const ext of [".ts", ".tsx"]) {
        const f = `${m[1]}${ext}`;
        if (await readFile(path.join(src, f)).then(() => true, () => false)) await visit(f);
      }
    }
  };
  await visit("display-screen.tsx");
  t.ok(seen.size > 2, [...seen].join(", "));
  t.same([...seen].filter((f) => f.startsWith("patient") || f.startsWith("my-details")), [], "no patient-* module in the board's imports");
});
