// PatientVault seals what a patient record holds of personal data into patients.data and opens it
// again; it is the one place the patient service touches its keys (docs/patient-data.md).
import { BlindIndex, FieldCipher, parseKeys } from "../runtime/crypto/field-cipher.js";
import { ConfigError, type Config } from "../runtime/config.js";
import type { RequestKey } from "../runtime/idempotency.js";

/** RelatedPersonData is a related person as sealed. */
export interface RelatedPersonData {
  /** relationship is a Relationship name without its prefix ("GUARDIAN"). */
  relationship: string;
  givenName: string;
  familyName: string;
  /** phone is E.164, or "" when none. */
  phone: string;
}

/** PatientData is the sealed part of a record: everything that identifies the patient. */
export interface PatientData {
  givenName: string;
  familyName: string;
  /** birthDate is "YYYY-MM-DD". */
  birthDate: string;
  /** phones are E.164. */
  phones: string[];
  email: string;
  medicalRecordNumber: string;
  /** nationalId is the T.C. Kimlik No, 11 digits, or "". */
  nationalId: string;
  relatedPersons: RelatedPersonData[];
  notes: string;
}

/** PatientVault seals and opens PatientData and makes the blind-index digests of its lookups. */
export class PatientVault {
  constructor(
    /** cipher holds PATIENT_ENCRYPTION_KEYS. */
    readonly cipher: FieldCipher,
    /** index holds PATIENT_INDEX_KEY. */
    readonly index: BlindIndex,
  ) {}

  /** seal encrypts a record's data, bound to its id: { data, key_id } for the patients row. */
  seal(patientId: string, data: PatientData): { data: string; key_id: string } {
    return { data: this.cipher.encrypt(JSON.stringify(data), dataAad(patientId)), key_id: this.cipher.currentKeyId };
  }

  /** open decrypts a patients row's data. */
  open(patientId: string, sealed: string): PatientData {
    return JSON.parse(this.cipher.decrypt(sealed, dataAad(patientId))) as PatientData;
  }

  /** sealReason encrypts a break-the-glass access reason for the audit log. */
  sealReason(reason: string): string {
    return this.cipher.encrypt(reason, "patient-audit");
  }

  /** openReason decrypts an audit row's access reason. */
  openReason(sealed: string): string {
    return this.cipher.decrypt(sealed, "patient-audit");
  }

  /** sealResponse seals a requestId's stored first response (it holds a record), bound to its key. */
  sealResponse(key: RequestKey, response: Uint8Array): Uint8Array {
    return Buffer.from(this.cipher.encrypt(Buffer.from(response).toString("base64"), responseAad(key)), "utf8");
  }

  /** openResponse opens what sealResponse stored. */
  openResponse(key: RequestKey, sealed: Uint8Array): Buffer {
    return Buffer.from(this.cipher.decrypt(Buffer.from(sealed).toString("utf8"), responseAad(key)), "base64");
  }

  /** nationalIdDigest is the unique blind index of a national id. */
  nationalIdDigest(nationalId: string): string | null {
    return nationalId === "" ? null : this.index.digest("national_id", nationalId);
  }

  /** mrnDigest is the blind index of a medical record number, unique per location. */
  mrnDigest(locationId: string, mrn: string): string | null {
    return mrn === "" ? null : this.index.digest("mrn", `${locationId}\0${mrn.toUpperCase()}`);
  }
}

function responseAad(key: RequestKey): string {
  return `patient-request/${key.caller}/${key.rpc}/${key.requestId}`;
}

function dataAad(patientId: string): string {
  return `patient/${patientId}/data`;
}

/**
 * vaultFromConfig builds the vault from PATIENT_ENCRYPTION_KEYS and PATIENT_INDEX_KEY; without them the
 * patient service does not start (it never stores patient data in plaintext). `npm start` generates
 * both into DATA_DIR.
 */
export function vaultFromConfig(config: Pick<Config, "patientEncryptionKeys" | "patientIndexKey">): PatientVault {
  if (!config.patientEncryptionKeys || !config.patientIndexKey) {
    throw new ConfigError(
      "the patient service needs PATIENT_ENCRYPTION_KEYS (id:base64key[,...], 32-byte keys) and PATIENT_INDEX_KEY (base64, 32 bytes or more): patient data is never stored in plaintext (npm start generates both into DATA_DIR)",
    );
  }
  return new PatientVault(new FieldCipher(parseKeys(config.patientEncryptionKeys, "PATIENT_ENCRYPTION_KEYS")), new BlindIndex(config.patientIndexKey));
}
