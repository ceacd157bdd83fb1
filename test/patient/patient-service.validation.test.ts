// The class alone: every PatientService RPC of the patient records rejects malformed requests with
// INVALID_ARGUMENT naming exactly the bad fields (each violation with a reason of its own, never the
// value sent), and lets well-formed ones through validation: they reach the database, which here is a
// stand-in that throws NoDatabaseError on first use. The clock stands on 2026-12-05 10:00 UTC.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConsentSchema, ContactChannel, Gender, PatientSchema, Relationship, RelatedPersonSchema, type Consent, type Patient, type RelatedPerson } from "../../gen/medschedule/patient/v1/patient_pb.js";
import {
  CreatePatientRequestSchema,
  GetContactDetailsRequestSchema,
  GetPatientRequestSchema,
  MergePatientsRequestSchema,
  PatientService,
  ResolvePatientRequestSchema,
  UpdatePatientRequestSchema,
} from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { canonicalLanguage, e164, isNationalId } from "../../services/patient/patient-fields.validation.js";
import { PatientServiceImpl } from "../../services/patient/patient-service.js";
import { vaultFromConfig } from "../../services/patient/patient-vault.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { InvalidArgumentError } from "../../services/runtime/errors.js";
import { TEST_KEYS_ENV } from "../helpers/system.js";
import { thrownBy, validationTable } from "../helpers/validation-table.js";

/** NoDatabaseError marks a request that passed validation and went on to the database. */
class NoDatabaseError extends Error {}
const noDatabase = new Proxy({}, { get: () => { throw new NoDatabaseError("validation passed; no database in this test"); } });
const vault = vaultFromConfig({ patientEncryptionKeys: TEST_KEYS_ENV.PATIENT_ENCRYPTION_KEYS, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });
const NOW = new Date("2026-12-05T10:00:00Z");
const impl = new PatientServiceImpl({ db: noDatabase as never, vault, clock: createFakeClock(NOW), config: { patientDefaultRegion: "TR" } });
const method = PatientService.method;
const at = (iso: string) => timestampFromDate(new Date(iso));
const consent = (channel: ContactChannel, granted: boolean, recordedAt?: string): Consent => create(ConsentSchema, { channel, granted, recordedAt: recordedAt ? at(recordedAt) : undefined });
const person = (init: { relationship: Relationship; givenName: string; familyName?: string; phone?: string }): RelatedPerson => create(RelatedPersonSchema, init);
const mask = (paths: string[]) => create(FieldMaskSchema, { paths });
const record = (init: Record<string, unknown>): Patient => create(PatientSchema, init);

/** A synthetic T.C. Kimlik No with valid check digits. */
const NATIONAL_ID = "10000000146";

const { rpc, coversEveryRpc } = validationTable(t, PatientService, (err) => err instanceof NoDatabaseError, { ownReasons: true });

t.test("a T.C. Kimlik No is checked by both check digits", async (t) => {
  for (const ok of ["10000000146", "12345678950", "11111111110"]) t.ok(isNationalId(ok), `${ok} valid`);
  for (const bad of ["10000000147", "10000000156", "01234567890", "1000000014", "100000001460", "1000000014a", "", "00000000000"]) t.notOk(isNationalId(bad), `"${bad}" refused`);
});

t.test("phone numbers in any common format read as E.164; languages in their canonical form", async (t) => {
  for (const f of ["0532 123 45 67", "+90 532 123 4567", "05321234567", "(0532) 123-4567", "0090 532 123 45 67", "532 123 45 67", "+90-532-123-45-67"]) t.equal(e164(f, "TR"), "+905321234567", f);
  t.equal(e164("0212 555 12 12", "TR"), "+902125551212", "a landline");
  t.equal(e164("+1 202 555 0143", "TR"), "+12025550143", "another country with its code");
  for (const bad of ["12", "abc", "0532 123 45 6", "+90 532 123 45 67 89 12", "0532\u0000123 45 67"]) t.equal(e164(bad, "TR"), undefined, JSON.stringify(bad));
  t.equal(canonicalLanguage("TR-tr"), "tr-TR");
  t.equal(canonicalLanguage("en"), "en");
  t.equal(canonicalLanguage("en_US"), undefined);
  t.equal(canonicalLanguage("not a tag"), undefined);
  // Well-formed but naming no language: nothing could ever be written to the patient in it.
  t.equal(canonicalLanguage("xx-invalid"), undefined);
  t.equal(canonicalLanguage("english"), undefined);
  t.equal(canonicalLanguage("de"), "de");
  t.equal(canonicalLanguage("zh-Hant-TW"), "zh-Hant-TW");
});

