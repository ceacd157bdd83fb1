// The fencing epoch: the high part of every fencing token, kept in Postgres and recorded on the Redis
// server in use. LockManager issues leases; this file is why their tokens never go backwards.
import type { Kysely } from "kysely";
import type { Logger } from "../runtime/observability/logger.js";
import type { Database } from "./db/database.js";
import { TOKEN_COUNTER_SPAN, type BackendKind, type EpochBoundBackend } from "./lock-backend.port.js";
import { bumpEpoch, epochClockSeconds, readEpoch, type EpochBump } from "./repositories/fencing-epoch.repository.js";

/*
 * Why fencing tokens never go backwards (DESIGN.md invariant 2)
 * ---------------------------------------------------------------
 * A token is epoch * 2^32 + counter, counter in [1, 2^32). The epoch lives in Postgres
 * (lock.fencing_epoch); bumpEpoch() is one atomic row update, so every bump returns a value no other
 * bump returned, larger than every epoch before it. Hence a token under a larger epoch is larger
 * than every token under a smaller one, and it is enough that the tokens issued under ONE epoch come
 * from ONE continuous counter per resource:
 *
 * - Postgres backend: the acquire statement reads the epoch from lock.fencing_epoch and bumps the
 *   resource row's counter (restarting at 1 when the epoch grew) in the same statement, under the
 *   row lock. Postgres does not lose committed increments; a restore rewinds both epoch and counters,
 *   which is what AdvanceEpoch (called after a restore) repairs: it moves the epoch past the largest
 *   epoch this process saw, the one recorded in Redis, and a day past the clock floor (every bump
 *   takes max(epoch + 1, seconds since 2024), so epochs only run ahead of the clock when bumps come
 *   faster than one a second, and a day of margin absorbs that). In Postgres-only mode this floor is
 *   the guarantee, so it needs the restored backup to be at least a second older than the call.
 * - Redis backend: Redis may lose recent increments (restart without or with a lagging AOF, failover
 *   to a replica that missed writes). Tokens under epoch E are issued on Redis only while
 *   `mslock:meta` = "E:<run_id>" and <run_id> is the run_id of the server issuing them (the
 *   script that writes the record reads it with INFO). That record is written only by recordEpoch() right after
 *   this service obtained E from a fresh bump (or adopted an E recorded on that same server), so all
 *   tokens under E come from one server process. The acquire script itself checks only the epoch
 *   part of the record (running INFO in every acquire made the script ten times as expensive); the
 *   server's identity is checked with INFO when an epoch is verified, and that verification holds
 *   for one connection: every (re)connection increments a generation and drops the verified epoch,
 *   and an acquire whose connection changed between the verification and the reply is discarded.
 *   A different server process always means a different connection. A process that is alive has lost no increment
 *   (noeviction; counters never expire). Any new process - a restart empty or from AOF, a promoted
 *   replica - has a new run_id, so the check fails and the service bumps the epoch before it issues
 *   again; a flushed server has no record and fails the same way. The service also re-checks the
 *   record on every (re)connection (INFO server vs the record) and bumps at once on a mismatch.
 * - Switching backends bumps the epoch before the other backend issues a token (switch to Postgres:
 *   the bump completes before any Postgres acquire; switch back: a fresh epoch is recorded in Redis).
 *   Each bump is tagged with the backend it is for (lock.fencing_epoch.issued_by), and the Postgres
 *   acquire statement issues nothing under an epoch bumped for Redis: otherwise a Postgres acquire
 *   landing between the switch-to-Redis bump and the switch itself would take epoch * 2^32 + 1, and
 *   Redis, starting that epoch's counter at 1, the same token again. While the switch to Redis is
 *   under way, Postgres acquires wait for it and then take the Redis path.
 *
 * Limits, stated plainly: the proof holds per lock-service process. If several lock-service
 * replicas disagree about Redis's health (a partial partition), one may issue from Postgres while
 * another issues from Redis; both keep their own order and checkFence() still rejects any write
 * older than the newest one seen, but two leases on one resource may then coexist for up to a TTL.
 * An operator deleting counters by hand (DEL mslock:fence:*) without the meta breaks the proof too.
 */

/** ADVANCE_MARGIN_S is how far past the clock floor AdvanceEpoch moves the epoch: a day of seconds. */
const ADVANCE_MARGIN_S = 86_400;

/** FencingEpochOptions configure a FencingEpoch. */
export interface FencingEpochOptions {
  /** db holds lock.fencing_epoch and the audit log. */
  db: Kysely<Database>;
  /** redis is the Redis backend whose epoch record is kept, when there is one. */
  redis?: EpochBoundBackend;
  /** logger logs bumps. */
  logger: Logger;
}

/**
 * FencingEpoch keeps the epoch this process issues tokens under: it bumps the epoch in Postgres,
 * remembers the largest epoch this process saw, and, with a Redis backend, verifies, repairs and
 * records the epoch on the Redis server in use (once per connection: see the header of this file).
 */
export class FencingEpoch {
  readonly #db: Kysely<Database>;
  readonly #redis: EpochBoundBackend | undefined;
  readonly #logger: Logger;
  #maxSeen = 0;
  /** The epoch recorded on the Redis server in use, once verified; undefined means "verify first". */
  #redisEpoch: number | undefined;
  /** Counts Redis (re)connections: #redisEpoch is only ever set from a check made on the current one. */
  #redisGeneration = 0;
  #repairing: Promise<void> | undefined;
  #postgresBump: Promise<void> | undefined;

  constructor(opts: FencingEpochOptions) {
    this.#db = opts.db;
    this.#redis = opts.redis;
    this.#logger = opts.logger;
  }

