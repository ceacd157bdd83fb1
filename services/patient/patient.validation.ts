// What the patient record RPCs accept (CreatePatient, GetPatient, UpdatePatient with its update mask,
// GetContactDetails). Each validate* returns the request's values as stored (names trimmed, phones
// E.164, language canonical, consents dated), or throws INVALID_ARGUMENT naming every bad field at
// once. Every message names the field and what is expected, never the value sent: it is patient data
// (errors.ts, quotable). Every string field is checked for control characters, a NUL included, even
// when an update mask leaves it out (Postgres text cannot hold a NUL; nothing sent goes unchecked).
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import {
  ContactChannel,
  ContactChannelSchema,
  Gender,
  GenderSchema,
  Relationship,
  RelationshipSchema,
  type Consent,
  type Patient,
  type RelatedPerson,
} from "../../gen/medschedule/patient/v1/patient_pb.js";
import type {
  CreatePatientRequest,
  GetContactDetailsRequest,
  GetPatientRequest,
  UpdatePatientRequest,
} from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { DEFAULT_LOCATION_ID } from "../runtime/auth/location-scope.js";
import { isLocalDate, validate, type RequestValidator } from "../runtime/request/validation.js";
import type { GenderName, StoredConsent } from "./db/patient.table.js";
import type { RelatedPersonData } from "./patient-vault.js";

/** MAX_NAME is the most characters of a given or family name. */
export const MAX_NAME = 100;
/** MAX_PHONES is the most phone numbers of a patient. */
export const MAX_PHONES = 5;
/** MAX_RELATED_PERSONS is the most guardians and emergency contacts of a patient. */
export const MAX_RELATED_PERSONS = 5;
/** MAX_NOTES is the most characters of the staff notes. */
export const MAX_NOTES = 2000;
/** MAX_EMAIL is the most characters of an email address (RFC 5321's path limit). */
const MAX_EMAIL = 254;
/** DEFAULT_LANGUAGE is the preferred language of a patient who names none. */
export const DEFAULT_LANGUAGE = "tr";
/** ACCESS_REASON_MIN and ACCESS_REASON_MAX bound a break-the-glass reason. */
export const ACCESS_REASON_MIN = 10;
const ACCESS_REASON_MAX = 500;
/** CLOCK_SKEW_MS is how far in the future a consent's recordedAt may lie (the sender's clock may run ahead). */
const CLOCK_SKEW_MS = 5 * 60_000;
/** EARLIEST_ZONE_AHEAD_MS is the most any time zone is ahead of UTC (UTC+14): a birth date is "today" somewhere until then. */
const EARLIEST_ZONE_AHEAD_MS = 14 * 3_600_000;

