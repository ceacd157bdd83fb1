// What the patient record RPCs accept (CreatePatient, GetPatient, UpdatePatient with its update mask,
// GetContactDetails). Each validate* returns the request's values as stored (names trimmed, phones
// E.164, language canonical, consents dated), or throws INVALID_ARGUMENT naming every bad field at
// once. Every message names the field and what is expected, never the value sent: it is patient data
// (errors.ts, quotable). Every string field is checked for control characters, a NUL included, even
// when an update mask leaves it out (Postgres text cannot hold a NUL; nothing sent goes unchecked).
import { GenderSchema, type Patient } from "../../gen/medschedule/patient/v1/patient_pb.js";
import type {
  CreatePatientRequest,
  GetContactDetailsRequest,
  GetPatientRequest,
  UpdatePatientRequest,
} from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { DEFAULT_LOCATION_ID } from "../runtime/auth/location-scope.js";
import { maskFieldNames, type RequestValidator, validate } from "../runtime/request/validation.js";
import type { GenderName, StoredConsent } from "./db/patient.table.js";
import {
  accessReason,
  birthDate,
  consents,
  CONTROL,
  DEFAULT_LANGUAGE,
  email,
  genderName,
  language,
  medicalRecordNumber,
  nationalId,
  notes,
  personName,
  phones,
  relatedPersons,
} from "./patient-fields.validation.js";
import type { RelatedPersonData } from "./patient-vault.js";

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
    const purpose = req.purpose.trim();
    v.string("purpose", req.purpose, { max: 200 });
    if (purpose !== "" && purpose.length < 3) v.add("purpose", "must say what the contact is for in at least 3 characters", "TOO_SHORT");
    return { patientId: req.patientId, purpose };
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
    if (p && version === 0n) v.add("patient.version", "is required: the version of the record as read (GetPatient), so that a change made meanwhile is not overwritten", "REQUIRED");
    else if (p && version < 0n) v.add("patient.version", "must be the version of the record as read (GetPatient): 1 or more", "OUT_OF_RANGE");
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
  if (paths.length === 0) v.add("updateMask", `is required: name the fields to change, of ${maskFieldNames(PATIENT_PATHS)}`, "REQUIRED");
  const seen = new Set<PatientPath>();
  paths.forEach((raw, i) => {
    const path = snake(raw);
    if (!(PATIENT_PATHS as readonly string[]).includes(path)) v.add(`updateMask.paths[${i}]`, `cannot change this field; updateMask may name ${maskFieldNames(PATIENT_PATHS)}`, "UNKNOWN_PATH");
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

