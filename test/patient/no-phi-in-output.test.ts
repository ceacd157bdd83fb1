// No patient data in logs, metrics or error messages (DESIGN.md invariant 10, issue 21's check "No
// PHI in logs or metrics"): a whole test system on real Postgres, logging at trace level into a
// captured logger, with the patient check on, is driven as a clinic would drive it, with distinctive
// synthetic patient data: register, read (also break-the-glass), change (also with a stale version),
// search in every way, merge, resolve, read contacts as the service role, book and cancel with a
// reason; and wrongly, with patient data in the wrong fields (a name as a patientId, a national id
// with a bad check digit, garbage phones and emails, bad JSON on the HTTP side). Then every captured
// log line, the /metrics text and every error the calls answered (message, ErrorInfo metadata, field
// violations) is searched for each seeded value, as written, lower-cased and ASCII-folded.
import t from "tap";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ContactChannel, Gender, Relationship } from "../../gen/medschedule/patient/v1/patient_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { captureLogs } from "../helpers/logs.js";
import { setUpProvider } from "../helpers/scheduling.js";
import { startTestSystem, TEST_KEYS_ENV } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

t.setTimeout(240_000);

/** tcKimlik completes 9 digits into a T.C. Kimlik No with valid check digits (synthetic). */
function tcKimlik(nine: string): string {
  const d = [...nine].map(Number);
  const odd = d[0] + d[2] + d[4] + d[6] + d[8];
  const even = d[1] + d[3] + d[5] + d[7];
  const tenth = (((odd * 7 - even) % 10) + 10) % 10;
  const eleventh = (d.reduce((a, b) => a + b, 0) + tenth) % 10;
  return `${nine}${tenth}${eleventh}`;
}

const NATIONAL_ID = tcKimlik("386719245");
const BAD_CHECKSUM_ID = `${NATIONAL_ID.slice(0, 10)}${(Number(NATIONAL_ID[10]) + 1) % 10}`;
const SECOND_ID = tcKimlik("471925836");

/** The seeded values: each must never appear in anything the system writes out but the answers to authorised reads. */
const PHI = {
  givenName: "Zekiye",
  familyName: "Phıtestoğlu",
  givenName2: "Şemsinur",
  familyName2: "Kıvılcımgöz",
  birthDate: "1977-11-29",
  birthDate2: "1969-02-17",
  phone: "0532 987 65 43",
  phoneE164: "+905329876543",
  phoneDigits: "5329876543",
  phone2: "(0533) 741-2986",
  phone2Digits: "5337412986",
  guardianPhone: "0544 318 27 69",
  guardianPhoneDigits: "5443182769",
  email: "zekiye.phitestoglu@ornek-phi.example",
  guardianName: "Nurcihanfer",
  notes: "Penisilin alerjisi, kalp pili taşıyor",
  notes2: "Sol kulakta işitme kaybı",
  mrn: "MRN-PHI-77421",
  nationalId: NATIONAL_ID,
  badNationalId: BAD_CHECKSUM_ID,
  secondNationalId: SECOND_ID,
  accessReason: "Acil serviste Zekiye için konsültasyon",
  reason: "Göğüs ağrısı ve nefes darlığı",
  cancelReason: "Hastaneye yatırıldı kardiyoloji",
  garbagePhone: "Zekiye-0532-XYZ",
  garbageEmail: "zekiye at phitestoglu nokta example",
} as const;

/** fold lower-cases and drops Turkish and other diacritics ("Phıtestoğlu" -> "phitestoglu"). */
function fold(s: string): string {
  return s
    .toLocaleLowerCase("tr")
    .replace(/ı/g, "i")
    .normalize("NFD")
    .replace(/\p{M}/gu, "");
}

/** needles are the forms each seeded value is searched in: as written, lower-cased, folded; short forms dropped. */
function needles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(PHI)) {
    for (const form of [value, value.toLowerCase(), fold(value)]) if (form.length >= 6 && !out.has(form)) out.set(form, name);
    // The distinctive words of a free text on their own ("alerjisi", "konsültasyon").
    if (/\s/.test(value) && !/\d/.test(value)) for (const word of value.split(/\s+/)) if (word.length >= 8 && !out.has(fold(word))) out.set(fold(word), `${name} (word)`);
  }
  return out;
}

