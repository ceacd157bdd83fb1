// Patient records: CreatePatient, GetPatient, UpdatePatient and the service role's GetContactDetails.
//
// Why / how:
// * What identifies a patient is sealed into patients.data (PatientVault); a national id and a
//   medical record number are also kept as blind-index digests whose unique indexes make the first
//   unique in the directory and the second per location (ALREADY_EXISTS, naming no other record);
//   the search terms of patient.lookups (search-terms.ts lookupsOf) are rewritten with every change.
// * Writes are idempotent by requestId: the key is claimed in the transaction's first statement and
//   the response stored with it before commit, sealed like the record (it holds the record), so a
//   retry answers as the first call did and the stored response leaks nothing a dump could read.
//   Everything a write does (record, lookups, locations, audit row, key) is one transaction: a
//   refused or failed write leaves nothing behind.
//   Keys and their answers are pruned after REQUEST_KEY_RETENTION_MS (24 h), as in the other services.
// * UpdatePatient is optimistic: patient.version must be the stored version (ABORTED
//   VERSION_MISMATCH otherwise), and each change adds one. A merged record is read-only.
// * Access (patient-access.ts) is decided before the transaction, so that a refusal's audit row is
//   written although the refused call writes nothing.
import { randomInt } from "node:crypto";
import { create, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  CreatePatientRequestSchema,
  CreatePatientResponseSchema,
  UpdatePatientRequestSchema,
  UpdatePatientResponseSchema,
  type CreatePatientRequest,
  type GetContactDetailsResponseSchema,
  type GetPatientResponseSchema,
  type UpdatePatientRequest,
} from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { requireLocation } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import type { Clock } from "../runtime/clock.js";
import { Retention } from "../runtime/db/change-log.js";
import { databaseDomainError } from "../runtime/errors.js";
import { RequestInProgressError, replayStored, type RequestKey, type StoredRequest } from "../runtime/idempotency.js";
import type { Database, Db } from "./db/database.js";
import type { PatientRow } from "./db/patient.table.js";
import { toContactDetails, toPatient } from "./mappers/patient.mapper.js";
import { PatientAccess } from "./patient-access.js";
import {
  medicalRecordNumberInUseError,
  nationalIdInUseError,
  notChangeableByPatientError,
  patientIdInUseError,
  patientMergedError,
  patientNotFoundError,
  versionMismatchError,
} from "./patient.errors.js";
import { PATIENT_OWN_PATHS, type PatientFields, type ValidCreatePatient, type ValidUpdatePatient } from "./patient.validation.js";
import type { PatientData, PatientVault } from "./patient-vault.js";
import {
  addPatientLocation,
  claimRequestKey,
  findPatient,
  insertPatient,
  REQUEST_KEYS,
  replaceLookups,
  uniqueViolation,
  updatePatientRow,
} from "./repositories/patient.repository.js";
import { lookupsOf } from "./search-terms.js";