t.test("no violation quotes the value sent", async (t) => {
  const secret = "Zz9Secret";
  const err = await thrownBy(() =>
    impl.createPatient(
      create(CreatePatientRequestSchema, {
        requestId: "r1",
        givenName: `${secret}1`,
        familyName: `${secret}\u0000`,
        birthDate: secret,
        gender: 0,
        phones: [secret],
        email: secret,
        preferredLanguage: `${secret}_x`,
        consents: [],
        locationId: `${secret}!`,
        medicalRecordNumber: `${secret}#`,
        nationalId: `${secret}0`,
        relatedPersons: [],
        notes: "",
        patientId: `${secret} `,
      }),
      undefined as never,
    ),
  );
  t.ok(err instanceof InvalidArgumentError, "refused");
  t.notMatch((err as Error).message, secret);
  t.equal((err as InvalidArgumentError).violations.length, 10);
});

const valid = {
  requestId: "req-1",
  givenName: "Şükrü Ahmet",
  familyName: "O'Neil-Yılmaz",
  birthDate: "1980-04-23",
  gender: Gender.MALE,
  phones: ["0532 123 45 67", "+90 212 555 12 12"],
  email: "sukru@example.com",
  preferredLanguage: "tr",
  consents: [
    consent(ContactChannel.SMS, true, "2026-12-01T09:00:00Z"),
    consent(ContactChannel.EMAIL, false),
  ],
  locationId: "loc-kadikoy",
  medicalRecordNumber: "KDK-2026/0042",
  nationalId: NATIONAL_ID,
  relatedPersons: [person({ relationship: Relationship.GUARDIAN, givenName: "Hatice", familyName: "Yılmaz", phone: "0555 111 22 33" })],
  notes: "Prefers morning visits.\nHard of hearing.",
};

rpc({
  method: method.createPatient,
  schema: CreatePatientRequestSchema,
  call: (req, c) => impl.createPatient(req, c),
  valid,
  alsoValid: [
    { name: "only the required fields", patch: { gender: Gender.UNSPECIFIED, phones: [], email: "", preferredLanguage: "", consents: [], locationId: "", medicalRecordNumber: "", nationalId: "", relatedPersons: [], notes: "" } },
    { name: "client-chosen id", patch: { patientId: "pat-legacy_004" } },
    { name: "names with spaces around (trimmed), 100 letters", patch: { givenName: "  Ayşe  ", familyName: "Ö".repeat(100) } },
    { name: "born today in UTC+14, 1900-01-01", patch: { birthDate: "2026-12-05" } },
    { name: "born 1900-01-01", patch: { birthDate: "1900-01-01" } },
    { name: "five phones", patch: { phones: Array(5).fill("0532 123 45 67") } },
    { name: "language tags", patch: { preferredLanguage: "en-GB" } },
    { name: "consent recorded a minute ahead (clock skew)", patch: { consents: [consent(ContactChannel.SMS, true, "2026-12-05T10:01:00Z")] } },
    { name: "a related person without family name or phone", patch: { relatedPersons: [person({ relationship: Relationship.EMERGENCY_CONTACT, givenName: "Ali" })] } },
    { name: "2000 characters of notes", patch: { notes: "n".repeat(2000) } },
    { name: "32-character record number", patch: { medicalRecordNumber: "A".repeat(32) } },
  ],
  bad: [
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "no names or birth date", patch: { givenName: "", familyName: " ", birthDate: "" }, fields: ["givenName", "familyName", "birthDate"] },
    { name: "101-character name", patch: { givenName: "a".repeat(101) }, fields: ["givenName"] },
    { name: "digits and symbols in names", patch: { givenName: "R2D2", familyName: "Smith;drop" }, fields: ["givenName", "familyName"] },
    { name: "NUL in a name", patch: { givenName: "Ali\u0000" }, fields: ["givenName"] },
    { name: "not a date, not a real date, before 1900, in the future", patch: { birthDate: "23.04.1980" }, fields: ["birthDate"] },
    { name: "February 30th", patch: { birthDate: "1980-02-30" }, fields: ["birthDate"] },
    { name: "born 1899", patch: { birthDate: "1899-12-31" }, fields: ["birthDate"] },
    { name: "born tomorrow everywhere", patch: { birthDate: "2026-12-07" }, fields: ["birthDate"] },
    { name: "unknown gender", patch: { gender: 9 as Gender }, fields: ["gender"] },
    { name: "bad phones", patch: { phones: ["0532 123 45 67", "12", ""] }, fields: ["phones[1]", "phones[2]"] },
    { name: "six phones", patch: { phones: Array(6).fill("0532 123 45 67") }, fields: ["phones"] },
    { name: "bad email", patch: { email: "sukru@example" }, fields: ["email"] },
    { name: "email with a space", patch: { email: "su kru@example.com" }, fields: ["email"] },
    { name: "bad language", patch: { preferredLanguage: "english please" }, fields: ["preferredLanguage"] },
    {
      name: "consents: two for one channel, no channel, in the future",
      patch: {
        consents: [
          consent(ContactChannel.SMS, true),
          consent(ContactChannel.SMS, false),
          consent(ContactChannel.UNSPECIFIED, true),
          consent(ContactChannel.EMAIL, true, "2026-12-06T10:00:00Z"),
        ],
      },
      fields: ["consents[1].channel", "consents[2].channel", "consents[3].recordedAt"],
    },
    { name: "bad location and patient ids", patch: { locationId: "loc kadikoy", patientId: "pat/1" }, fields: ["locationId", "patientId"] },
    { name: "bad record number", patch: { medicalRecordNumber: "KDK 42" }, fields: ["medicalRecordNumber"] },
    { name: "33-character record number", patch: { medicalRecordNumber: "A".repeat(33) }, fields: ["medicalRecordNumber"] },
    { name: "national id with a wrong check digit", patch: { nationalId: "10000000147" }, fields: ["nationalId"] },
    { name: "national id starting with 0", patch: { nationalId: "01000000146" }, fields: ["nationalId"] },
    { name: "national id of 10 digits", patch: { nationalId: "1000000014" }, fields: ["nationalId"] },
    {
      name: "related persons: no relationship, no name, bad phone",
      patch: { relatedPersons: [person({ relationship: Relationship.UNSPECIFIED, givenName: "", phone: "12" })] },
      fields: ["relatedPersons[0].relationship", "relatedPersons[0].givenName", "relatedPersons[0].phone"],
    },
    { name: "six related persons", patch: { relatedPersons: Array(6).fill(person({ relationship: Relationship.OTHER, givenName: "Ali" })) }, fields: ["relatedPersons"] },
    { name: "2001 characters of notes", patch: { notes: "n".repeat(2001) }, fields: ["notes"] },
    { name: "NUL in the notes", patch: { notes: "a\u0000" }, fields: ["notes"] },
  ],
});

