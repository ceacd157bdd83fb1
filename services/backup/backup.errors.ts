// The backup service's domain errors; the runtime's error mapper turns them into status codes.
import { ConnectError } from "@connectrpc/connect";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError, UnavailableError } from "../runtime/errors.js";
import type { BackupStateName, BackupTargetName } from "./db/backup.table.js";

/** BackupNotFoundError is a backupId with no catalog entry: NOT_FOUND. */
export class BackupNotFoundError extends NotFoundError {
  constructor(backupId: string) {
    super("backup", backupId, "BACKUP_NOT_FOUND");
  }
}

/** RequestIdReusedError is a StartBackup requestId the caller already used for the other target: ALREADY_EXISTS. */
export class RequestIdReusedError extends AlreadyExistsError {
  constructor(requestId: string, target: BackupTargetName) {
    super("REQUEST_ID_REUSED", `this requestId was already used for a backup of ${target}`, { metadata: { requestId } });
  }
}

/** TargetNotConfiguredError is a target this service has nothing to back up or restore into: FAILED_PRECONDITION. */
export class TargetNotConfiguredError extends FailedPreconditionError {
  constructor(message: string) {
    super("TARGET_NOT_CONFIGURED", message);
  }
}

/** BackupRunningError is a second concurrent backup of one target: FAILED_PRECONDITION (the database's one-running index says so). */
export class BackupRunningError extends FailedPreconditionError {
  constructor(target: BackupTargetName, runningId: string | undefined) {
    super("BACKUP_RUNNING", `a backup of ${target} is already running${runningId ? ` (${runningId})` : ""}: wait for it to end`);
  }
}

/** BackupNotSucceededError is verifying or restoring a backup that is not SUCCEEDED: FAILED_PRECONDITION. */
export class BackupNotSucceededError extends FailedPreconditionError {
  constructor(backupId: string, state: BackupStateName) {
    super("BACKUP_NOT_SUCCEEDED", `backup ${backupId} is ${state}, not SUCCEEDED: there is nothing to verify or restore`);
  }
}

/** BackupDeletedError is verifying or restoring a backup whose file retention deleted: FAILED_PRECONDITION. */
export class BackupDeletedError extends FailedPreconditionError {
  constructor(backupId: string) {
    super("BACKUP_DELETED", `backup ${backupId}'s file was deleted by retention`);
  }
}

/** BackupCorruptError is a restore refused because the file failed verification or changed: FAILED_PRECONDITION, nothing restored. */
export class BackupCorruptError extends FailedPreconditionError {
  constructor(message: string) {
    super("BACKUP_CORRUPT", message);
  }
}

/** RestoreRunningError is a restore while another runs in this backup service: FAILED_PRECONDITION. */
export class RestoreRunningError extends FailedPreconditionError {
  constructor() {
    super("RESTORE_RUNNING", "another restore is running in this backup service");
  }
}

/** BackupServiceClosingError is a StartBackup while the service shuts down: UNAVAILABLE (another replica may take it). */
export class BackupServiceClosingError extends UnavailableError {
  constructor() {
    super("SHUTTING_DOWN", "the backup service is shutting down");
  }
}

/** AdvanceEpochFailedError is a restore done whose AdvanceEpoch call failed: UNAVAILABLE, and no lock may be taken until it succeeds. */
export class AdvanceEpochFailedError extends UnavailableError {
  constructor(backupId: string, cause: unknown) {
    super(
      "ADVANCE_EPOCH_FAILED",
      `backup ${backupId} was restored, but the lock service's AdvanceEpoch failed (${messageOf(cause)}): ` +
        "no lock may be taken until it succeeds; call LockService/AdvanceEpoch with the service token",
      { cause },
    );
  }
}

/** messageOf is the text an error leaves in the catalog, the audit log and verification details (a full disk says so). */
export function messageOf(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC") return `the backup store is full (ENOSPC: no space left on device): ${err.message}`;
    return err.message;
  }
  return String(err);
}
