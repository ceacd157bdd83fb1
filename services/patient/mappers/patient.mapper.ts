// Row-to-message mapping for patient records: the plain columns of a patients row and its opened data.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ContactChannel, Gender, Relationship, type ContactDetailsSchema, type PatientSchema } from "../../../gen/medschedule/patient/v1/patient_pb.js";
import type { PatientRow, StoredConsent } from "../db/patient.table.js";
import type { PatientData } from "../patient-vault.js";

/** toConsents maps stored consents to their messages. */
function toConsents(consents: readonly StoredConsent[]) {
  return consents.map((c) => ({ channel: ContactChannel[c.channel], granted: c.granted, recordedAt: timestampFromDate(new Date(c.recordedAt)) }));
}

/**
 * toPatient maps a record. `forPatient` leaves out what the patient themselves does not see: the
 * notes for staff.
 */
export function toPatient(row: PatientRow, data: PatientData, opts: { forPatient?: boolean } = {}): MessageInitShape<typeof PatientSchema> {
  return {
    patientId: row.patient_id,
    givenName: data.givenName,
    familyName: data.familyName,
    birthDate: data.birthDate,
    gender: Gender[row.gender],
    phones: [...data.phones],
    email: data.email,
    preferredLanguage: row.preferred_language,
    consents: toConsents(row.consents),
    locationId: row.location_id,
    medicalRecordNumber: data.medicalRecordNumber,
    nationalId: data.nationalId,
    relatedPersons: data.relatedPersons.map((r) => ({
      relationship: Relationship[r.relationship as keyof typeof Relationship] ?? Relationship.UNSPECIFIED,
      givenName: r.givenName,
      familyName: r.familyName,
      phone: r.phone,
    })),
    notes: opts.forPatient ? "" : data.notes,
    version: BigInt(row.version),
    mergedIntoPatientId: row.merged_into ?? "",
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  };
}

/** toContactDetails maps the contacts of a record (a notification's narrow read). */
export function toContactDetails(row: PatientRow, data: PatientData): MessageInitShape<typeof ContactDetailsSchema> {
  return {
    patientId: row.patient_id,
    givenName: data.givenName,
    phones: [...data.phones],
    email: data.email,
    preferredLanguage: row.preferred_language,
    consents: toConsents(row.consents),
  };
}