/** leaks lists, for each text, the seeded values found in it. */
function leaks(texts: readonly string[]): string[] {
  const found = new Set<string>();
  const all = needles();
  for (const text of texts) {
    const forms = [text, text.toLowerCase(), fold(text)];
    for (const [needle, name] of all) if (forms.some((f) => f.includes(needle))) found.add(`${name}: ${JSON.stringify(text.slice(Math.max(0, forms[2].indexOf(needle) - 80), forms[2].indexOf(needle) + 80))}`);
  }
  return [...found];
}

const captured = captureLogs("trace");
const sys = await startTestSystem(t, { env: { ...TEST_KEYS_ENV, PATIENT_CHECK: "on", LOG_LEVEL: "trace" }, logger: captured.logger });
const patientsAs = async (roles: Role[], subject?: string, locations?: string[]): Promise<Client<typeof PatientService>> =>
  createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(roles, subject, locations ? { locations } : undefined)));
const schedulingAs = async (roles: Role[], subject?: string): Promise<Client<typeof SchedulingService>> =>
  createClient(SchedulingService, tokenGrpcTransport(sys.grpc.port, await sys.token(roles, subject)));

/** errors are the texts of every failed call: message, ErrorInfo reason and metadata, field violations. */
const errors: string[] = [];
/** outcomes are each call's result code, for the workload's own checks. */
const outcomes: Record<string, Code | "OK"> = {};

async function call<T>(name: string, p: Promise<T>): Promise<T | undefined> {
  try {
    const r = await p;
    outcomes[name] = "OK";
    return r;
  } catch (err) {
    const e = ConnectError.from(err);
    outcomes[name] = e.code;
    const info = e.findDetails(ErrorInfoSchema);
    const bad = e.findDetails(BadRequestSchema);
    errors.push(JSON.stringify({ call: name, message: e.rawMessage, info, violations: bad.flatMap((b) => b.fieldViolations) }));
    return undefined;
  }
}

const rid = (() => {
  let n = 0;
  return (what: string) => `phi-${what}-${++n}`;
})();

