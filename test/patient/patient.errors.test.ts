// The patient service's error texts: one reason each, listed in the README, and no value of any
// patient record in a message or its metadata (a refusal for a national id in use names neither the
// number nor the record holding it).
import { readdirSync, readFileSync } from "node:fs";
import t from "tap";
import { Code } from "@connectrpc/connect";
import {
  accessReasonRequiredError,
  medicalRecordNumberInUseError,
  nationalIdInUseError,
  notChangeableByPatientError,
  patientMergedError,
  patientNotFoundError,
  versionMismatchError,
} from "../../services/patient/patient.errors.js";

t.test("the README lists every reason of every patient *.errors.ts", async (t) => {
  const root = new URL("../../../", import.meta.url);
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const start = readme.indexOf("**Patient**");
  t.ok(start > readme.indexOf("## Error reasons"), "a Patient paragraph under Error reasons");
  const section = readme.slice(start, readme.indexOf("\n\n", start));
  const reasons = new Set<string>();
  for (const file of readdirSync(new URL("services/patient/", root)).filter((f) => f.endsWith(".errors.ts"))) {
    const src = readFileSync(new URL(`services/patient/${file}`, root), "utf8");
    for (const m of src.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)) reasons.add(m[1]);
  }
  t.ok(reasons.size >= 7, `found ${reasons.size} reasons`);
  for (const reason of reasons) t.match(section, new RegExp(`\`${reason}\``), reason);
});

t.test("codes, and messages in words without ids or values", async (t) => {
  const cases = [
    [patientNotFoundError("pat-abc"), Code.NotFound, "PATIENT_NOT_FOUND"],
    [nationalIdInUseError("nationalId"), Code.AlreadyExists, "NATIONAL_ID_IN_USE"],
    [medicalRecordNumberInUseError("medicalRecordNumber", "loc-a"), Code.AlreadyExists, "MEDICAL_RECORD_NUMBER_IN_USE"],
    [versionMismatchError("7"), Code.Aborted, "VERSION_MISMATCH"],
    [patientMergedError("pat-survivor"), Code.FailedPrecondition, "PATIENT_MERGED"],
    [accessReasonRequiredError(), Code.PermissionDenied, "ACCESS_REASON_REQUIRED"],
    [notChangeableByPatientError("given_name"), Code.PermissionDenied, "NOT_CHANGEABLE_BY_PATIENT"],
  ] as const;
  for (const [err, code, reason] of cases) {
    t.equal(err.code, code, reason);
    t.equal(err.reason, reason);
    t.notMatch(err.message, /pat-|loc-a|given_name|Patient[A-Z]|[A-Z]{3,}_/, `${reason}: no ids, RPC or field names in the words`);
  }
  t.same(versionMismatchError("7").metadata, { currentVersion: "7" });
  t.same(patientMergedError("pat-survivor").metadata, { mergedIntoPatientId: "pat-survivor" });
});
