// The reassignment of a merge: every appointment and ticket of a merged record is moved to its
// survivor by the services that own them (SchedulingService and QueueService ReassignPatient, with
// this service's token through the peers), never by reading across schemas, never resolved at read
// time.
//
// Why a job: MergePatients commits in the patient schema alone; scheduling and queue may be down or
// slow at that moment. The merges row written in the merge's transaction is the to-do list, so no
// merge is forgotten when a call fails or this process dies.
//
// How: a pass claims the due rows (next_attempt_at <= now, pushed ahead by a lease in the same
// statement, so two replicas never work on one row), calls both services outside any transaction
// (PGlite is one session: an open transaction would block the in-process callee), and records each
// service's success, or backs off exponentially (last_error: the code and reason only, never patient
// data). The survivor is resolved again at each attempt (following merged_into), so a survivor merged
// meanwhile into a third record receives the rows directly.
//
// Why it keeps the guarantee: ReassignPatient is idempotent by effect (a repeat moves nothing), so a
// retry after a lost answer is harmless. A booking that resolved the merged id just before the merge
// may commit just after the first move: a service is marked done only by a call made at least
// `settleDelayMs` (PATIENT_MERGE_SETTLE, ~1 minute) after the merge, which moves such late rows. New
// bookings with the merged id are refused meanwhile (ResolvePatient answers the survivor: PATIENT_MERGED).
import { Code, ConnectError } from "@connectrpc/connect";
import { sql, type Kysely, type Selectable } from "kysely";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Peers } from "../runtime/clients/peers.js";
import type { Clock } from "../runtime/clock.js";
import { errorReasonOf } from "../runtime/errors.js";
import type { Logger } from "../runtime/observability/logger.js";
import type { Database } from "./db/database.js";
import type { MergeTable } from "./db/patient.table.js";
import { survivorOf } from "./patient-resolve.js";

/** MergeReassignerOptions tune the job. */
export interface MergeReassignerOptions {
  /** intervalMs is how often due merges are looked for (default 1 s; 0: only when kicked). */
  intervalMs: number;
  /** settleDelayMs is how long after a merge a call must be made for a service to count as done (default 60 s). */
  settleDelayMs: number;
  /** firstRetryMs is the first backoff (default 1 s), doubled per failed attempt up to maxRetryMs (default 5 min). */
  firstRetryMs: number;
  /** maxRetryMs bounds the backoff. */
  maxRetryMs: number;
  /** callTimeoutMs bounds each ReassignPatient call (default 10 s). */
  callTimeoutMs: number;
}

/** DEFAULT_MERGE_REASSIGNER_OPTIONS are the job's defaults. */
export const DEFAULT_MERGE_REASSIGNER_OPTIONS: MergeReassignerOptions = { intervalMs: 1_000, settleDelayMs: 60_000, firstRetryMs: 1_000, maxRetryMs: 300_000, callTimeoutMs: 10_000 };

/** LEASE_MS is how long a claimed row is not claimed again (longer than both calls together). */
const LEASE_MS = 60_000;
/** BATCH is how many merges one pass claims at most. */
const BATCH = 20;

/** MergeRow is a merges row as read. */
type MergeRow = Selectable<MergeTable>;

/** MergeReassigner runs the reassignment of merges (see the file comment). */
export class MergeReassigner {
  private readonly options: MergeReassignerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(
    private readonly deps: { db: Kysely<Database>; clock: Clock; peers: Peers | undefined; logger?: Logger },
    options: Partial<MergeReassignerOptions> = {},
  ) {
    this.options = { ...DEFAULT_MERGE_REASSIGNER_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(() => void this.kick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** kick runs a pass now (or right after the one running); resolves when that pass has ended. */
  kick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.closed);
      } catch (err) {
        this.deps.logger?.warn({ err: errorReasonOf(err) ?? (err as Error).name }, "merge reassignment pass failed; retried on the next pass");
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** pending counts the merges whose reassignment is not done yet (metrics, tests). */
  async pending(): Promise<number> {
    const r = await this.deps.db
      .selectFrom("patient.merges")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where((eb) => eb.or([eb("scheduling_done_at", "is", null), eb("queue_done_at", "is", null)]))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** close stops the job (a pass under way finishes its calls). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** pass claims the due merges and attempts each. */
  private async pass(): Promise<void> {
    const now = this.deps.clock.now();
    const { rows } = await sql<MergeRow>`
      update patient.merges m set next_attempt_at = ${new Date(now.getTime() + LEASE_MS)}, attempts = m.attempts + 1
      where m.merged_patient_id in (
        select merged_patient_id from patient.merges
        where (scheduling_done_at is null or queue_done_at is null) and next_attempt_at <= ${now}
        order by next_attempt_at limit ${BATCH} for update skip locked)
      returning m.*`.execute(this.deps.db);
    for (const row of rows) {
      if (this.closed) return;
      await this.attempt(row);
    }
  }

  /** attempt calls the services not done yet for one merge and records what they answered. */
  private async attempt(row: MergeRow): Promise<void> {
    const survivor = (await survivorOf(this.deps.db, row.survivor_patient_id)) ?? row.survivor_patient_id;
    const startedAt = this.deps.clock.now();
    const settled = startedAt.getTime() - row.merged_at.getTime() >= this.options.settleDelayMs;
    const request = { requestId: `merge-${row.merged_patient_id}-${row.attempts}`, fromPatientId: row.merged_patient_id, toPatientId: survivor };
    const calls = { timeoutMs: this.options.callTimeoutMs };
    const failures: string[] = [];
    const call = async (done: Date | null, fn: () => Promise<unknown>): Promise<Date | null> => {
      if (done) return done;
      try {
        await fn();
        return settled ? startedAt : null;
      } catch (err) {
        failures.push(failureText(err));
        return null;
      }
    };
    if (!this.deps.peers) failures.push("UNAVAILABLE no peers configured");
    const peers = this.deps.peers;
    const schedulingDone = peers ? await call(row.scheduling_done_at, () => peers.client(SchedulingService).reassignPatient(request, calls)) : null;
    const queueDone = peers ? await call(row.queue_done_at, () => peers.client(QueueService).reassignPatient(request, calls)) : null;
    const retryMs = Math.min(this.options.firstRetryMs * 2 ** Math.min(row.attempts - 1, 20), this.options.maxRetryMs);
    // Both answered but too soon after the merge: once more when it has settled.
    const next = failures.length > 0 ? new Date(startedAt.getTime() + retryMs) : new Date(Math.max(row.merged_at.getTime() + this.options.settleDelayMs, startedAt.getTime()));
    await this.deps.db
      .updateTable("patient.merges")
      .set({ scheduling_done_at: schedulingDone, queue_done_at: queueDone, next_attempt_at: next, last_error: failures.length > 0 ? failures.join("; ") : null })
      .where("merged_patient_id", "=", row.merged_patient_id)
      .execute();
    if (failures.length > 0) this.deps.logger?.warn({ attempts: row.attempts, error: failures.join("; ") }, "merge reassignment failed; retried with backoff");
  }
}

/** failureText is a failed call as "CODE REASON" (never its message, which could carry what the callee read). */
function failureText(err: unknown): string {
  const e = ConnectError.from(err);
  return `${Code[e.code] ?? e.code}${errorReasonOf(err) ? ` ${errorReasonOf(err)}` : ""}`;
}