/** LOCK_TIMEOUT_MS bounds every row wait of a write (lock_timeout): past it the write is ABORTED and retried by the client. */
const LOCK_TIMEOUT_MS = 5000;
/** REQUEST_KEY_RETENTION_MS is how long a requestId (and its sealed answer) is remembered, as in the other services. */
export const REQUEST_KEY_RETENTION_MS = 24 * 60 * 60_000;
/** MAX_MERGE_HOPS bounds following merged_into from a merged record to its survivor. */
const MAX_MERGE_HOPS = 10;
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** newPatientId is "pat-" and 20 random letters and digits. */
export function newPatientId(): string {
  let id = "pat-";
  for (let i = 0; i < 20; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** UniqueFields name the request fields of a write's national id and medical record number, for its ALREADY_EXISTS. */
interface UniqueFields {
  nationalId: string;
  medicalRecordNumber: string;
  locationId: string;
  patientId: string;
}

/** PatientRecords serves the record RPCs (see the file comment). */
export class PatientRecords {
  private readonly access: PatientAccess;
  /** retention prunes patient.request_keys past REQUEST_KEY_RETENTION_MS (at most once a minute, after a write). */
  private readonly retention: Retention;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly vault: PatientVault,
    private readonly clock: Clock,
  ) {
    this.access = new PatientAccess(db, vault, clock);
    this.retention = new Retention({
      db,
      clock,
      options: { changeRetentionMs: REQUEST_KEY_RETENTION_MS, requestKeyRetentionMs: REQUEST_KEY_RETENTION_MS },
      pruneChanges: async () => 0,
      requestKeys: REQUEST_KEYS,
    });
  }

  /** createPatient registers a patient at a location (the caller's, for staff limited to locations). */
  async createPatient(req: CreatePatientRequest, v: ValidCreatePatient, ctx: HandlerContext): Promise<MessageInitShape<typeof CreatePatientResponseSchema>> {
    const caller = callerOf(ctx);
    requireLocation(ctx, v.locationId);
    const key: RequestKey = { caller: caller.subject, rpc: "CreatePatient", requestId: v.requestId };
    const hash = this.requestHash(CreatePatientRequestSchema, { ...req, requestId: "" });
    const patientId = v.patientId ?? newPatientId();
    const now = this.clock.now();
    const fields = { nationalId: "nationalId", medicalRecordNumber: "medicalRecordNumber", locationId: v.locationId, patientId };
    return this.write(key, hash, now, CreatePatientResponseSchema, fields, async (trx) => {
      const data = dataOf(v);
      const row = await insertPatient(trx, {
        patient_id: patientId,
        location_id: v.locationId,
        ...this.vault.seal(patientId, data),
        gender: v.gender,
        preferred_language: v.preferredLanguage,
        consents: JSON.stringify(v.consents),
        national_id_digest: this.vault.nationalIdDigest(data.nationalId),
        mrn_digest: this.vault.mrnDigest(v.locationId, data.medicalRecordNumber),
        version: 1,
        merged_into: null,
        created_at: now,
        updated_at: now,
      });
      await replaceLookups(trx, patientId, lookupsOf(data, this.vault.index));
      await addPatientLocation(trx, patientId, v.locationId, now);
      await this.access.audit(trx, caller, "CreatePatient", patientId, { sealedReason: undefined }, now);
      return create(CreatePatientResponseSchema, { patient: toPatient(row, data) });
    });
  }

  /** getPatient reads a record (a merged one answers with mergedIntoPatientId); patients do not see the staff notes. */
  async getPatient(v: { patientId: string; accessReason: string }, ctx: HandlerContext): Promise<MessageInitShape<typeof GetPatientResponseSchema>> {
    const caller = callerOf(ctx);
    await this.access.requireOwn(caller, v.patientId, "look up patient records", "DeniedRead", "patientId");
    const row = await this.requirePatient(this.db, v.patientId);
    const access = await this.access.check(ctx, caller, row, v.accessReason, "DeniedRead");
    const data = this.vault.open(row.patient_id, row.data);
    await this.access.audit(this.db, caller, "GetPatient", row.patient_id, access);
    return { patient: toPatient(row, data, { forPatient: caller.role === "patient" }) };
  }

  /** updatePatient changes the masked fields of a record read at patient.version (see the file comment). */
  async updatePatient(req: UpdatePatientRequest, v: ValidUpdatePatient, ctx: HandlerContext): Promise<MessageInitShape<typeof UpdatePatientResponseSchema>> {
    const caller = callerOf(ctx);
    await this.access.requireOwn(caller, v.patientId, "change patient records", "DeniedUpdate", "patient.patientId");
    if (caller.role === "patient") {
      const other = v.paths.find((p) => !PATIENT_OWN_PATHS.includes(p));
      if (other !== undefined) throw notChangeableByPatientError(other);
    }
    const key: RequestKey = { caller: caller.subject, rpc: "UpdatePatient", requestId: v.requestId };
    const hash = this.requestHash(UpdatePatientRequestSchema, { ...req, requestId: "" });
    // A retry of a change already made answers as it did, whatever happened to the record since.
    const stored = await REQUEST_KEYS.find(this.db, key);
    if (stored) return this.replay(UpdatePatientResponseSchema, key, hash, stored);
    const current = await this.requirePatient(this.db, v.patientId);
    const access = await this.access.check(ctx, caller, current, v.accessReason, "DeniedUpdate");
    if (v.change.locationId !== undefined) requireLocation(ctx, v.change.locationId);
    const now = this.clock.now();
    const fields = { nationalId: "patient.nationalId", medicalRecordNumber: "patient.medicalRecordNumber", locationId: v.change.locationId ?? current.location_id, patientId: v.patientId };
    return this.write(key, hash, now, UpdatePatientResponseSchema, fields, async (trx) => {
      const row = await this.requirePatient(trx, v.patientId, true);
      if (row.merged_into !== null) throw patientMergedError(row.merged_into);
      if (Number(row.version) !== v.version) throw versionMismatchError(String(row.version));
      const c = v.change;
      const data: PatientData = { ...this.vault.open(row.patient_id, row.data), ...dataChange(c) };
      const locationId = c.locationId ?? row.location_id;
      const updated = await updatePatientRow(trx, row.patient_id, {
        location_id: locationId,
        ...this.vault.seal(row.patient_id, data),
        gender: c.gender ?? row.gender,
        preferred_language: c.preferredLanguage ?? row.preferred_language,
        consents: JSON.stringify(c.consents ?? row.consents),
        national_id_digest: this.vault.nationalIdDigest(data.nationalId),
        mrn_digest: this.vault.mrnDigest(locationId, data.medicalRecordNumber),
        version: Number(row.version) + 1,
        updated_at: now,
      });
      await replaceLookups(trx, row.patient_id, lookupsOf(data, this.vault.index));
      if (locationId !== row.location_id) await addPatientLocation(trx, row.patient_id, locationId, now);
      await this.access.audit(trx, caller, "UpdatePatient", row.patient_id, access, now);
      return create(UpdatePatientResponseSchema, { patient: toPatient(updated, data, { forPatient: caller.role === "patient" }) });
    });
  }

  /** getContactDetails is the service role's narrow read for a notification: a merged id reaches its survivor; audited with its purpose. */
  async getContactDetails(v: { patientId: string; purpose: string }, ctx: HandlerContext): Promise<MessageInitShape<typeof GetContactDetailsResponseSchema>> {
    const caller = callerOf(ctx);
    let row = await this.requirePatient(this.db, v.patientId);
    for (let hops = 0; row.merged_into !== null && hops < MAX_MERGE_HOPS; hops++) row = await this.requirePatient(this.db, row.merged_into);
    const data = this.vault.open(row.patient_id, row.data);
    await this.access.audit(this.db, caller, "GetContactDetails", row.patient_id, { sealedReason: this.vault.sealReason(v.purpose) });
    return { contact: toContactDetails(row, data) };
  }

  /** requirePatient reads a record (NOT_FOUND PATIENT_NOT_FOUND); `forUpdate` locks it. */
  private async requirePatient(db: Db, patientId: string, forUpdate = false): Promise<PatientRow> {
    const row = await findPatient(db, patientId, { forUpdate });
    if (!row) throw patientNotFoundError(patientId);
    return row;
  }

  /**
   * write runs a record write in one transaction: the requestId claimed first (a committed key
   * answers with its stored response), then `fn`, whose response is stored sealed with the key. A
   * unique index the write ran into answers ALREADY_EXISTS naming the request field.
   */
  private async write<S extends DescMessage>(key: RequestKey, hash: string, at: Date, schema: S, fields: UniqueFields, fn: (trx: Db) => Promise<MessageShape<S>>): Promise<MessageShape<S>> {
    try {
      const response = await this.db.transaction().execute(async (trx) => {
        if (!(await claimRequestKey(trx, key, hash, at, LOCK_TIMEOUT_MS))) {
          const existing = await REQUEST_KEYS.find(trx, key);
          if (!existing) throw new RequestInProgressError();
          return this.replay(schema, key, hash, existing);
        }
        const response = await fn(trx);
        await REQUEST_KEYS.saveResponse(trx, key, this.vault.sealResponse(key, toBinary(schema, response)));
        return response;
      });
      this.retention.maybePrune();
      return response;
    } catch (err) {
      switch (uniqueViolation(err)) {
        case "national_id":
          throw nationalIdInUseError(fields.nationalId);
        case "medical_record_number":
          throw medicalRecordNumberInUseError(fields.medicalRecordNumber, fields.locationId);
        case "patient_id":
          throw patientIdInUseError(fields.patientId);
        case "request_key":
          throw new RequestInProgressError();
        default:
          throw databaseDomainError(err) ?? err;
      }
    }
  }

  /** requestHash identifies a request's parameters, keyed (PATIENT_INDEX_KEY): a plain hash of patient data could be guessed back. */
  private requestHash<S extends DescMessage>(schema: S, req: MessageInitShape<S>): string {
    return this.vault.index.digest("request", Buffer.from(toBinary(schema, create(schema, req))).toString("base64"));
  }

  /** replay answers a requestId seen before: its first response (opened), or REQUEST_ID_REUSED / REQUEST_IN_PROGRESS. */
  private replay<S extends DescMessage>(schema: S, key: RequestKey, hash: string, stored: StoredRequest): MessageShape<S> {
    const response = stored.response && this.vault.openResponse(key, stored.response);
    return replayStored(schema, key, hash, { request_hash: stored.request_hash, response });
  }
}

/** dataOf is the sealed part of a validated record. */
function dataOf(f: PatientFields): PatientData {
  return {
    givenName: f.givenName,
    familyName: f.familyName,
    birthDate: f.birthDate,
    phones: f.phones,
    email: f.email,
    medicalRecordNumber: f.medicalRecordNumber,
    nationalId: f.nationalId,
    relatedPersons: f.relatedPersons,
    notes: f.notes,
  };
}

/** dataChange is the sealed part of an update's masked fields. */
function dataChange(c: Partial<PatientFields>): Partial<PatientData> {
  const out: Partial<PatientData> = {};
  for (const k of ["givenName", "familyName", "birthDate", "phones", "email", "medicalRecordNumber", "nationalId", "relatedPersons", "notes"] as const) {
    if (c[k] !== undefined) (out as Record<string, unknown>)[k] = c[k];
  }
  return out;
}

