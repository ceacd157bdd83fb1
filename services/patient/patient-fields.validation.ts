// The checks of single patient fields, shared by every patient RPC that takes them (records, search):
// each adds a field violation with its own reason and never quotes the value sent (patient data:
// errors.ts, quotable), and returns the value as stored (trimmed, E.164, canonical tag, ...).
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { ContactChannel, ContactChannelSchema, Gender, Relationship, RelationshipSchema, type Consent, type RelatedPerson } from "../../gen/medschedule/patient/v1/patient_pb.js";
import { isLocalDate, type RequestValidator } from "../runtime/request/validation.js";
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
export const CONTROL = /[\u0000-\u001f\u007f]/;
/** TEXT_CONTROL is a control character other than the line breaks and tabs a textarea may send. */
const TEXT_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** NAME is a person's name: letters (with their marks), spaces, apostrophes, hyphens and dots. */
const NAME = /^[\p{L}\p{M}][\p{L}\p{M} '’.-]*$/u;
/** MRN is a medical record number. */
const MRN = /^[A-Za-z0-9/-]{1,32}$/;
/** EMAIL is what an email address looks like: one @, no spaces, a dot in the domain. */
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

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

/** KNOWN_LANGUAGES names languages in English; it answers undefined (fallback "none") for a language ICU does not know. */
const KNOWN_LANGUAGES = new Intl.DisplayNames(["en"], { type: "language", fallback: "none" });

/**
 * canonicalLanguage is a BCP 47 tag in its canonical form ("TR-tr" -> "tr-TR"), undefined when it is
 * not one or names no language anyone knows ("xx", "english"): a message must be writable in it.
 */
export function canonicalLanguage(tag: string): string | undefined {
  if (tag.length > 35 || !/^[A-Za-z0-9-]+$/.test(tag)) return undefined;
  try {
    const canonical = Intl.getCanonicalLocales(tag)[0];
    return KNOWN_LANGUAGES.of(canonical) === undefined ? undefined : canonical;
  } catch {
    return undefined;
  }
}
/** genderName is a Gender as stored (its name without the prefix). */
export function genderName(g: Gender): GenderName {
  return (Gender[g] as GenderName | undefined) ?? "UNSPECIFIED";
}

/** personName checks a given or family name: 1-100 letters, spaces, apostrophes, hyphens and dots once trimmed (required or not). */
export function personName(v: RequestValidator, field: string, value: string, required: boolean): void {
  const trimmed = value.trim();
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (trimmed === "") {
    if (required) v.add(field, "is required", "REQUIRED");
  } else if (trimmed.length > MAX_NAME) v.add(field, `must be at most ${MAX_NAME} characters (got ${trimmed.length})`, "TOO_LONG");
  else if (!NAME.test(trimmed)) v.add(field, "may contain only letters, spaces, apostrophes, hyphens and dots", "INVALID_NAME");
}

/** birthDate checks a date of birth: a real "YYYY-MM-DD" from 1900 on, not after today anywhere on Earth. */
export function birthDate(v: RequestValidator, field: string, value: string, now: Date): void {
  if (value === "") v.add(field, 'is required: the date of birth "YYYY-MM-DD"', "REQUIRED");
  else if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (!isLocalDate(value)) v.add(field, 'must be a real date "YYYY-MM-DD", not before 1900', "INVALID_DATE");
  else if (value > new Date(now.getTime() + EARLIEST_ZONE_AHEAD_MS).toISOString().slice(0, 10)) v.add(field, "must not be in the future", "IN_FUTURE");
}

/** phones checks a patient's phone numbers (at most 5) and returns them as E.164. */
export function phones(v: RequestValidator, field: string, values: readonly string[], region: string): string[] {
  if (values.length > MAX_PHONES) v.add(field, `must hold at most ${MAX_PHONES} numbers (got ${values.length})`, "TOO_MANY");
  return values.map((p, i) => phone(v, `${field}[${i}]`, p, region, true));
}

/** phone checks one phone number in any common format and returns it as E.164 ("" when empty and not required, or bad). */
export function phone(v: RequestValidator, field: string, value: string, region: string, required: boolean): string {
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

/** email checks an email address and returns it trimmed with its domain in lower case ("" for none). */
export function email(v: RequestValidator, field: string, value: string): string {
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

/** language checks a BCP 47 tag and returns its canonical form ("tr" when empty). */
export function language(v: RequestValidator, field: string, value: string): string {
  if (value === "") return DEFAULT_LANGUAGE;
  if (CONTROL.test(value)) {
    v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
    return DEFAULT_LANGUAGE;
  }
  const tag = canonicalLanguage(value);
  if (tag === undefined) v.add(field, 'must be a BCP 47 tag of a known language, such as "tr", "en" or "tr-TR"', "INVALID_LANGUAGE");
  return tag ?? DEFAULT_LANGUAGE;
}

/** consents checks consents (one per channel, recordedAt not in the future) and returns them as stored (recordedAt now when not sent). */
export function consents(v: RequestValidator, field: string, values: readonly Consent[], now: Date): StoredConsent[] {
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

/** medicalRecordNumber checks a medical record number: 1-32 of A-Z, a-z, 0-9, '-' and '/'. */
export function medicalRecordNumber(v: RequestValidator, field: string, value: string): void {
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (!MRN.test(value)) v.add(field, "must be 1-32 characters of A-Z, a-z, 0-9, '-' or '/'", "INVALID_MEDICAL_RECORD_NUMBER");
}

/** nationalId checks a T.C. Kimlik No (INVALID_NATIONAL_ID when its check digits do not match). */
export function nationalId(v: RequestValidator, field: string, value: string): void {
  if (CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (!isNationalId(value)) v.add(field, "is not a valid T.C. Kimlik No: 11 digits, not starting with 0, whose last two check digits match", "INVALID_NATIONAL_ID");
}

/** relatedPersons checks guardians and emergency contacts (at most 5: relationship and given name required, phone as E.164) and returns them as stored. */
export function relatedPersons(v: RequestValidator, field: string, values: readonly RelatedPerson[], region: string): RelatedPersonData[] {
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

/** notes checks the staff notes: up to 2000 characters of text (line breaks allowed). */
export function notes(v: RequestValidator, field: string, value: string): void {
  if (TEXT_CONTROL.test(value)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  else if (value.trim().length > MAX_NOTES) v.add(field, `must be at most ${MAX_NOTES} characters (got ${value.trim().length})`, "TOO_LONG");
}

