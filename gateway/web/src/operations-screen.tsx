// Operations: active and stuck locks (force-release one, with a reason), and the backup catalog:
// start a backup of a target, verify one, restore one after typing its short id. Each backup row
// says which backup it is, so that at 3 a.m. the one restored is the one meant: its time to the
// second, a short id, state, size, the start of its sha256, and when it was last verified.
import { useState } from "react";
import { BackupState, BackupTarget, type Backup } from "../../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import type { LockInfo } from "../../../gen/medschedule/lock/v1/lock_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { api, newRequestId, toDate, type Session } from "./api.js";
import { useConfirm } from "./confirm-dialog.js";
import { messages } from "./message-catalog.js";
import { listAll, usePagedList, usePages } from "./paging.js";
import { can } from "./permissions.js";
import { fmtDateTime, fmtDateTimeSeconds, fmtTimeSeconds } from "./time-format.js";
import { ErrorBox, Loading, Notice, Pager, useAction, useAsync } from "./ui.js";

/** BACKUP_PAGE is how many backups a page shows (Previous / Next for the others). */
const BACKUP_PAGE = 25;
/** LOCK_PAGE is how many locks a page shows; all of them are read, for the count of active and stuck. */
const LOCK_PAGE = 50;
/** TARGETS are the backup targets, with their names for people. */
const TARGETS = [
  { target: BackupTarget.POSTGRES, label: "Postgres" },
  { target: BackupTarget.REDIS, label: "Redis" },
] as const;

function fmtBytes(n: bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  if (v < 1024 ** 2) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 ** 3) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  return `${(v / 1024 ** 3).toFixed(2)} GiB`;
}

function fmtSeconds(s: bigint | undefined): string {
  const v = Number(s ?? 0n);
  return v < 120 ? `${v} s` : v < 7200 ? `${Math.round(v / 60)} min` : `${(v / 3600).toFixed(1)} h`;
}

/** shortId is the part of a backup id that tells it apart: "b-pg-20261205T084012Z-1a2b3c4d" -> "1a2b3c4d" (its random suffix). */
export function shortId(backupId: string): string {
  const tail = /-([0-9a-f]{6,})$/i.exec(backupId)?.[1];
  return tail ?? (backupId.length <= 12 ? backupId : backupId.slice(-8));
}

function targetName(t: BackupTarget): string {
  return TARGETS.find((x) => x.target === t)?.label ?? "unknown";
}

/** facts sums a backup up for the restore question: size, checksum, last verification. */
function facts(b: Backup): string {
  const verified = b.verifiedAt ? `verified ${fmtDateTimeSeconds(toDate(b.verifiedAt))}` : b.lastVerificationAt ? "its last verification FAILED" : "never verified";
  return `${fmtBytes(b.sizeBytes)}, sha256 ${b.sha256.slice(0, 12)}…, ${verified}`;
}

