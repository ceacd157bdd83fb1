// The patient screens' search box reads what reception types by its shape (issue 21): a name
// fragment of at least 3 letters, a date of birth in the forms a Turkish desk writes, a phone in any
// common format (a local Turkish number starts with 0), a T.C. Kimlik No, a medical record number; and
// the screens speak Turkish in a Turkish browser and English otherwise, with every sentence in both
// (patient-text.ts; the browser side is test/gateway/browser-patients.test.ts). Also: no screen of
// the display board reaches the patient modules.
import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { parsePhoneNumberFromString } from "libphonenumber-js/min";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { detectQuery, explainPatientError, languageName, langOf, PATIENT_TEXT } from "../../gateway/web/src/patient-text.js";
import { phoneFormatOf } from "../../gateway/web/src/phone-format.js";

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
  t.same(Object.keys(tr.fieldReasons).sort(), Object.keys(en.fieldReasons).sort(), "the same field reasons in both");
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
  t.equal(en.fields.phones, PATIENT_TEXT.en.fieldReasons.INVALID_VALUE, "an unknown reason: our generic words, never the server's English");
  t.equal(tr.fields.phones, PATIENT_TEXT.tr.fieldReasons.INVALID_VALUE, "in Turkish too");
  t.equal(en.detail, "", "no technical detail (the server's message) to show");
  const taken = new ConnectError("another patient record already has this national id", Code.AlreadyExists, undefined, [
    { desc: ErrorInfoSchema, value: { domain: "medschedule.io", reason: "NATIONAL_ID_IN_USE", metadata: { field: "nationalId" } } },
  ]);
  for (const lang of ["en", "tr"] as const) {
    const e = explainPatientError(taken, lang);
    t.equal(e.detail, "", `${lang}: a domain error carries no technical detail`);
    t.notMatch(`${e.title} ${e.action}`, /NATIONAL_ID_IN_USE|AlreadyExists|another patient record/, `${lang}: neither the reason code nor the server's English`);
  }
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

/** RUNTIME_FIELD_REASONS are the field reasons of the RequestValidator methods the patient service calls (services/runtime/request/validation.ts, page-token.ts). */
const RUNTIME_FIELD_REASONS: Record<string, string[]> = {
  add: ["INVALID_VALUE"],
  requestId: ["REQUIRED", "INVALID_REQUEST_ID"],
  id: ["REQUIRED", "INVALID_ID"],
  string: ["REQUIRED", "TOO_LONG", "TOO_SHORT", "CONTROL_CHARACTERS"],
  enumValue: ["REQUIRED", "UNKNOWN_ENUM_VALUE"],
  localDate: ["REQUIRED", "INVALID_LOCAL_DATE", "OUT_OF_RANGE"],
  pageSize: ["OUT_OF_RANGE"],
  pageToken: ["INVALID_PAGE_TOKEN"],
  timestamp: ["REQUIRED", "OUT_OF_RANGE", "NOT_WHOLE_MINUTE", "TOO_PRECISE"],
};

t.test("every reason the patient service can send has words in both languages", async (t) => {
  const dir = "services/patient";
  const files: string[] = [];
  for (const d of [dir, ...(await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name))]) {
    for (const f of await readdir(d)) if (f.endsWith(".ts")) files.push(path.join(d, f));
  }
  const fieldReasons = new Set<string>();
  const domainReasons = new Set<string>(["REQUEST_IN_PROGRESS", "REQUEST_ID_REUSED", "OWN_RECORDS_ONLY", "ROLE_NOT_ALLOWED"]);
  for (const file of files) {
    const code = await readFile(file, "utf8");
    // Field violations: the reason is the last argument of v.add(field, description, "REASON").
    for (const m of code.matchAll(/\.add\((?:[^()]|\([^()]*\))*?,\s*"([A-Z][A-Z0-9_]+)"\s*\)/gs)) fieldReasons.add(m[1]);
    // The validator's own checks: each method the service calls brings its reasons (a method not listed fails here).
    for (const m of code.matchAll(/\bv\.([a-zA-Z]+)\(/g)) {
      t.ok(RUNTIME_FIELD_REASONS[m[1]], `${file}: the reasons of RequestValidator.${m[1]} are listed in this test`);
      for (const r of RUNTIME_FIELD_REASONS[m[1]] ?? []) fieldReasons.add(r);
    }
    // Domain errors: every UPPER_SNAKE string of the errors files is a reason.
    if (file.endsWith(".errors.ts")) for (const m of code.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)) domainReasons.add(m[1]);
  }
  t.ok(["INVALID_NATIONAL_ID", "QUERY_TOO_SHORT", "SAME_PATIENT", "UNKNOWN_PATH", "INVALID_PHONE"].every((r) => fieldReasons.has(r)), `field reasons found: ${[...fieldReasons].join(", ")}`);
  t.ok(domainReasons.has("VERSION_MISMATCH") && domainReasons.has("ACCESS_REASON_REQUIRED"), `domain reasons found: ${[...domainReasons].join(", ")}`);
  for (const lang of ["tr", "en"] as const) {
    const w = PATIENT_TEXT[lang];
    for (const r of fieldReasons) t.ok(w.fieldReasons[r], `${lang}: field reason ${r} has words`);
    for (const r of domainReasons) t.ok(w.reasons[r]?.title && w.reasons[r]?.action, `${lang}: reason ${r} has words`);
  }
});

t.test("languageName: a stored language other than Turkish or English is named as itself, in the screen's language", async (t) => {
  t.equal(languageName("tr", "tr"), "Türkçe");
  t.equal(languageName("en", "en"), "English");
  t.equal(languageName("de", "en"), "German");
  t.equal(languageName("de", "tr"), "Almanca");
  t.equal(languageName("x-unknown-tag", "en"), "x-unknown-tag", "a tag no one can name stays the tag");
});

t.test("phoneFormatOf: the clinic's own numbers as dialled there, others internationally, anything unreadable as stored", async (t) => {
  const fmt = phoneFormatOf(parsePhoneNumberFromString);
  t.equal(fmt("+905320000001"), "0532 000 00 01");
  t.equal(fmt("+902125550000"), "(0212) 555 00 00", "a landline too, as Turkish directories write it");
  t.equal(fmt("+4930901820"), "+49 30 901820");
  t.equal(fmt("+14155552671"), "+1 415 555 2671");
  t.equal(fmt("not a number"), "not a number");
  t.equal(phoneFormatOf(parsePhoneNumberFromString, "DE")("+4930901820"), "030 901820", "national for the clinic's region");
});
