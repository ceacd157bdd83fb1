import { BackupTarget, BackupTargetSchema } from "../../gen/medschedule/backup/v1/backup_pb.js";
import type {
  GetBackupRequest,
  ListBackupsRequest,
  PruneBackupsRequest,
  RestoreBackupRequest,
  StartBackupRequest,
  VerifyBackupRequest,
} from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { validate } from "../runtime/request/validation.js";

/** DEFAULT_LIST_BACKUPS_PAGE_SIZE is the ListBackups page size when the request leaves it 0. */
export const DEFAULT_LIST_BACKUPS_PAGE_SIZE = 50;
/** MAX_LIST_BACKUPS_PAGE_SIZE is the largest ListBackups page size. */
export const MAX_LIST_BACKUPS_PAGE_SIZE = 500;

/** ValidStartBackup is a well-formed StartBackupRequest. */
export interface ValidStartBackup {
  /** target is what to back up (never UNSPECIFIED). */
  target: BackupTarget;
  /** requestId is the idempotency key, scoped to the caller. */
  requestId: string;
}

/** validateStartBackup checks a StartBackupRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateStartBackup(req: StartBackupRequest): ValidStartBackup {
  return validate((v) => {
    v.enumValue("target", req.target, BackupTargetSchema);
    v.requestId("requestId", req.requestId);
    return { target: req.target, requestId: req.requestId };
  });
}

/** ValidBackupRef is a well-formed request naming one backup. */
export interface ValidBackupRef {
  /** backupId names the backup. */
  backupId: string;
}

/** validateGetBackup checks a GetBackupRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateGetBackup(req: GetBackupRequest): ValidBackupRef {
  return validate((v) => {
    v.id("backupId", req.backupId);
    return { backupId: req.backupId };
  });
}

/** ValidListBackups is a well-formed ListBackupsRequest. */
export interface ValidListBackups {
  /** target restricts the listing to one target; undefined lists all. */
  target: BackupTarget | undefined;
  /** pageSize is the page size with the default applied: 1 to 500. */
  pageSize: number;
  /** pageToken is the opaque continuation token, "" for the first page. */
  pageToken: string;
}

/** validateListBackups checks a ListBackupsRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateListBackups(req: ListBackupsRequest): ValidListBackups {
  return validate((v) => {
    v.enumValue("target", req.target, BackupTargetSchema, { optional: true });
    v.pageSize("pageSize", req.pageSize, MAX_LIST_BACKUPS_PAGE_SIZE);
    v.pageToken("pageToken", req.pageToken);
    return {
      target: req.target === BackupTarget.UNSPECIFIED ? undefined : req.target,
      pageSize: req.pageSize === 0 ? DEFAULT_LIST_BACKUPS_PAGE_SIZE : req.pageSize,
      pageToken: req.pageToken,
    };
  });
}

/** validateVerifyBackup checks a VerifyBackupRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateVerifyBackup(req: VerifyBackupRequest): ValidBackupRef {
  return validate((v) => {
    v.id("backupId", req.backupId);
    return { backupId: req.backupId };
  });
}

/**
 * validateRestoreBackup checks a RestoreBackupRequest (confirm must repeat backupId exactly) and returns
 * its parsed values, or throws InvalidArgumentError.
 */
export function validateRestoreBackup(req: RestoreBackupRequest): ValidBackupRef {
  return validate((v) => {
    v.id("backupId", req.backupId);
    if (req.confirm === "") {
      v.add("confirm", "is required: repeat the backupId to confirm the restore over the live data", "REQUIRED");
    } else if (req.confirm !== req.backupId) {
      v.add("confirm", "must equal backupId exactly: a guard against restoring the wrong backup", "CONFIRM_MISMATCH");
    }
    return { backupId: req.backupId };
  });
}

/** ValidPruneBackups is a well-formed PruneBackupsRequest. */
export interface ValidPruneBackups {
  /** target restricts pruning to one target; undefined prunes both. */
  target: BackupTarget | undefined;
  /** dryRun only reports what would be deleted. */
  dryRun: boolean;
}

/** validatePruneBackups checks a PruneBackupsRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validatePruneBackups(req: PruneBackupsRequest): ValidPruneBackups {
  return validate((v) => {
    v.enumValue("target", req.target, BackupTargetSchema, { optional: true });
    return { target: req.target === BackupTarget.UNSPECIFIED ? undefined : req.target, dryRun: req.dryRun };
  });
}
