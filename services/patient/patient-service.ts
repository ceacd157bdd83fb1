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
import type { Logger } from "../runtime/observability/logger.js";
import { ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import type { Database } from "./db/database.js";
import { PatientRecords } from "./patient-records.js";
import { validateCreatePatient, validateGetContactDetails, validateGetPatient, validateUpdatePatient } from "./patient.validation.js";
import { PatientSearch } from "./patient-search.js";
import { ReencryptionJob } from "./patient-reencryption.js";
import type { PatientVault } from "./patient-vault.js";
import { toPatient } from "./mappers/patient.mapper.js";
import { MergeReassigner, type MergeReassignerOptions } from "./merge-reassigner.js";
import { PatientMerge, validateMergePatients } from "./patient-merge.js";
import { resolvePatient, validateResolvePatient } from "./patient-resolve.js";
import { callerOf } from "../runtime/caller.js";

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
  /** reassigner tunes the merges' reassignment job (merge-reassigner.ts). */
  reassigner?: Partial<MergeReassignerOptions>;
  /** reencryptIntervalMs is how often the re-encryption job runs (default 5 minutes, first at start); 0: never in the background. */
  reencryptIntervalMs?: number;
}

/** PatientServiceImpl is the patient directory (patient_service.proto). */
export class PatientServiceImpl implements ServiceImpl<typeof PatientService> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly vault: PatientVault;
  private readonly pageTokens: PageTokens;
  private readonly region: string;
  private readonly records: PatientRecords;
  /** reassigner moves merged records' appointments and tickets (merge-reassigner.ts). */
  readonly reassigner: MergeReassigner;
  private readonly merge: PatientMerge;
  private readonly search: PatientSearch;
  /** reencryption re-seals rows sealed with an older key (patient-reencryption.ts). */
  readonly reencryption: ReencryptionJob;

  constructor(private readonly deps: PatientServiceDeps) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.vault = deps.vault;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.region = deps.config?.patientDefaultRegion ?? "TR";
    this.records = new PatientRecords(this.db, this.vault, this.clock);
    this.reassigner = new MergeReassigner({ db: this.db, clock: this.clock, peers: deps.peers, logger: deps.logger }, deps.reassigner);
    this.merge = new PatientMerge(this.db, this.clock, this.vault, () => this.reassigner.kick());
    this.search = new PatientSearch({ db: this.db, vault: this.vault, clock: this.clock, pageTokens: this.pageTokens, region: this.region });
    this.reencryption = new ReencryptionJob({ db: this.db, vault: this.vault, logger: deps.logger, intervalMs: deps.reencryptIntervalMs });
    this.reencryption.start();
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

  async searchPatients(req: SearchPatientsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SearchPatientsResponseSchema>> {
    return this.search.searchPatients(req, ctx);
  }

  /** mergePatients folds a duplicate record into its survivor, then starts moving its appointments and tickets: patient-merge.ts. */
  async mergePatients(req: MergePatientsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof MergePatientsResponseSchema>> {
    const row = await this.merge.mergePatients(ctx, validateMergePatients(req));
    return { patient: toPatient(row, this.vault.open(row.patient_id, row.data)) };
  }

  /** resolvePatient answers whether an id exists and which record survived (service role, no patient data): patient-resolve.ts. */
  async resolvePatient(req: ResolvePatientRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ResolvePatientResponseSchema>> {
    return resolvePatient(this.db, callerOf(ctx), validateResolvePatient(req), this.clock.now());
  }

  async getContactDetails(req: GetContactDetailsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetContactDetailsResponseSchema>> {
    return this.records.getContactDetails(validateGetContactDetails(req), ctx);
  }

  /** close stops the background work (the merge reassignment and re-encryption jobs). */
  async close(): Promise<void> {
    await Promise.all([this.reassigner.close(), this.reencryption.close()]);
  }
}
