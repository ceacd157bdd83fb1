// Operations: active and stuck locks (force-release one, with a reason), and backups with their
// state and last verification (restore one, after typing the confirmation word).
import { useState } from "react";
import { BackupState, BackupTarget, type Backup } from "../../../gen/medschedule/backup/v1/backup_pb.js";
import type { LockInfo } from "../../../gen/medschedule/lock/v1/lock_pb.js";
import { api, fmtDateTime, toDate } from "./api.js";
import { useConfirm } from "./confirm-dialog.js";
import { messages } from "./message-catalog.js";
import { ErrorBox, Loading, Notice, useAction, useAsync } from "./ui.js";

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

/** OperationsScreen shows locks and backups to admins. */
export function OperationsScreen() {
  const locks = useAsync((signal) => api.lock.listLocks({ pageSize: 200 }, { signal }), [], { pollMs: 10_000 });
  const backups = useAsync((signal) => api.backup.listBackups({ pageSize: 50 }, { signal }), [], { pollMs: 30_000 });
  const stuck = locks.data?.locks.filter((l) => l.stuck).length ?? 0;
  const { ask, dialog } = useConfirm();
  const [notice, setNotice] = useState("");
  const release = useAction(async (resource: string, reason: string) => {
    setNotice("");
    restore.clear();
    const res = await api.lock.forceRelease({ resource, reason });
    setNotice(messages.notices.lockReleased({ resource, released: res.released }));
    locks.reload();
  });
  const restore = useAction(async (b: Backup) => {
    setNotice("");
    release.clear();
    await api.backup.restoreBackup({ backupId: b.backupId, confirm: b.backupId }, { timeoutMs: 600_000 });
    setNotice(messages.notices.restored({ when: fmtDateTime(toDate(b.startedAt)) }));
    backups.reload();
  });
  // The questions come before the actions run, so the asking button stays enabled for the focus to return to.
  const askRelease = async (l: LockInfo) => {
    const resource = l.lease?.resource ?? "";
    const yes = await ask({ ...messages.confirm.forceRelease({ resource, owner: l.lease?.owner ?? "" }), reason: "required" });
    if (yes) void release.run(resource, yes.reason);
  };
  const askRestore = async (b: Backup) => {
    const question = messages.confirm.restore({ target: BackupTarget[b.target]?.toLowerCase() ?? "", when: fmtDateTime(toDate(b.startedAt)) });
    if (await ask(question)) void restore.run(b);
  };
  return (
    <section className="operations">
      <h1>Operations</h1>
      {release.error !== undefined && <ErrorBox error={release.error} what="forceRelease" />}
      {restore.error !== undefined && <ErrorBox error={restore.error} what="restore" />}
      {notice && <Notice>{notice}</Notice>}
      <section aria-labelledby="locks-h" className="panel">
        <div className="row spread">
          <h2 id="locks-h">
            Locks{" "}
            {locks.data && (
              <span className={`badge ${stuck ? "bad" : "ok"}`} data-testid="lock-summary">
                {locks.data.locks.length} active · {stuck} stuck
              </span>
            )}
          </h2>
          <button type="button" onClick={locks.reload}>
            Refresh
          </button>
        </div>
        {locks.loading && !locks.data && <Loading />}
        {locks.error !== undefined && <ErrorBox error={locks.error} what="loadLocks" onRetry={locks.reload} />}
        {locks.data && locks.data.locks.length === 0 && <p className="muted">No lock is held.</p>}
        {locks.data && locks.data.locks.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Token</th>
                  <th scope="col">Held for</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {locks.data.locks.map((l) => (
                  <tr key={l.lease?.leaseId} className={l.stuck ? "stuck" : ""}>
                    <td className="mono">{l.lease?.resource}</td>
                    <td className="mono">{l.lease?.owner}</td>
                    <td className="mono">{String(l.lease?.fencingToken ?? "")}</td>
                    <td>
                      {fmtSeconds(l.heldFor?.seconds)} {l.stuck && <span className="badge bad">stuck</span>}
                    </td>
                    <td>{fmtDateTime(toDate(l.lease?.expiresAt))}</td>
                    <td>
                      <button type="button" className="danger" disabled={release.pending} onClick={() => void askRelease(l)} aria-label={`Force release ${l.lease?.resource ?? ""}`}>
                        Force release
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="backups-h" className="panel">
        <div className="row spread">
          <h2 id="backups-h">Backups</h2>
          <button type="button" onClick={backups.reload}>
            Refresh
          </button>
        </div>
        {backups.loading && !backups.data && <Loading />}
        {backups.error !== undefined && <ErrorBox error={backups.error} what="loadBackups" onRetry={backups.reload} />}
        {backups.data && backups.data.backups.length === 0 && <p className="muted">No backups yet.</p>}
        {backups.data && backups.data.backups.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">State</th>
                  <th scope="col">Started</th>
                  <th scope="col">Size</th>
                  <th scope="col">Last verified</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {backups.data.backups.map((b) => (
                  <tr key={b.backupId}>
                    <td>{BackupTarget[b.target]?.toLowerCase()}</td>
                    <td>
                      <span className={`badge ${b.state === BackupState.SUCCEEDED ? "ok" : b.state === BackupState.FAILED ? "bad" : ""}`}>
                        {BackupState[b.state]?.toLowerCase()}
                      </span>
                      {b.error && <span className="small muted"> {b.error}</span>}
                    </td>
                    <td>{fmtDateTime(toDate(b.startedAt))}</td>
                    <td>{fmtBytes(b.sizeBytes)}</td>
                    <td>{b.verifiedAt ? `${fmtDateTime(toDate(b.verifiedAt))} · ${b.verifiedOk ? "restores" : "FAILED"}` : "never"}</td>
                    <td>
                      {b.state === BackupState.SUCCEEDED && (
                        <button type="button" className="danger" disabled={restore.pending} onClick={() => void askRestore(b)}>
                          Restore…
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {dialog}
    </section>
  );
}
