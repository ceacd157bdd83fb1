import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { BackupState, BackupTarget, type BackupSchema } from "../../../gen/medschedule/backup/v1/backup_pb.js";
import type { BackupRow, BackupTargetName } from "../db/backup.table.js";

/** targetName maps a BackupTarget to its catalog name. */
export function targetName(target: BackupTarget): BackupTargetName {
  return target === BackupTarget.REDIS ? "REDIS" : "POSTGRES";
}

/** toBackup maps a catalog row to the Backup message. */
export function toBackup(row: BackupRow): MessageInitShape<typeof BackupSchema> {
  return {
    backupId: row.backup_id,
    target: BackupTarget[row.target],
    state: BackupState[row.state],
    startedAt: timestampFromDate(row.started_at),
    finishedAt: row.finished_at ? timestampFromDate(row.finished_at) : undefined,
    sizeBytes: row.size_bytes === null ? 0n : BigInt(row.size_bytes),
    sha256: row.sha256 ?? "",
    location: row.location ?? "",
    error: row.error ?? "",
    verifiedAt: row.verified_ok && row.verified_at ? timestampFromDate(row.verified_at) : undefined,
    verifyRestoreDuration: row.verify_restore_ms === null ? undefined : durationFromMs(Number(row.verify_restore_ms)),
    verifiedOk: row.verified_ok,
    deletedAt: row.deleted_at ? timestampFromDate(row.deleted_at) : undefined,
    recordedTables: (row.table_checks ?? []).map((t) => ({ name: t.name, rows: BigInt(t.rows), checksum: t.checksum })),
    lastVerificationAt: row.verified_at ? timestampFromDate(row.verified_at) : undefined,
    lastVerificationDetails: row.verify_details ?? [],
  };
}