  /** maxSeen is the largest epoch this process bumped to or saw in a token. */
  get maxSeen(): number {
    return this.#maxSeen;
  }

  /** redisEpoch is the epoch verified on the Redis server in use, or undefined until verified. */
  get redisEpoch(): number | undefined {
    return this.#redisEpoch;
  }

  /** redisGeneration counts Redis (re)connections: a reply on another generation than its request's is not trusted. */
  get redisGeneration(): number {
    return this.#redisGeneration;
  }

  /** redisReconnected notes a Redis (re)connection: it may reach another server, so the record is checked again. */
  redisReconnected(): void {
    this.#redisGeneration++;
    this.#redisEpoch = undefined;
  }

  /** forgetRedisEpoch drops the verified Redis epoch: the next Redis acquire verifies the record first. */
  forgetRedisEpoch(): void {
    this.#redisEpoch = undefined;
  }

  /** seenToken notes the epoch of a token issued. */
  seenToken(token: bigint): void {
    this.seenEpoch(Number(token / TOKEN_COUNTER_SPAN));
  }

  /** seenEpoch notes an epoch seen in force. */
  seenEpoch(epoch: number): void {
    if (epoch > this.#maxSeen) this.#maxSeen = epoch;
  }

  /** bump moves the epoch past every epoch this process saw, for the backend `issuedBy`, and audits it as the service's own. */
  async bump(reason: string, issuedBy: BackendKind = "postgres"): Promise<EpochBump> {
    const r = await bumpEpoch(this.#db, { actor: "lock-service", role: "system", reason, action: "EPOCH_BUMP" }, this.#maxSeen + 1, issuedBy);
    this.seenEpoch(r.epoch);
    this.#logger.info({ previous: r.previous, epoch: r.epoch, reason }, "fencing epoch bumped");
    return r;
  }

  /** bumpForPostgres bumps a Postgres epoch past `seen` (one bump shared by concurrent callers). */
  bumpForPostgres(seen: number): Promise<void> {
    if (this.#postgresBump) return this.#postgresBump;
    if (this.#maxSeen > seen) return Promise.resolve(); // bumped since: just retry
    const bump = this.bump("the epoch in force was bumped for redis")
      .then(() => undefined)
      .finally(() => {
        if (this.#postgresBump === bump) this.#postgresBump = undefined;
      });
    this.#postgresBump = bump;
    return bump;
  }

  /**
   * advance moves the epoch past every token issued before (after a restore): past `recordedOnRedis`,
   * every epoch this process saw, and a day past the clock floor; audited as the caller's.
   */
  async advance(audit: { actor: string; role: string; reason: string }, recordedOnRedis: number, issuedBy: BackendKind): Promise<EpochBump> {
    // After a restore Postgres's epoch is old; move past what Redis recorded, what this process saw,
    // and a day past the clock floor (automatic bumps run ahead of the clock only when they come
    // faster than one a second, which a day of margin absorbs).
    const atLeast = Math.max(recordedOnRedis + 1, this.#maxSeen + 1, epochClockSeconds() + ADVANCE_MARGIN_S);
    const result = await bumpEpoch(this.#db, audit, atLeast, issuedBy);
    this.seenEpoch(result.epoch);
    // Redis issues under the new epoch only once it is recorded there; until then it re-verifies.
    this.#redisEpoch = undefined;
    return result;
  }

  /** recordOnRedis records `epoch` on the Redis server in use and, once recorded on this connection, issues under it. */
  async recordOnRedis(epoch: number): Promise<void> {
    const generation = this.#redisGeneration;
    await this.#redis!.recordEpoch(epoch).then(
      (r) => {
        if (r.recorded && generation === this.#redisGeneration) this.#redisEpoch = epoch;
      },
      () => undefined,
    );
  }

  /** verifiedRedisEpoch returns the epoch to issue under on Redis, verifying (or freshly bumping) the server's record first. */
  async verifiedRedisEpoch(): Promise<number> {
    while (this.#redisEpoch === undefined) {
      if (!this.#repairing) {
        this.#repairing = (async () => {
          const generation = this.#redisGeneration;
          const record = await this.#redis!.readEpochRecord();
          const current = await readEpoch(this.#db);
          if (generation !== this.#redisGeneration) return; // reconnected meanwhile: check again
          // Adopt only an epoch recorded on this very server that is the one in force.
          if (record.sameServer && record.epoch === current && record.epoch >= this.#maxSeen) this.#redisEpoch = record.epoch;
          else await this.freshRedisEpoch("redis epoch record missing or from another server");
        })().finally(() => {
          this.#repairing = undefined;
        });
      }
      await this.#repairing;
    }
    return this.#redisEpoch;
  }

  /** repairRedisEpoch handles Redis refusing epoch `used` (it records `seen`): share a newer epoch of this server, or verify again. */
  async repairRedisEpoch(used: number, seen: number, sameServer: boolean): Promise<void> {
    if (this.#redisEpoch !== used) return; // someone repaired it meanwhile (or a reconnection reset it)
    if (sameServer && seen > used) {
      // Another lock-service replica recorded a newer epoch on this server: share its counter.
      this.#redisEpoch = seen;
      this.seenEpoch(seen);
      return;
    }
    this.#redisEpoch = undefined;
    await this.verifiedRedisEpoch();
  }

  /** freshRedisEpoch bumps the epoch in Postgres for Redis and records it on the Redis server in use. */
  async freshRedisEpoch(reason: string): Promise<void> {
    const { epoch } = await this.bump(reason, "redis");
    const generation = this.#redisGeneration;
    const r = await this.#redis!.recordEpoch(epoch);
    this.#redisEpoch = r.recorded && generation === this.#redisGeneration ? epoch : undefined;
    if (!r.recorded) this.seenEpoch(r.epoch);
  }
}