/** CONTROL is a control character (a NUL included). */
const CONTROL = /[\u0000-\u001f\u007f]/;
/** TEXT_CONTROL is a control character other than the line breaks and tabs a textarea may send. */
const TEXT_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** NAME is a person's name: letters (with their marks), spaces, apostrophes, hyphens and dots. */
const NAME = /^[\p{L}\p{M}][\p{L}\p{M} '’.-]*$/u;
/** MRN is a medical record number. */
const MRN = /^[A-Za-z0-9/-]{1,32}$/;
/** EMAIL is what an email address looks like: one @, no spaces, a dot in the domain. */
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** PATIENT_PATHS are the update_mask paths UpdatePatient accepts (snake_case; lowerCamel is read as the same). */
export const PATIENT_PATHS = [
  "given_name",
  "family_name",
  "birth_date",
  "gender",
  "phones",
  "email",
  "preferred_language",
  "consents",
  "location_id",
  "medical_record_number",
  "national_id",
  "related_persons",
  "notes",
] as const;

/** PatientPath is one update_mask path. */
export type PatientPath = (typeof PATIENT_PATHS)[number];

/** PATIENT_OWN_PATHS are the paths a patient may change in their own record: contacts, language and consents. */
export const PATIENT_OWN_PATHS: readonly PatientPath[] = ["phones", "email", "preferred_language", "consents"];

/** PatientFields are a record's validated values, as stored. */
export interface PatientFields {
  givenName: string;
  familyName: string;
  /** birthDate is "YYYY-MM-DD". */
  birthDate: string;
  gender: GenderName;
  /** phones are E.164. */
  phones: string[];
  /** email with its domain in lower case, or "". */
  email: string;
  /** preferredLanguage is a canonical BCP 47 tag. */
  preferredLanguage: string;
  consents: StoredConsent[];
  locationId: string;
  medicalRecordNumber: string;
  nationalId: string;
  relatedPersons: RelatedPersonData[];
  notes: string;
}

/** ValidCreatePatient is a validated CreatePatientRequest. */
export interface ValidCreatePatient extends PatientFields {
  requestId: string;
  /** patientId is the client-chosen id, undefined when the server is to generate one. */
  patientId: string | undefined;
}

/** ValidUpdatePatient is a validated UpdatePatientRequest: the new values of the masked fields only. */
export interface ValidUpdatePatient {
  requestId: string;
  patientId: string;
  /** version is the version the client read. */
  version: number;
  /** paths are the distinct masked fields. */
  paths: PatientPath[];
  /** change holds the masked fields' new values. */
  change: Partial<PatientFields>;
  /** accessReason is the break-the-glass reason, trimmed, or "". */
  accessReason: string;
}

/** ValidationContext is what validation needs besides the request: the phone region and the time. */
export interface ValidationContext {
  /** region is PATIENT_DEFAULT_REGION: where a number without a country code is read. */
  region: string;
  now: Date;
}

/** validateCreatePatient checks a CreatePatientRequest. */
export function validateCreatePatient(req: CreatePatientRequest, c: ValidationContext): ValidCreatePatient {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("patientId", req.patientId, { optional: true });
    v.id("locationId", req.locationId, { optional: true });
    return {
      requestId: req.requestId,
      patientId: req.patientId === "" ? undefined : req.patientId,
      ...patientFields(v, "", req, c),
    };
  });
}

/** validateGetPatient checks a GetPatientRequest. */
export function validateGetPatient(req: GetPatientRequest): { patientId: string; accessReason: string } {
  return validate((v) => {
    v.id("patientId", req.patientId);
    return { patientId: req.patientId, accessReason: accessReason(v, "accessReason", req.accessReason) };
  });
}

/** validateGetContactDetails checks a GetContactDetailsRequest: the id and a purpose of 3-200 characters. */
export function validateGetContactDetails(req: GetContactDetailsRequest): { patientId: string; purpose: string } {
  return validate((v) => {
    v.id("patientId", req.patientId);
    v.string("purpose", req.purpose, { min: 3, max: 200 });
    return { patientId: req.patientId, purpose: req.purpose.trim() };
  });
}

/**
 * validateUpdatePatient checks an UpdatePatientRequest: the patient's id and the version read, a mask
 * naming at least one field and only fields that can change (snake_case or lowerCamel, each once),
 * and the new value of every field it names. A field outside the mask changes nothing but is still
 * checked when set.
 */
export function validateUpdatePatient(req: UpdatePatientRequest, c: ValidationContext): ValidUpdatePatient {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    const p = req.patient;
    if (!p) v.add("patient", "is required: the patient's id, the version read and the new values of the fields in updateMask", "REQUIRED");
    v.id("patient.patientId", p?.patientId ?? "");
    const version = p?.version ?? 0n;
    if (p && version < 1n) v.add("patient.version", "is required: the version of the record as read (GetPatient), so that a change made meanwhile is not overwritten", "REQUIRED");
    if (p) checkOutputOnly(v, p);
    const paths = maskPaths(v, req.updateMask?.paths ?? []);
    const change: Partial<PatientFields> = {};
    if (p) {
      const all = patientFields(v, "patient.", p, c, new Set(paths));
      for (const path of paths) {
        const key = camel(path) as keyof PatientFields;
        (change as Record<string, unknown>)[key] = all[key];
      }
    }
    return {
      requestId: req.requestId,
      patientId: p?.patientId ?? "",
      version: Number(version),
      paths,
      change,
      accessReason: accessReason(v, "accessReason", req.accessReason),
    };
  });
}

/**
 * accessReason checks an optional break-the-glass reason: empty, or 10-500 characters of text.
 * Returns it trimmed.
 */
