import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  PatientService,
  type CreatePatientRequest,
  type CreatePatientResponseSchema,
  type GetContactDetailsRequest,
  type GetContactDetailsResponseSchema,
  type GetPatientRequest,
  type GetPatientResponseSchema,
  type MergePatientsRequest,
  type MergePatientsResponseSchema,
  type ResolvePatientRequest,
  type ResolvePatientResponseSchema,
  type SearchPatientsRequest,
  type SearchPatientsResponseSchema,
  type UpdatePatientRequest,
  type UpdatePatientResponseSchema,
} from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import type { Peers } from "../runtime/clients/peers.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Config } from "../runtime/config.js";
import { UnimplementedError } from "../runtime/errors.js";
import type { Logger } from "../runtime/observability/logger.js";
import { ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Database } from "./db/database.js";
import { PatientRecords } from "./patient-records.js";
import { validateCreatePatient, validateGetContactDetails, validateGetPatient, validateUpdatePatient } from "./patient.validation.js";
import type { PatientVault } from "./patient-vault.js";

/** PatientConfig is the part of the process configuration the patient service reads. */
export type PatientConfig = Pick<Config, "patientDefaultRegion">;

/** PatientServiceDeps are the PatientServiceImpl's dependencies (ServiceDeps plus the vault). */
export interface PatientServiceDeps {
  db: Kysely<any>;
  /** vault holds the keys (vaultFromConfig). */
  vault: PatientVault;
  clock?: Clock;
  logger?: Logger;
  config?: PatientConfig;
  /** peers reach the scheduling and queue services (a merge's reassignment). */
  peers?: Peers;
  pageTokens?: PageTokens;
}

/** PatientServiceImpl is the patient directory (patient_service.proto). */
export class PatientServiceImpl implements ServiceImpl<typeof PatientService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly vault: PatientVault;
  private readonly pageTokens: PageTokens;
  private readonly region: string;
  private readonly records: PatientRecords;

  constructor(private readonly deps: PatientServiceDeps) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.vault = deps.vault;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.region = deps.config?.patientDefaultRegion ?? "TR";
    this.records = new PatientRecords(this.db, this.vault, this.clock);
  }

  async createPatient(req: CreatePatientRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof CreatePatientResponseSchema>> {
    return this.records.createPatient(req, validateCreatePatient(req, { region: this.region, now: this.clock.now() }), ctx);
  }

  async getPatient(req: GetPatientRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetPatientResponseSchema>> {
    return this.records.getPatient(validateGetPatient(req), ctx);
  }

  async updatePatient(req: UpdatePatientRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof UpdatePatientResponseSchema>> {
    return this.records.updatePatient(req, validateUpdatePatient(req, { region: this.region, now: this.clock.now() }), ctx);
  }

  async searchPatients(_req: SearchPatientsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof SearchPatientsResponseSchema>> {
    throw new UnimplementedError("SearchPatients");
  }

  async mergePatients(_req: MergePatientsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof MergePatientsResponseSchema>> {
    throw new UnimplementedError("MergePatients");
  }

  async resolvePatient(_req: ResolvePatientRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ResolvePatientResponseSchema>> {
    throw new UnimplementedError("ResolvePatient");
  }

  async getContactDetails(req: GetContactDetailsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetContactDetailsResponseSchema>> {
    return this.records.getContactDetails(validateGetContactDetails(req), ctx);
  }

  /** close stops the background work (the merge reassignment and re-encryption jobs). */
  async close(): Promise<void> {}
}
