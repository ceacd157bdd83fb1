// ReasonSealer seals, when the scheduling service starts, the free text left in plaintext by a version
// before sealing existed, and re-encrypts what an older key of SCHEDULING_ENCRYPTION_KEYS sealed under
// the current one (a rotation: put the new key first, keep the old ones until this has run). It works
// in small batches in id order, each its own short transaction that skips rows a booking holds, and
// changes nothing anybody can see (the location change log ignores it: `scheduling.sealing`).
// A value no key opens is left as it is and counted (REASON_UNREADABLE when read).
import { sql, type Kysely } from "kysely";
import type { Logger } from "../runtime/observability/logger.js";
import type { Database } from "./db/database.js";
import type { ReasonVault } from "./reason-vault.js";

/** SealingCount is what one run did: values sealed or re-encrypted, and values no key opens. */
export interface SealingCount {
  sealed: number;
  unreadable: number;
}

interface AppointmentText {
  appointment_id: string;
  reason: string;
  reason_key_id: string | null;
  cancel_reason: string;
  cancel_reason_key_id: string | null;
}

interface StoredResponse {
  caller: string;
  rpc: string;
  request_id: string;
  response: Buffer;
}

/** ReasonSealer runs the sealing job once per service start (see the file comment). */
export class ReasonSealer {
  private stopped = false;
  private readonly done: Promise<SealingCount | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly reasons: ReasonVault,
    private readonly logger: Logger | undefined,
    private readonly batch = 200,
  ) {
    this.done = this.run().catch((err: unknown) => {
      if (!this.stopped) this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, "sealing appointment reasons stopped; it runs again at the next start");
      return undefined;
    });
  }

  /** finished resolves when the run has ended (undefined when it failed or was stopped). */
  finished(): Promise<SealingCount | undefined> {
    return this.done;
  }

  /** close stops the run after its current batch and waits for it. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async run(): Promise<SealingCount | undefined> {
    const count: SealingCount = { sealed: 0, unreadable: 0 };
    for (let after: string | undefined = ""; after !== undefined && !this.stopped; ) after = await this.appointmentBatch(after, count);
    for (let after: [string, string, string] | undefined = ["", "", ""]; after !== undefined && !this.stopped; ) after = await this.responseBatch(after, count);
    if (this.stopped) return undefined;
    if (count.sealed > 0) this.logger?.info({ sealed: count.sealed }, "sealed appointment reasons under the current SCHEDULING_ENCRYPTION_KEYS key");
    if (count.unreadable > 0) {
      this.logger?.error({ unreadable: count.unreadable }, "stored appointment reasons were sealed with a key SCHEDULING_ENCRYPTION_KEYS does not hold; reads of them answer REASON_UNREADABLE until the key is added back");
    }
    return count;
  }

  /** appointmentBatch seals the reasons of up to `batch` appointments after id `after`; the last id seen, or undefined when none was left. */
  private async appointmentBatch(after: string, count: SealingCount): Promise<string | undefined> {
    const current = this.reasons.cipher.currentKeyId;
    return this.db.transaction().execute(async (trx) => {
      await sql`select set_config('scheduling.sealing', 'on', true)`.execute(trx);
      const { rows } = await sql<AppointmentText>`
        select appointment_id, reason, reason_key_id, cancel_reason, cancel_reason_key_id from scheduling.appointments
         where appointment_id > ${after}
           and ((reason <> '' and reason_key_id is distinct from ${current}) or (cancel_reason <> '' and cancel_reason_key_id is distinct from ${current}))
         order by appointment_id limit ${this.batch} for update skip locked`.execute(trx);
      for (const row of rows) {
        let texts: [string, string];
        try {
          texts = [this.reasons.reasonOf(row), this.reasons.cancelReasonOf(row)];
        } catch {
          count.unreadable++;
          continue;
        }
        const reason = this.reasons.seal(row.appointment_id, "reason", texts[0]);
        const cancel = this.reasons.seal(row.appointment_id, "cancel_reason", texts[1]);
        await sql`update scheduling.appointments set reason = ${reason.value}, reason_key_id = ${reason.keyId}::text,
            cancel_reason = ${cancel.value}, cancel_reason_key_id = ${cancel.keyId}::text
          where appointment_id = ${row.appointment_id}`.execute(trx);
        count.sealed++;
      }
      return rows.at(-1)?.appointment_id;
    });
  }

  /** responseBatch seals up to `batch` stored requestId responses after the key `after`; the last key seen, or undefined when none was left. */
  private async responseBatch(after: [string, string, string], count: SealingCount): Promise<[string, string, string] | undefined> {
    const prefix = Buffer.from(`${this.reasons.cipher.currentKeyId}:`, "utf8");
    return this.db.transaction().execute(async (trx) => {
      const { rows } = await sql<StoredResponse>`
        select caller, rpc, request_id, response from scheduling.request_keys
         where (caller, rpc, request_id) > (${after[0]}, ${after[1]}, ${after[2]})
           and length(response) > 0 and (get_byte(response, 0) <> 0 or substring(response from 2 for ${prefix.length}) <> ${prefix}::bytea)
         order by caller, rpc, request_id limit ${this.batch} for update skip locked`.execute(trx);
      for (const row of rows) {
        const key = { caller: row.caller, rpc: row.rpc, requestId: row.request_id };
        let plain: Uint8Array;
        try {
          plain = this.reasons.openResponse(key, row.response);
        } catch {
          count.unreadable++;
          continue;
        }
        await sql`update scheduling.request_keys set response = ${this.reasons.sealResponse(key, plain)}::bytea
          where caller = ${row.caller} and rpc = ${row.rpc} and request_id = ${row.request_id}`.execute(trx);
        count.sealed++;
      }
      const last = rows.at(-1);
      return last && [last.caller, last.rpc, last.request_id];
    });
  }
}
