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
import { PatientSearch } from "./patient-search.js";
import { ReencryptionJob } from "./patient-reencryption.js";
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
  private readonly search: PatientSearch;
  /** reencryption re-seals rows sealed with an older key (patient-reencryption.ts). */
  readonly reencryption: ReencryptionJob;

  constructor(private readonly deps: PatientServiceDeps) {
    this.db = deps.db as Kysely<Database>;
    this.clock = deps.clock ?? systemClock;
    this.vault = deps.vault;
    this.pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.region = deps.config?.patientDefaultRegion ?? "TR";
    this.search = new PatientSearch({ db: this.db, vault: this.vault, clock: this.clock, pageTokens: this.pageTokens, region: this.region });
    this.reencryption = new ReencryptionJob({ db: this.db, vault: this.vault, logger: deps.logger, intervalMs: deps.reencryptIntervalMs });
    this.reencryption.start();
  }

  async createPatient(_req: CreatePatientRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof CreatePatientResponseSchema>> {
    throw new UnimplementedError("CreatePatient");
  }

  async getPatient(_req: GetPatientRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetPatientResponseSchema>> {
    throw new UnimplementedError("GetPatient");
  }

  async updatePatient(_req: UpdatePatientRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof UpdatePatientResponseSchema>> {
    throw new UnimplementedError("UpdatePatient");
  }

  async searchPatients(req: SearchPatientsRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof SearchPatientsResponseSchema>> {
    return this.search.searchPatients(req, ctx);
  }

  async mergePatients(_req: MergePatientsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof MergePatientsResponseSchema>> {
    throw new UnimplementedError("MergePatients");
  }

  async resolvePatient(_req: ResolvePatientRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ResolvePatientResponseSchema>> {
    throw new UnimplementedError("ResolvePatient");
  }

  async getContactDetails(_req: GetContactDetailsRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetContactDetailsResponseSchema>> {
    throw new UnimplementedError("GetContactDetails");
  }

  /** close stops the background work (the merge reassignment and re-encryption jobs). */
  async close(): Promise<void> {
    await this.reencryption.close();
  }
}