rpc({
  method: method.getPatient,
  schema: GetPatientRequestSchema,
  call: (req, c) => impl.getPatient(req, c),
  valid: { patientId: "pat-1" },
  alsoValid: [{ name: "with an access reason", patch: { accessReason: "patient brought in by ambulance" } }],
  bad: [
    { name: "no id", patch: { patientId: "" }, fields: ["patientId"] },
    { name: "id with a slash", patch: { patientId: "pat/1" }, fields: ["patientId"] },
    { name: "access reason too short", patch: { accessReason: "because" }, fields: ["accessReason"] },
    { name: "access reason too long", patch: { accessReason: "r".repeat(501) }, fields: ["accessReason"] },
    { name: "access reason with a NUL", patch: { accessReason: "patient brought in\u0000" }, fields: ["accessReason"] },
  ],
});

const patient = { patientId: "pat-1", version: 3n, email: "new@example.com" };
const upd = (init: Record<string, unknown>) => record({ ...patient, ...init });

rpc({
  method: method.updatePatient,
  schema: UpdatePatientRequestSchema,
  call: (req, c) => impl.updatePatient(req, c),
  valid: { requestId: "req-2", patient: record(patient), updateMask: mask(["email"]) },
  alsoValid: [
    { name: "lowerCamel paths", patch: { patient: upd({ preferredLanguage: "en" }), updateMask: mask(["preferredLanguage", "email"]) } },
    { name: "clearing optional fields", patch: { patient: record({ patientId: "pat-1", version: 3n }), updateMask: mask(["email", "phones", "national_id", "medical_record_number", "notes", "related_persons", "consents"]) } },
    { name: "with an access reason", patch: { accessReason: "patient brought in by ambulance" } },
    { name: "every path", patch: { patient: record({ ...valid, patientId: "pat-1", version: 3n }), updateMask: mask(["given_name", "family_name", "birth_date", "gender", "phones", "email", "preferred_language", "consents", "location_id", "medical_record_number", "national_id", "related_persons", "notes"]) } },
  ],
  bad: [
    { name: "no request id", patch: { requestId: "" }, fields: ["requestId"] },
    { name: "no patient", patch: { patient: undefined }, fields: ["patient", "patient.patientId"] },
    { name: "a negative version", patch: { patient: upd({ version: -1n }) }, fields: ["patient.version"] },
    { name: "no id or version", patch: { patient: record({ email: "a@example.com" }) }, fields: ["patient.patientId", "patient.version"] },
    { name: "no mask", patch: { updateMask: undefined }, fields: ["updateMask"] },
    { name: "unknown and repeated paths", patch: { updateMask: mask(["email", "version", "email", "merged_into_patient_id"]) }, fields: ["updateMask.paths[1]", "updateMask.paths[2]", "updateMask.paths[3]"] },
    { name: "a masked required field empty", patch: { patient: record({ patientId: "pat-1", version: 3n }), updateMask: mask(["given_name", "birth_date"]) }, fields: ["patient.givenName", "patient.birthDate"] },
    { name: "a masked field bad", patch: { patient: upd({ nationalId: "10000000147" }), updateMask: mask(["national_id"]) }, fields: ["patient.nationalId"] },
    { name: "a field outside the mask with a NUL", patch: { patient: upd({ givenName: "Ali\u0000", mergedIntoPatientId: "x\u0000" }) }, fields: ["patient.givenName", "patient.mergedIntoPatientId"] },
    { name: "a bad phone outside the mask", patch: { patient: upd({ phones: ["12"] }) }, fields: ["patient.phones[0]"] },
    { name: "bad location", patch: { patient: upd({ locationId: "loc a" }), updateMask: mask(["location_id"]) }, fields: ["patient.locationId"] },
    { name: "access reason too short", patch: { accessReason: "x" }, fields: ["accessReason"] },
  ],
});