t.test("a clinic's day with patient data: none of it in logs, metrics or error messages", async (t) => {
  const admin = await patientsAs(["admin"], "adm-phi");
  const reception = await patientsAs(["receptionist"], "rec-phi");
  const elsewhere = await patientsAs(["receptionist"], "rec-far", ["loc-far"]);
  const service = await patientsAs(["service"], "svc-phi");

  const created = await call(
    "CreatePatient",
    reception.createPatient({
      requestId: rid("create"),
      givenName: PHI.givenName,
      familyName: PHI.familyName,
      birthDate: PHI.birthDate,
      gender: Gender.FEMALE,
      phones: [PHI.phone],
      email: PHI.email,
      preferredLanguage: "tr",
      consents: [{ channel: ContactChannel.SMS, granted: true }],
      medicalRecordNumber: PHI.mrn,
      nationalId: PHI.nationalId,
      relatedPersons: [{ relationship: Relationship.GUARDIAN, givenName: PHI.guardianName, familyName: PHI.familyName, phone: PHI.guardianPhone }],
      notes: PHI.notes,
    }),
  );
  t.ok(created?.patient?.patientId, "the patient is registered");
  const patientId = created?.patient?.patientId ?? "missing";
  const second = await call(
    "CreatePatient second",
    reception.createPatient({ requestId: rid("create"), givenName: PHI.givenName2, familyName: PHI.familyName2, birthDate: PHI.birthDate2, phones: [PHI.phone2], nationalId: PHI.secondNationalId, notes: PHI.notes2 }),
  );
  const secondId = second?.patient?.patientId ?? "missing-2";

  // Reads, break-the-glass, changes and a stale version.
  const read = await call("GetPatient", reception.getPatient({ patientId }));
  await call("GetPatient elsewhere without reason", elsewhere.getPatient({ patientId }));
  await call("GetPatient elsewhere with reason", elsewhere.getPatient({ patientId, accessReason: PHI.accessReason }));
  const version = read?.patient?.version ?? 1n;
  const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });
  await call(
    "UpdatePatient",
    reception.updatePatient({ requestId: rid("update"), patient: { patientId, version, notes: `${PHI.notes}; ${PHI.notes2}`, phones: [PHI.phone, PHI.phone2] }, updateMask: mask("notes", "phones") }),
  );
  await call("UpdatePatient stale", reception.updatePatient({ requestId: rid("update"), patient: { patientId, version, email: PHI.email }, updateMask: mask("email") }));
  t.equal(outcomes["UpdatePatient stale"], Code.Aborted, "a stale version is ABORTED");

  // Search in every way a desk does.
  for (const [name, req] of Object.entries({
    name: { query: PHI.familyName },
    folded: { query: fold(PHI.familyName) },
    typo: { query: "Phitestoglo" },
    birthDate: { birthDate: PHI.birthDate },
    phone: { phone: PHI.phoneE164 },
    nationalId: { nationalId: PHI.nationalId },
    mrn: { medicalRecordNumber: PHI.mrn },
    elsewhere: { query: PHI.givenName },
  })) {
    await call(`SearchPatients ${name}`, (name === "elsewhere" ? elsewhere : reception).searchPatients(req));
  }

  // Patient data in the wrong places.
  await call("GetPatient name as id", reception.getPatient({ patientId: `${PHI.givenName} ${PHI.familyName}` }));
  await call("CreatePatient bad checksum", reception.createPatient({ requestId: rid("bad"), givenName: PHI.givenName, familyName: PHI.familyName, nationalId: PHI.badNationalId }));
  await call("CreatePatient garbage phone", reception.createPatient({ requestId: rid("bad"), givenName: PHI.givenName, familyName: PHI.familyName, phones: [PHI.garbagePhone] }));
  await call("CreatePatient garbage email", reception.createPatient({ requestId: rid("bad"), givenName: PHI.givenName, familyName: PHI.familyName, email: PHI.garbageEmail }));
  await call("CreatePatient bad birth date", reception.createPatient({ requestId: rid("bad"), givenName: PHI.givenName, familyName: PHI.familyName, birthDate: "29.11.1977" }));
  await call("CreatePatient duplicate national id", reception.createPatient({ requestId: rid("dup"), givenName: PHI.givenName2, familyName: PHI.familyName, nationalId: PHI.nationalId }));
  await call("SearchPatients bad phone", reception.searchPatients({ phone: PHI.garbagePhone }));
  await call("SearchPatients bad national id", reception.searchPatients({ nationalId: PHI.badNationalId }));
  await call("UpdatePatient name as id", reception.updatePatient({ requestId: rid("bad"), patient: { patientId: PHI.familyName, version: 1n, notes: PHI.notes }, updateMask: mask("notes") }));
  await call("Patient reads another", (await patientsAs(["patient"], secondId)).getPatient({ patientId }));
  await call("Patient changes own name", (await patientsAs(["patient"], patientId)).updatePatient({ requestId: rid("own"), patient: { patientId, version: 2n, givenName: PHI.givenName2 }, updateMask: mask("given_name") }));
  for (const bad of ["CreatePatient bad checksum", "CreatePatient garbage phone", "CreatePatient garbage email"]) {
    t.equal(outcomes[bad], Code.InvalidArgument, `${bad}: INVALID_ARGUMENT`);
  }

  // Merge, resolve, the service's contact read.
  await call("MergePatients", admin.mergePatients({ requestId: rid("merge"), survivorPatientId: patientId, mergedPatientId: secondId }));
  await call("ResolvePatient", service.resolvePatient({ patientId: secondId }));
  await call("GetContactDetails", service.getContactDetails({ patientId, purpose: "appointment reminder" }));

  // Scheduling with the patient: a reason, a cancellation reason, and patient data where an id belongs.
  const staff = await schedulingAs(["receptionist"], "rec-phi");
  const providerId = await setUpProvider(staff, { slotMinutes: 30 });
  const at = (hours: number) => timestampFromDate(new Date(Math.ceil((Date.now() + hours * 3_600_000) / 3_600_000) * 3_600_000));
  const booked = await call("BookAppointment", staff.bookAppointment({ requestId: rid("book"), providerId, patientId, startTime: at(30), reason: PHI.reason }));
  t.equal(booked?.appointment?.reason, PHI.reason, "the reason is answered to staff");
  await call("BookAppointment replay", staff.bookAppointment({ requestId: "phi-book-replay", providerId, patientId, startTime: at(34), reason: PHI.reason }));
  await call("BookAppointment replay again", staff.bookAppointment({ requestId: "phi-book-replay", providerId, patientId, startTime: at(34), reason: PHI.reason }));
  await call("BookAppointment taken", staff.bookAppointment({ requestId: rid("book"), providerId, patientId, startTime: at(30), reason: PHI.reason }));
  await call("BookAppointment name as patient", staff.bookAppointment({ requestId: rid("book"), providerId, patientId: `${PHI.givenName} ${PHI.familyName}`, startTime: at(40), reason: PHI.reason }));
  await call("BookAppointment reason with control characters", staff.bookAppointment({ requestId: rid("book"), providerId, patientId, startTime: at(42), reason: `${PHI.reason}\u0007` }));
  await call("BookAppointment reason too long", staff.bookAppointment({ requestId: rid("book"), providerId, patientId, startTime: at(44), reason: `${PHI.reason} `.repeat(60) }));
  await call("ListAppointments", staff.listAppointments({ providerId, startTime: at(0), endTime: at(24 * 7) }));
  if (booked?.appointment) await call("CancelAppointment", staff.cancelAppointment({ requestId: rid("cancel"), appointmentId: booked.appointment.appointmentId, reason: PHI.cancelReason }));
  await call("GetAppointment name as id", staff.getAppointment({ appointmentId: PHI.familyName }));

  // The HTTP side: Connect JSON with patient data, malformed and in the wrong types.
  const token = await sys.token(["receptionist"], "rec-phi");
  const cacheable: string[] = [];
  const post = async (name: string, method: string, body: string) => {
    const res = await fetch(`http://127.0.0.1:${sys.connect.port}/${PatientService.typeName}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body,
    });
    if (res.headers.get("cache-control") !== "no-store") cacheable.push(name);
    // An authorised read answers the record: only refusals are searched.
    if (res.status !== 200) errors.push(JSON.stringify({ call: name, status: res.status, body: await res.text() }));
  };
  await post("JSON cut off", "CreatePatient", `{"requestId":"phi-json","givenName":"${PHI.givenName}","familyName":"${PHI.familyName}","nationalId":"${PHI.nationalId}`);
  await post("JSON wrong type", "CreatePatient", `{"requestId":"phi-json2","givenName":["${PHI.givenName}"],"birthDate":{"d":"${PHI.birthDate}"},"email":"${PHI.email}"}`);
  await post("JSON unknown field", "SearchPatients", `{"name":"${PHI.familyName}","telefon":"${PHI.phone}"}`);
  await post("JSON bad enum", "CreatePatient", `{"requestId":"phi-json3","givenName":"${PHI.givenName}","familyName":"${PHI.familyName}","gender":"${PHI.givenName}"}`);

  // The search itself finds what it looks for: a log line with a folded name or an E.164 phone is caught.
  const probe = leaks([JSON.stringify({ msg: "rpc", who: "PHITESTOGLU, zekiye", tel: PHI.phoneE164 })]).map((l) => l.split(":")[0]);
  t.ok(["familyName", "givenName", "phoneE164"].every((n) => probe.includes(n)), `the search finds folded and formatted values (${probe.join(", ")})`);
  // Connect's GET form of the side-effect-free reads: the request in the URL, which proxies and access logs keep.
  const search = encodeURIComponent(JSON.stringify({ query: PHI.familyName, nationalId: PHI.nationalId }));
  const got = await fetch(`http://127.0.0.1:${sys.connect.port}/${PatientService.typeName}/SearchPatients?connect=v1&encoding=json&message=${search}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (got.headers.get("cache-control") !== "no-store") cacheable.push("GET SearchPatients");
  await post("GetPatient", "GetPatient", JSON.stringify({ patientId }));
  t.same(cacheable, [], "every RPC answer over HTTP says cache-control: no-store");
  errors.push(JSON.stringify({ call: "GET SearchPatients", status: got.status, body: got.status === 200 ? "" : await got.text() }));
  const logText = captured.lines.map((l) => JSON.stringify(l));
  t.ok(logText.length > 50, `the system logged (${logText.length} lines at trace level)`);
  t.same(leaks(logText), [], "no seeded value in any log line");
  t.same(leaks([await metricsRegistry.metrics()]), [], "none in /metrics");
  t.ok(errors.length > 15, `${errors.length} errors answered`);
  t.same(leaks(errors), [], "none in any error message, ErrorInfo metadata or field violation");
});