export function accessReason(v: RequestValidator, field: string, value: string): string {
  const trimmed = value.trim();
  if (TEXT_CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (value !== "" && trimmed.length < ACCESS_REASON_MIN) v.add(field, `must say why you need this record in at least ${ACCESS_REASON_MIN} characters`, "TOO_SHORT");
  else if (trimmed.length > ACCESS_REASON_MAX) v.add(field, `must be at most ${ACCESS_REASON_MAX} characters (got ${trimmed.length})`, "TOO_LONG");
  return trimmed;
}

/**
 * e164 reads a phone number written in any common format ("0532 123 45 67", "+90 532 123 4567",
 * "0090 532 1234567", "(0532) 123-4567") as E.164, numbers without a country code in `region`;
 * undefined when it is not a valid number there. libphonenumber-js (Google's libphonenumber metadata,
 * maintained upstream) decides, with its full ("max") metadata so that a number is checked against
 * the real number ranges of its country.
 */
export function e164(text: string, region: string): string | undefined {
  if (CONTROL.test(text) || text.length > 40) return undefined;
  const parsed = parsePhoneNumberFromString(text, region as Parameters<typeof parsePhoneNumberFromString>[1]);
  return parsed?.isValid() ? parsed.number : undefined;
}

/**
 * isNationalId tells whether a string is a T.C. Kimlik No: 11 digits, the first not 0, the 10th
 * ((d1+d3+d5+d7+d9)*7 - (d2+d4+d6+d8)) mod 10 and the 11th the sum of the first ten mod 10.
 */
export function isNationalId(value: string): boolean {
  if (!/^[1-9]\d{10}$/.test(value)) return false;
  const d = [...value].map(Number);
  const odd = d[0] + d[2] + d[4] + d[6] + d[8];
  const even = d[1] + d[3] + d[5] + d[7];
  const tenth = (((odd * 7 - even) % 10) + 10) % 10;
  const eleventh = d.slice(0, 10).reduce((a, b) => a + b, 0) % 10;
  return d[9] === tenth && d[10] === eleventh;
}

/** canonicalLanguage is a BCP 47 tag in its canonical form ("TR-tr" -> "tr-TR"), undefined when it is not one. */
export function canonicalLanguage(tag: string): string | undefined {
  if (tag.length > 35 || !/^[A-Za-z0-9-]+$/.test(tag)) return undefined;
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

/** PatientInput is what CreatePatientRequest and Patient share. */
type PatientInput = Pick<
  Patient,
  | "givenName"
  | "familyName"
  | "birthDate"
  | "gender"
  | "phones"
  | "email"
  | "preferredLanguage"
  | "consents"
  | "locationId"
  | "medicalRecordNumber"
  | "nationalId"
  | "relatedPersons"
  | "notes"
>;

/**
 * patientFields checks every field of a record; with `masked` (an update) a field outside the mask is
 * checked only when set, and required fields only when masked.
 */
function patientFields(v: RequestValidator, prefix: string, p: PatientInput, c: ValidationContext, masked?: ReadonlySet<PatientPath>): PatientFields {
  const checked = (path: PatientPath, set: boolean) => !masked || masked.has(path) || set;
  const f = (name: string) => `${prefix}${name}`;
  const out: PatientFields = {
    givenName: p.givenName.trim(),
    familyName: p.familyName.trim(),
    birthDate: p.birthDate,
    gender: genderName(p.gender),
    phones: [],
    email: "",
    preferredLanguage: DEFAULT_LANGUAGE,
    consents: [],
    locationId: p.locationId === "" ? DEFAULT_LOCATION_ID : p.locationId,
    medicalRecordNumber: p.medicalRecordNumber,
    nationalId: p.nationalId,
    relatedPersons: [],
    notes: p.notes.trim(),
  };
  if (checked("given_name", p.givenName !== "")) personName(v, f("givenName"), p.givenName, true);
  if (checked("family_name", p.familyName !== "")) personName(v, f("familyName"), p.familyName, true);
  if (checked("birth_date", p.birthDate !== "")) birthDate(v, f("birthDate"), p.birthDate, c.now);
  if (checked("gender", p.gender !== 0)) v.enumValue(f("gender"), p.gender, GenderSchema, { optional: true });
  if (checked("phones", p.phones.length > 0)) out.phones = phones(v, f("phones"), p.phones, c.region);
  if (checked("email", p.email !== "")) out.email = email(v, f("email"), p.email);
  if (checked("preferred_language", p.preferredLanguage !== "")) out.preferredLanguage = language(v, f("preferredLanguage"), p.preferredLanguage);
  if (checked("consents", p.consents.length > 0)) out.consents = consents(v, f("consents"), p.consents, c.now);
  if (masked && checked("location_id", p.locationId !== "")) v.id(f("locationId"), p.locationId, { optional: true });
  if (p.medicalRecordNumber !== "") medicalRecordNumber(v, f("medicalRecordNumber"), p.medicalRecordNumber);
  if (p.nationalId !== "") nationalId(v, f("nationalId"), p.nationalId);
  if (checked("related_persons", p.relatedPersons.length > 0)) out.relatedPersons = relatedPersons(v, f("relatedPersons"), p.relatedPersons, c.region);
  if (checked("notes", p.notes !== "")) notes(v, f("notes"), p.notes);
  return out;
}

/** checkOutputOnly refuses control characters in the fields of a Patient the server sets (ignored otherwise). */
function checkOutputOnly(v: RequestValidator, p: Patient): void {
  if (CONTROL.test(p.mergedIntoPatientId)) v.add("patient.mergedIntoPatientId", "must not contain control characters (the server sets this field; leave it empty)", "CONTROL_CHARACTERS");
}

/** maskPaths checks update_mask: required, each path one UpdatePatient can change (snake_case or lowerCamel), each once. Returns them in snake_case. */
function maskPaths(v: RequestValidator, paths: readonly string[]): PatientPath[] {
  if (paths.length === 0) v.add("updateMask", `is required: name the fields to change, of ${PATIENT_PATHS.join(", ")}`, "REQUIRED");
  const seen = new Set<PatientPath>();
  paths.forEach((raw, i) => {
    const path = snake(raw);
    if (!(PATIENT_PATHS as readonly string[]).includes(path)) v.add(`updateMask.paths[${i}]`, `cannot change this field; updateMask may name ${PATIENT_PATHS.join(", ")}`, "UNKNOWN_PATH");
    else if (seen.has(path as PatientPath)) v.add(`updateMask.paths[${i}]`, "names a field already named", "DUPLICATE_PATH");
    else seen.add(path as PatientPath);
  });
  return [...seen];
}

/** snake turns a lowerCamel path into snake_case ("givenName" -> "given_name"). */
function snake(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** camel turns a snake_case path into lowerCamel. */
function camel(path: string): string {
  return path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function genderName(g: Gender): GenderName {
  return (Gender[g] as GenderName | undefined) ?? "UNSPECIFIED";
}

function personName(v: RequestValidator, field: string, value: string, required: boolean): void {
  const trimmed = value.trim();
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (trimmed === "") {
    if (required) v.add(field, "is required", "REQUIRED");
  } else if (trimmed.length > MAX_NAME) v.add(field, `must be at most ${MAX_NAME} characters (got ${trimmed.length})`, "TOO_LONG");
  else if (!NAME.test(trimmed)) v.add(field, "may contain only letters, spaces, apostrophes, hyphens and dots", "INVALID_NAME");
}

function birthDate(v: RequestValidator, field: string, value: string, now: Date): void {
  if (value === "") v.add(field, 'is required: the date of birth "YYYY-MM-DD"', "REQUIRED");
  else if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (!isLocalDate(value)) v.add(field, 'must be a real date "YYYY-MM-DD", not before 1900', "INVALID_DATE");
  else if (value > new Date(now.getTime() + EARLIEST_ZONE_AHEAD_MS).toISOString().slice(0, 10)) v.add(field, "must not be in the future", "IN_FUTURE");
}

function phones(v: RequestValidator, field: string, values: readonly string[], region: string): string[] {
  if (values.length > MAX_PHONES) v.add(field, `must hold at most ${MAX_PHONES} numbers (got ${values.length})`, "TOO_MANY");
  return values.map((p, i) => phone(v, `${field}[${i}]`, p, region, true));
}

function phone(v: RequestValidator, field: string, value: string, region: string, required: boolean): string {
  if (value.trim() === "" && !CONTROL.test(value)) {
    if (required) v.add(field, "is required: a phone number, e.g. \"0532 123 45 67\" or \"+90 532 123 4567\"", "REQUIRED");
    return "";
  }
  if (CONTROL.test(value)) {
    v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
    return "";
  }
  const number = e164(value, region);
  if (number === undefined) v.add(field, `is not a valid phone number; write it with its country code ("+90 532 123 4567") or as dialled in ${region} ("0532 123 45 67")`, "INVALID_PHONE");
  return number ?? "";
}

function email(v: RequestValidator, field: string, value: string): string {
  const trimmed = value.trim();
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (trimmed.length > MAX_EMAIL) v.add(field, `must be at most ${MAX_EMAIL} characters (got ${trimmed.length})`, "TOO_LONG");
  else if (trimmed !== "" && !EMAIL.test(trimmed)) v.add(field, 'is not an email address; write it as "name@example.com"', "INVALID_EMAIL");
  else {
    const at = trimmed.lastIndexOf("@");
    return at < 0 ? trimmed : `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
  }
  return "";
}

function language(v: RequestValidator, field: string, value: string): string {
  if (value === "") return DEFAULT_LANGUAGE;
  if (CONTROL.test(value)) {
    v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
    return DEFAULT_LANGUAGE;
  }
  const tag = canonicalLanguage(value);
  if (tag === undefined) v.add(field, 'must be a BCP 47 language tag such as "tr", "en" or "tr-TR"', "INVALID_LANGUAGE");
  return tag ?? DEFAULT_LANGUAGE;
}

function consents(v: RequestValidator, field: string, values: readonly Consent[], now: Date): StoredConsent[] {
  const seen = new Set<ContactChannel>();
  const out: StoredConsent[] = [];
  values.forEach((c, i) => {
    const f = `${field}[${i}]`;
    const before = v.violations.length;
    v.enumValue(`${f}.channel`, c.channel, ContactChannelSchema);
    if (v.violations.length === before && seen.has(c.channel)) v.add(`${f}.channel`, "names a channel already given: send one consent per channel", "DUPLICATE_CHANNEL");
    seen.add(c.channel);
    const at = recordedAt(v, `${f}.recordedAt`, c.recordedAt, now);
    if (v.violations.length === before) out.push({ channel: ContactChannel[c.channel] as StoredConsent["channel"], granted: c.granted, recordedAt: at.toISOString() });
  });
  return out;
}

function recordedAt(v: RequestValidator, field: string, value: Timestamp | undefined, now: Date): Date {
  if (!value) return now;
  const at = v.timestamp(field, value);
  if (at && at.getTime() > now.getTime() + CLOCK_SKEW_MS) v.add(field, "must not be in the future: when the patient gave or withdrew consent (leave it out for now)", "IN_FUTURE");
  return at ?? now;
}

function medicalRecordNumber(v: RequestValidator, field: string, value: string): void {
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (!MRN.test(value)) v.add(field, "must be 1-32 characters of A-Z, a-z, 0-9, '-' or '/'", "INVALID_MEDICAL_RECORD_NUMBER");
}

function nationalId(v: RequestValidator, field: string, value: string): void {
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (!isNationalId(value)) v.add(field, "is not a valid T.C. Kimlik No: 11 digits, not starting with 0, whose last two check digits match", "INVALID_NATIONAL_ID");
}

function relatedPersons(v: RequestValidator, field: string, values: readonly RelatedPerson[], region: string): RelatedPersonData[] {
  if (values.length > MAX_RELATED_PERSONS) v.add(field, `must hold at most ${MAX_RELATED_PERSONS} people (got ${values.length})`, "TOO_MANY");
  return values.map((r, i) => {
    const f = `${field}[${i}]`;
    v.enumValue(`${f}.relationship`, r.relationship, RelationshipSchema);
    personName(v, `${f}.givenName`, r.givenName, true);
    personName(v, `${f}.familyName`, r.familyName, false);
    return {
      relationship: Relationship[r.relationship] ?? "UNSPECIFIED",
      givenName: r.givenName.trim(),
      familyName: r.familyName.trim(),
      phone: phone(v, `${f}.phone`, r.phone, region, false),
    };
  });
}

function notes(v: RequestValidator, field: string, value: string): void {
  if (TEXT_CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (value.trim().length > MAX_NOTES) v.add(field, `must be at most ${MAX_NOTES} characters (got ${value.trim().length})`, "TOO_LONG");
}

