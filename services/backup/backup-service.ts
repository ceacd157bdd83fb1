import type { DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  BackupService,
  type GetBackupRequest,
  type GetBackupResponseSchema,
  type ListBackupsRequest,
  type ListBackupsResponseSchema,
  type PruneBackupsRequest,
  type PruneBackupsResponseSchema,
  type RestoreBackupRequest,
  type RestoreBackupResponseSchema,
  type StartBackupRequest,
  type StartBackupResponseSchema,
  type VerifyBackupRequest,
  type VerifyBackupResponseSchema,
} from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import { UnimplementedError } from "../runtime/errors.js";
import {
  validateGetBackup,
  validateListBackups,
  validatePruneBackups,
  validateRestoreBackup,
  validateStartBackup,
  validateVerifyBackup,
} from "./backup.validation.js";

/** BackupServiceDeps are the BackupServiceImpl's dependencies; db, store and logger come with the behaviour. */
export interface BackupServiceDeps {
  /** clock tells the time (startedAt, retention); the system clock by default. */
  clock?: Clock;
}

/** unimplemented is the error for an RPC whose behaviour a later issue fills in. */
function unimplemented(method: DescMethod): UnimplementedError {
  return new UnimplementedError(`${method.parent.typeName}/${method.name}`);
}

/**
 * BackupServiceImpl serves medschedule.backup.v1.BackupService. For now every RPC validates its
 * request completely (INVALID_ARGUMENT naming every bad field) and then reports UNIMPLEMENTED.
 */
export class BackupServiceImpl implements ServiceImpl<typeof BackupService> {
  /** clock tells the time. */
  protected readonly clock: Clock;

  constructor(deps: BackupServiceDeps = {}) {
    this.clock = deps.clock ?? systemClock;
  }

  /** startBackup starts a backup of a target (idempotent by requestId). */
  async startBackup(
    req: StartBackupRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof StartBackupResponseSchema>> {
    validateStartBackup(req);
    throw unimplemented(BackupService.method.startBackup);
  }

  /** getBackup reads one catalog entry. */
  async getBackup(req: GetBackupRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof GetBackupResponseSchema>> {
    validateGetBackup(req);
    throw unimplemented(BackupService.method.getBackup);
  }

  /** listBackups pages through the catalog, newest first. */
  async listBackups(
    req: ListBackupsRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof ListBackupsResponseSchema>> {
    validateListBackups(req);
    throw unimplemented(BackupService.method.listBackups);
  }

  /** verifyBackup re-hashes a backup and restores it into a scratch target. */
  async verifyBackup(
    req: VerifyBackupRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof VerifyBackupResponseSchema>> {
    validateVerifyBackup(req);
    throw unimplemented(BackupService.method.verifyBackup);
  }

  /** restoreBackup replaces the live data with a verified backup (admin only). */
  async restoreBackup(
    req: RestoreBackupRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof RestoreBackupResponseSchema>> {
    validateRestoreBackup(req);
    throw unimplemented(BackupService.method.restoreBackup);
  }

  /** pruneBackups applies retention, never deleting the last good backup of a target. */
  async pruneBackups(
    req: PruneBackupsRequest,
    _ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof PruneBackupsResponseSchema>> {
    validatePruneBackups(req);
    throw unimplemented(BackupService.method.pruneBackups);
  }
}
