import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ContactChannel, Gender, Relationship, type PatientSchema } from "../../../gen/medschedule/patient/v1/patient_pb.js";
import type { PatientRow } from "../db/patient.table.js";
import type { PatientData } from "../patient-vault.js";

/** patientMessage is a patients row with its opened data as a Patient message. */
export function patientMessage(row: PatientRow, data: PatientData): MessageInitShape<typeof PatientSchema> {
  return {
    patientId: row.patient_id,
    givenName: data.givenName,
    familyName: data.familyName,
    birthDate: data.birthDate,
    gender: Gender[row.gender],
    phones: data.phones,
    email: data.email,
    preferredLanguage: row.preferred_language,
    consents: row.consents.map((c) => ({ channel: ContactChannel[c.channel], granted: c.granted, recordedAt: timestampFromDate(new Date(c.recordedAt)) })),
    locationId: row.location_id,
    medicalRecordNumber: data.medicalRecordNumber,
    nationalId: data.nationalId,
    relatedPersons: data.relatedPersons.map((p) => ({ ...p, relationship: Relationship[p.relationship as keyof typeof Relationship] ?? Relationship.UNSPECIFIED })),
    notes: data.notes,
    version: BigInt(row.version),
    mergedIntoPatientId: row.merged_into ?? "",
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  };
}
