// Key rotation of patient records: after a new key is put first in PATIENT_ENCRYPTION_KEYS ("new,old"),
// every row still sealed with another key is opened and sealed again with the new one, in small
// batches (select ... for update skip locked, so that several replicas share the work and a write to
// a row waits for at most one batch), without bumping `version` (the record did not change, so no
// client's UpdatePatient turns stale). Reads keep working throughout: every key of the ring opens
// what it sealed. Once no row names the old key (key_id), it can be removed from the variable.
//
// The sealed first responses of patient.request_keys (kept 24 h) are re-sealed the same way, so that a
// retry still replays once the old key is gone.
//
// Not rotated here: PATIENT_INDEX_KEY (the blind indexes; a new index key means recomputing every
// digest from the decrypted records, which this job does not do) and the sealed access reasons of
// patient.audit_log (append-only: they stay readable only while their key stays in the ring).
import { sql } from "kysely";
import type { Db } from "./db/database.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { PatientVault } from "./patient-vault.js";

/** REENCRYPT_BATCH is how many rows one transaction re-seals. */
export const REENCRYPT_BATCH = 200;

/** reencryptBatch re-seals up to `batch` records and `batch` stored responses not sealed with the current key; returns how many it did. */
export async function reencryptBatch(db: Db, vault: PatientVault, batch = REENCRYPT_BATCH): Promise<number> {
  const current = vault.cipher.currentKeyId;
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom("patient.patients")
      .select(["patient_id", "data"])
      .where("key_id", "<>", current)
      .orderBy("patient_id")
      .limit(batch)
      .forUpdate()
      .skipLocked()
      .execute();
    for (const row of rows) {
      const sealed = vault.seal(row.patient_id, vault.open(row.patient_id, row.data));
      await trx.updateTable("patient.patients").set({ data: sealed.data, key_id: sealed.key_id }).where("patient_id", "=", row.patient_id).execute();
    }
    const keys = await trx
      .selectFrom("patient.request_keys")
      .select(["caller", "rpc", "request_id", "response"])
      .where("response", "is not", null)
      .where(sql<boolean>`position(${Buffer.from(`${current}:`)}::bytea in response) <> 1`)
      .limit(batch)
      .forUpdate()
      .skipLocked()
      .execute();
    for (const k of keys) {
      const key = { caller: k.caller, rpc: k.rpc, requestId: k.request_id };
      const response = Buffer.from(vault.sealResponse(key, vault.openResponse(key, k.response!)));
      await trx.updateTable("patient.request_keys").set({ response }).where("caller", "=", k.caller).where("rpc", "=", k.rpc).where("request_id", "=", k.request_id).execute();
    }
    return rows.length + keys.length;
  });
}

/** reencryptAll runs batches until none is left (or `signal` aborts); returns how many rows it re-sealed. */
export async function reencryptAll(db: Db, vault: PatientVault, opts: { batch?: number; signal?: AbortSignal } = {}): Promise<number> {
  let total = 0;
  for (;;) {
    if (opts.signal?.aborted) return total;
    const n = await reencryptBatch(db, vault, opts.batch);
    total += n;
    if (n === 0) return total;
  }
}

/** REENCRYPT_INTERVAL_MS is how often the service looks for rows sealed with an older key. */
export const REENCRYPT_INTERVAL_MS = 5 * 60_000;

/**
 * ReencryptionJob runs reencryptAll at start and every `intervalMs` in the background (the timer does
 * not keep the process alive); close() stops it and waits for a run in progress. It logs only counts
 * and key ids, never a record.
 */
export class ReencryptionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly deps: { db: Db; vault: PatientVault; logger?: Logger; intervalMs?: number },
  ) {}

  /** start runs the job now and then every interval; an interval of 0 never starts it. */
  start(): void {
    const interval = this.deps.intervalMs ?? REENCRYPT_INTERVAL_MS;
    if (interval <= 0 || this.timer) return;
    const first = setTimeout(() => void this.runOnce(), 0);
    first.unref();
    this.timer = setInterval(() => void this.runOnce(), interval);
    this.timer.unref();
  }

  /** runOnce re-seals every row not under the current key, unless a run is already going (then it waits for that one). */
  runOnce(): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    this.running ??= (async () => {
      try {
        const n = await reencryptAll(this.deps.db, this.deps.vault, { signal: this.abort.signal });
        if (n > 0) this.deps.logger?.info({ rows: n, keyId: this.deps.vault.cipher.currentKeyId }, "patient records re-encrypted");
      } catch (err) {
        if (!this.abort.signal.aborted) this.deps.logger?.warn({ error: err instanceof Error ? err.name : "unknown" }, "patient re-encryption failed; retried at the next interval");
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** close stops the timer and waits for a run in progress to finish its batch. */
  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
