import { setTimeout as sleep } from "node:timers/promises";
import type { Kysely } from "kysely";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import type { Clock } from "../runtime/clock.js";
import { outgoingCallOptions, type CallContextLike } from "../runtime/clients/grpc-transport.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { Peers } from "../runtime/clients/peers.js";
import { AdvanceEpochFailedError, BackupCorruptError, messageOf, RestoreRunningError } from "./backup.errors.js";
import type { BackupParts } from "./backup-parts.js";
import { checkRestorable, type BackupVerifier } from "./backup-verifier.js";
import type { Caller } from "../runtime/caller.js";
import type { BackupRow } from "./db/backup.table.js";
import type { Database } from "./db/database.js";
import type { BackupEngines } from "./engines/backup-engine.port.js";
import { HashingCounter } from "./hashing-counter.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import type { BackupStore } from "./store/backup-store.port.js";

const ADVANCE_EPOCH_ATTEMPTS = 3;
/** The restored data is live: AdvanceEpoch gets this long even when the caller has gone away. */
const ADVANCE_EPOCH_DEADLINE_MS = 60_000;

/** BackupRestorerOptions configure a BackupRestorer. */
export interface BackupRestorerOptions extends BackupParts {
  /** verifier checks a backup before it is restored. */
  verifier: BackupVerifier;
}

/** RestoreCall is the incoming call a restore runs for: its cancellation and its headers (request id, trace). */
export type RestoreCall = Pick<CallContextLike, "signal" | "requestHeader">;

/** Restored is what a restore did. */
export interface Restored {
  /** row is the catalog entry, with the verification that preceded the restore. */
  row: BackupRow;
  /** restoreMs is how long replacing the live data took. */
  restoreMs: number;
  /** epoch is the fencing epoch the lock service moved to afterwards. */
  epoch: bigint;
}

/**
 * BackupRestorer replaces the live data with a backup, one restore at a time in this service: only a
 * backup that verifies, only the very bytes verified (hashed again on the way in, checked before
 * anything commits), then the lock service's AdvanceEpoch so no fencing token issued before the
 * restore is accepted again (DESIGN.md invariants 2 and 6). Every outcome is audited.
 */
export class BackupRestorer {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #store: BackupStore;
  readonly #engines: BackupEngines;
  readonly #verifier: BackupVerifier;
  #restoring = false;

  constructor(opts: BackupRestorerOptions) {
    this.#db = opts.db;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#store = opts.store;
    this.#engines = opts.engines;
    this.#verifier = opts.verifier;
  }

  /** restore replaces the live data with a verified backup; `peers` reach the LockService for AdvanceEpoch. */
  async restore(row: BackupRow, caller: Caller, call: RestoreCall, peers: Peers | undefined): Promise<Restored> {
    checkRestorable(row);
    if (this.#restoring) throw new RestoreRunningError();
    this.#restoring = true;
    try {
      return await this.#restore(row, caller, call, peers);
    } finally {
      this.#restoring = false;
    }
  }

  async #restore(row: BackupRow, caller: Caller, call: RestoreCall, peers: Peers | undefined): Promise<Restored> {
    const audit = (action: string, detail: unknown) =>
      AUDIT_LOG.append(this.#db, { at: this.#clock.now(), actor: caller.subject, role: caller.role, action, resource: row.backup_id, detail });
    const verified = await this.#verifier.verify(row, call.signal);
    if (!verified.ok) {
      await audit("RestoreBackupRefused", { target: row.target, details: verified.details });
      throw new BackupCorruptError(
        `backup ${row.backup_id} failed verification, nothing was restored: ${verified.details.filter((d) => !/matches|^invariant 1: no /.test(d)).join("; ")}`,
      );
    }
    const started = performance.now();
    // The bytes restored are hashed on the way in and checked before anything commits: a file
    // swapped or damaged after the verification above is never restored.
    const counter = new HashingCounter();
    const source = (await this.#store.read(row.location!)).pipe(counter);
    const sameFile = () => {
      const sha = counter.digest();
      if (sha !== row.sha256) {
        throw new BackupCorruptError(`backup ${row.backup_id} changed during the restore (sha256 ${sha}, recorded ${row.sha256}): nothing was restored`);
      }
    };
    try {
      if (row.target === "POSTGRES") {
        const schemas = [...new Set((row.table_checks ?? []).map((t) => t.name.split(".")[0]))];
        await this.#engines.POSTGRES!.restore(source, schemas, call.signal, sameFile);
      } else {
        await this.#engines.REDIS!.restore(source, call.signal, sameFile);
      }
    } catch (err) {
      await audit("RestoreBackupFailed", { target: row.target, error: messageOf(err) });
      throw err;
    }
    const restoreMs = performance.now() - started;
    let epoch: { previousEpoch: bigint; epoch: bigint };
    try {
      // The data is replaced: the epoch must move even when the caller has gone away meanwhile, so
      // this call gets its own deadline rather than the incoming call's signal.
      const own: CallContextLike = { signal: AbortSignal.timeout(ADVANCE_EPOCH_DEADLINE_MS), timeoutMs: () => undefined, requestHeader: call.requestHeader };
      epoch = await advanceEpoch(peers, row.backup_id, caller, own);
    } catch (err) {
      await audit("RestoreBackup", { target: row.target, restoreMs: Math.round(restoreMs), advanceEpochError: messageOf(err) });
      throw new AdvanceEpochFailedError(row.backup_id, err);
    }
    await audit("RestoreBackup", {
      target: row.target,
      restoreMs: Math.round(restoreMs),
      previousEpoch: epoch.previousEpoch.toString(),
      epoch: epoch.epoch.toString(),
      onBehalfOf: caller.onBehalfOf ?? null,
    });
    this.#logger?.warn({ backupId: row.backup_id, target: row.target, actor: caller.subject, epoch: epoch.epoch.toString() }, "backup restored over the live data");
    return { row: verified.row, restoreMs, epoch: epoch.epoch };
  }
}

/** advanceEpoch calls LockService/AdvanceEpoch after the restore of `backupId`, trying up to three times. */
async function advanceEpoch(peers: Peers | undefined, backupId: string, caller: Caller, ctx: CallContextLike): Promise<{ previousEpoch: bigint; epoch: bigint }> {
  if (!peers) throw new Error("no LockService client configured");
  let last: unknown;
  for (let attempt = 1; attempt <= ADVANCE_EPOCH_ATTEMPTS; attempt++) {
    try {
      return await peers.client(LockService).advanceEpoch({ reason: `restore of backup ${backupId}` }, outgoingCallOptions(ctx, { onBehalfOf: caller.subject }));
    } catch (err) {
      last = err;
      if (ctx.signal.aborted) break;
      await sleep(200 * attempt);
    }
  }
  throw last;
}