/** OperationsScreen shows locks and backups to admins. */
export function OperationsScreen({ session }: { session: Session }) {
  const locks = useAsync(
    (signal) => listAll((pageToken) => api.lock.listLocks({ pageSize: 500, pageToken }, { signal }).then((r) => ({ items: r.locks, nextPageToken: r.nextPageToken })), 10),
    [],
    { pollMs: 10_000 },
  );
  // While a backup runs, the list follows it closely; otherwise every 30 s.
  const [running, setRunning] = useState(false);
  const backups = usePagedList(
    async (pageToken, signal) => {
      const r = await api.backup.listBackups({ pageSize: BACKUP_PAGE, pageToken }, { signal });
      if (!pageToken) setRunning(r.backups.some((b) => b.state === BackupState.RUNNING));
      return { items: r.backups, nextPageToken: r.nextPageToken };
    },
    [],
    { pollMs: running ? 2_000 : 30_000 },
  );
  const lockList = locks.data?.items ?? [];
  const stuck = lockList.filter((l) => l.stuck).length;
  const lockPages = usePages(lockList, LOCK_PAGE);
  const { ask, dialog } = useConfirm();
  const [notice, setNotice] = useState("");
  // An action's outcome replaces the last one's: the others' errors are cleared, its own state is useAction's.
  const clearOthers = (self: string) => {
    setNotice("");
    const all = { release, restore, start, verify };
    for (const [name, action] of Object.entries(all)) if (name !== self && action.error !== undefined) action.clear();
  };
  const release = useAction(async (resource: string, reason: string) => {
    clearOthers("release");
    const res = await api.lock.forceRelease({ resource, reason });
    setNotice(messages.notices.lockReleased({ resource, released: res.released }));
    locks.reload();
  });
  const start = useAction(async (target: BackupTarget) => {
    clearOthers("start");
    const res = await api.backup.startBackup({ target, requestId: newRequestId() });
    setNotice(messages.notices.backupStarted({ target: targetName(target), id: shortId(res.backup?.backupId ?? "") }));
    setRunning(true);
    backups.reload();
  });
  const [verifying, setVerifying] = useState("");
  const verify = useAction(async (b: Backup) => {
    clearOthers("verify");
    setVerifying(b.backupId);
    try {
      const res = await api.backup.verifyBackup({ backupId: b.backupId }, { timeoutMs: 600_000 });
      setNotice(messages.notices.backupVerified({ when: fmtDateTimeSeconds(toDate(b.startedAt)), id: shortId(b.backupId), ok: res.ok, details: res.details.join("; ") }));
      backups.reload();
    } finally {
      setVerifying("");
    }
  });
  const restore = useAction(async (b: Backup) => {
    clearOthers("restore");
    await api.backup.restoreBackup({ backupId: b.backupId, confirm: b.backupId }, { timeoutMs: 600_000 });
    setNotice(messages.notices.restored({ when: fmtDateTimeSeconds(toDate(b.startedAt)), id: shortId(b.backupId) }));
    backups.reload();
  });
  // The questions come before the actions run, so the asking button stays enabled for the focus to return to.
  const askRelease = async (l: LockInfo) => {
    const resource = l.lease?.resource ?? "";
    const yes = await ask({ ...messages.confirm.forceRelease({ resource, owner: l.lease?.owner ?? "" }), reason: "required" });
    if (yes) void release.run(resource, yes.reason);
  };
  const askRestore = async (b: Backup) => {
    const question = messages.confirm.restore({
      target: targetName(b.target).toLowerCase(),
      when: fmtDateTimeSeconds(toDate(b.startedAt)),
      id: b.backupId,
      shortId: shortId(b.backupId),
      facts: facts(b),
    });
    if (await ask(question)) void restore.run(b);
  };
  const mayRelease = can(session, LockService.method.forceRelease);
  const mayStart = can(session, BackupService.method.startBackup);
  const mayVerify = can(session, BackupService.method.verifyBackup);
  const mayRestore = can(session, BackupService.method.restoreBackup);
  const busy = restore.pending || verify.pending;
  return (
    <section className="operations">
      <h1>Operations</h1>
      {release.error !== undefined && <ErrorBox error={release.error} what="forceRelease" />}
      {restore.error !== undefined && <ErrorBox error={restore.error} what="restore" />}
      {start.error !== undefined && <ErrorBox error={start.error} what="startBackup" />}
      {verify.error !== undefined && <ErrorBox error={verify.error} what="verifyBackup" />}
      {notice && (
        <Notice>
          <span data-testid="operations-notice">{notice}</span>
        </Notice>
      )}
      <section aria-labelledby="locks-h" className="panel">
        <div className="row spread">
          <h2 id="locks-h">
            Locks{" "}
            {locks.data && (
              <span className={`badge ${stuck ? "bad" : "ok"}`} data-testid="lock-summary">
                {lockList.length}
                {locks.data.complete ? "" : "+"} active · {stuck} stuck
              </span>
            )}
          </h2>
          <button type="button" onClick={locks.reload}>
            Refresh
          </button>
        </div>
        {locks.loading && !locks.data && <Loading />}
        {locks.error !== undefined && <ErrorBox error={locks.error} what="loadLocks" onRetry={locks.reload} />}
        {locks.data && lockList.length === 0 && <p className="muted">No lock is held.</p>}
        {locks.data && !locks.data.complete && <p className="muted small">Only the first {lockList.length} locks are listed.</p>}
        {lockList.length > 0 && (
          <div className="table-wrap">
            <table className="stack">
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Token</th>
                  <th scope="col">Held for</th>
                  <th scope="col">Expires</th>
                  {mayRelease && (
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {lockPages.items.map((l) => (
                  <tr key={l.lease?.leaseId} className={l.stuck ? "stuck" : ""}>
                    <td data-label="Resource" className="mono">{l.lease?.resource}</td>
                    <td data-label="Owner" className="mono">{l.lease?.owner}</td>
                    <td data-label="Token" className="mono">{String(l.lease?.fencingToken ?? "")}</td>
                    <td data-label="Held for">
                      {fmtSeconds(l.heldFor?.seconds)} {l.stuck && <span className="badge bad">stuck</span>}
                    </td>
                    <td data-label="Expires">{fmtTimeSeconds(toDate(l.lease?.expiresAt))}</td>
                    {mayRelease && (
                      <td>
                        <button type="button" className="danger" disabled={release.pending} onClick={() => void askRelease(l)} aria-label={`Force release ${l.lease?.resource ?? ""}`}>
                          Force release
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager id="locks" label="locks" list={lockPages} />
      </section>
      <section aria-labelledby="backups-h" className="panel">
        <div className="row spread">
          <h2 id="backups-h">Backups</h2>
          <span className="row">
            {mayStart &&
              TARGETS.map(({ target, label }) => (
                <button key={target} type="button" id={`start-${label.toLowerCase()}`} disabled={start.pending} onClick={() => void start.run(target)}>
                  Start {label} backup
                </button>
              ))}
            <button type="button" onClick={backups.reload}>
              Refresh
            </button>
          </span>
        </div>
        {backups.loading && !backups.items && <Loading />}
        {backups.error !== undefined && <ErrorBox error={backups.error} what="loadBackups" onRetry={backups.reload} />}
        {backups.items && backups.items.length === 0 && <p className="muted">No backups yet.</p>}
        {backups.items && backups.items.length > 0 && (
          <div className="table-wrap">
            <table className="backups stack">
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Id</th>
                  <th scope="col">Target</th>
                  <th scope="col">State</th>
                  <th scope="col">Size</th>
                  <th scope="col">SHA-256</th>
                  <th scope="col">Last verified</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {backups.items.map((b) => (
                  <tr key={b.backupId} data-backup={b.backupId}>
                    <td data-label="Started" data-testid="backup-started">{fmtDateTimeSeconds(toDate(b.startedAt))}</td>
                    <td className="mono nowrap" data-label="Id" title={b.backupId} data-testid="backup-id">
                      {shortId(b.backupId)}
                    </td>
                    <td data-label="Target">{targetName(b.target)}</td>
                    <td data-label="State">
                      <span
                        className={`badge ${b.state === BackupState.SUCCEEDED ? "ok" : b.state === BackupState.FAILED ? "bad" : ""}`}
                        data-testid="backup-state"
                      >
                        {BackupState[b.state]?.toLowerCase()}
                      </span>
                      {b.error && <span className="small muted"> {b.error}</span>}
                    </td>
                    <td data-label="Size">{b.state === BackupState.SUCCEEDED ? fmtBytes(b.sizeBytes) : "–"}</td>
                    <td className="mono nowrap" data-label="SHA-256" title={b.sha256 || undefined} data-testid="backup-sha">
                      {b.sha256 ? b.sha256.slice(0, 12) : "–"}
                    </td>
                    <td data-label="Last verified" data-testid="backup-verified">
                      {b.verifiedAt
                        ? `${fmtDateTimeSeconds(toDate(b.verifiedAt))} · restores`
                        : b.lastVerificationAt
                          ? `${fmtDateTime(toDate(b.lastVerificationAt))} · FAILED`
                          : "never"}
                    </td>
                    <td>
                      {b.state === BackupState.SUCCEEDED && !b.deletedAt && (
                        <span className="row nowrap">
                          {mayVerify && (
                            <button type="button" disabled={busy} onClick={() => void verify.run(b)} aria-label={`Verify backup ${shortId(b.backupId)}`}>
                              {verifying === b.backupId ? "Verifying…" : "Verify"}
                            </button>
                          )}
                          {mayRestore && (
                            <button type="button" className="danger" disabled={busy} onClick={() => void askRestore(b)} aria-label={`Restore backup ${shortId(b.backupId)}`}>
                              Restore…
                            </button>
                          )}
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager id="backups" label="backups" list={backups} />
      </section>
      {dialog}
    </section>
  );
}