rpc({
  method: method.getContactDetails,
  schema: GetContactDetailsRequestSchema,
  call: (req, c) => impl.getContactDetails(req, c),
  valid: { patientId: "pat-1", purpose: "reminder for appointment apt-1" },
  alsoValid: [{ name: "three characters", patch: { purpose: "sms" } }],
  bad: [
    { name: "no id, no purpose", patch: { patientId: "", purpose: "" }, fields: ["patientId", "purpose"] },
    { name: "purpose too short", patch: { purpose: "ab" }, fields: ["purpose"] },
    { name: "purpose too short once trimmed", patch: { purpose: "  ab  " }, fields: ["purpose"] },
    { name: "purpose too long", patch: { purpose: "p".repeat(201) }, fields: ["purpose"] },
    { name: "purpose with a NUL", patch: { purpose: "reminder\u0000" }, fields: ["purpose"] },
  ],
});

rpc({
  method: method.mergePatients,
  schema: MergePatientsRequestSchema,
  call: (req, c) => impl.mergePatients(req, c),
  valid: { requestId: "req-merge-1", survivorPatientId: "pat-1", mergedPatientId: "pat-2" },
  alsoValid: [{ name: "with an access reason", patch: { accessReason: "duplicate registration found at the desk" } }],
  bad: [
    { name: "empty request", patch: { requestId: "", survivorPatientId: "", mergedPatientId: "" }, fields: ["requestId", "survivorPatientId", "mergedPatientId"] },
    { name: "malformed ids", patch: { survivorPatientId: "pat 1", mergedPatientId: "pat/2" }, fields: ["survivorPatientId", "mergedPatientId"] },
    { name: "a record into itself", patch: { mergedPatientId: "pat-1" }, fields: ["mergedPatientId"] },
    { name: "access reason too short", patch: { accessReason: "dup" }, fields: ["accessReason"] },
    { name: "access reason with a NUL", patch: { accessReason: "duplicate\u0000registration" }, fields: ["accessReason"] },
  ],
});

rpc({
  method: method.resolvePatient,
  schema: ResolvePatientRequestSchema,
  call: (req, c) => impl.resolvePatient(req, c),
  valid: { patientId: "pat-1" },
  alsoValid: [{ name: "with a location", patch: { locationId: "loc-north" } }],
  bad: [
    { name: "no id", patch: { patientId: "" }, fields: ["patientId"] },
    { name: "malformed id and location", patch: { patientId: "pat 1", locationId: "loc/north" }, fields: ["patientId", "locationId"] },
  ],
});

// SearchPatients (search-terms.ts' engineer) has its own test.
coversEveryRpc(["SearchPatients"]);
