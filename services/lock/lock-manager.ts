// The lock domain: leases with fencing tokens over two backends (ports), a circuit breaker between
// them, waiting without busy polling, the fencing epoch, and the monitor that feeds the metrics.
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/logger.js";
import { silentLogger } from "../runtime/logger.js";
import { bumpEpoch, epochClockSeconds, readEpoch, writeAudit } from "./fencing-epoch.repository.js";
import {
  TOKEN_COUNTER_SPAN,
  type AcquireOutcome,
  type BackendKind,
  type EpochBoundBackend,
  type LeaseRecord,
  type LockBackend,
} from "./lock-backend.port.js";
import { LeaseLostError, LockBackendUnavailableError, LockHeldError } from "./lock.errors.js";
import {
  activeLocksCount,
  lockAcquisitionFailures,
  lockMonitorLastCheck,
  lockWaitDuration,
  setActiveBackend,
  stuckLocksCount,
} from "./lock.metrics.js";

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
 *   `mslock:meta` = "E:<run_id>" and <run_id> is the run_id of the server executing the script
 *   (read with INFO in the same script). That record is written only by recordEpoch() right after
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

/** LockManagerOptions configures a LockManager. */
export interface LockManagerOptions {
  /** db holds the lock schema (epoch, audit log, Postgres leases). */
  db: Kysely<any>;
  /** postgres is the Postgres backend (always present: embedded mode and fallback). */
  postgres: LockBackend & { latestExpiry?(): Promise<Date | undefined> };
  /** redis is the Redis backend, when REDIS_URL (or Sentinels) is configured. */
  redis?: EpochBoundBackend;
  /** clock tells the time for ages and the stuck flag (lease expiry uses the backends' clocks). */
  clock?: Clock;
  /** logger logs backend switches and epoch bumps. */
  logger?: Logger;
  /** stuckAfterMs flags leases held longer (LOCK_STUCK_AFTER, default 30 s). */
  stuckAfterMs?: number;
  /** monitorIntervalMs is the lock monitor's period (default 1 s). */
  monitorIntervalMs?: number;
  /** heartbeatIntervalMs is how often Redis is pinged while in use (default 300 ms). */
  heartbeatIntervalMs?: number;
  /** heartbeatTimeoutMs fails a ping (default 500 ms): a frozen Redis is left within about a second. */
  heartbeatTimeoutMs?: number;
  /** probeIntervalMs is how often a failed Redis is probed (default 250 ms). */
  probeIntervalMs?: number;
  /** pollMs bounds a waiting acquire's fallback poll, which backs off from min to max (default 10-250 ms). */
  pollMs?: { min: number; max: number };
}

/** AcquireParams is a validated Acquire. */
export interface AcquireParams {
  /** resource to lock. */
  resource: string;
  /** owner shown to operators. */
  owner: string;
  /** ttlMs is the lease's time to live. */
  ttlMs: number;
  /** waitTimeoutMs is how long to wait for a held resource; 0 tries once. */
  waitTimeoutMs: number;
  /** signal aborts the wait (the caller left). */
  signal?: AbortSignal;
}

/** Actor is who asked, for the audit log. */
export interface Actor {
  /** subject is the caller's id. */
  subject: string;
  /** role is the role the call was granted under. */
  role: string;
}

const LEASE_PREFIX: Record<BackendKind, string> = { redis: "r_", postgres: "p_" };
const MAX_POLL_MS = 250;
const ADVANCE_MARGIN_S = 86_400;
const MIN_POLL_MS = 10;

/**
 * LockManager hands out leases with fencing tokens. With a Redis backend it uses Redis while Redis
 * answers and falls back to Postgres when it does not (a circuit breaker: any Redis error or a
 * missed heartbeat opens it; a probe closes it again), bumping the fencing epoch on every switch.
 */
export class LockManager {
  readonly #db: Kysely<any>;
  readonly #postgres: LockManagerOptions["postgres"];
  readonly #redis: EpochBoundBackend | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #stuckAfterMs: number;
  readonly #opts: Required<Pick<LockManagerOptions, "monitorIntervalMs" | "heartbeatIntervalMs" | "heartbeatTimeoutMs" | "probeIntervalMs" | "pollMs">>;
  #active: BackendKind;
  /** The epoch recorded on the Redis server in use, once verified; undefined means "verify first". */
  #redisEpoch: number | undefined;
  /** Counts Redis (re)connections: #redisEpoch is only ever set from a check made on the current one. */
  #redisGeneration = 0;
  #repairing: Promise<void> | undefined;
  /** Settles once Postgres may issue tokens (after the switch bump). */
  #postgresReady: Promise<void> = Promise.resolve();
  #switching: Promise<void> | undefined;
  /** Set while the switch to Redis runs (bump, record): Postgres acquires wait for it. */
  #activating: Promise<void> | undefined;
  #postgresBump: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  /** startedDone is set once start's first probe has finished. */
  #startedDone = false;
  /** Postgres leases may be live until then: Redis acquires check Postgres for a holder meanwhile. */
  #postgresDrainUntil = 0;
  #maxEpochSeen = 0;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** watched holds, per resource with waiting acquires here, how many release notices arrived. */
  readonly #watched = new Map<string, { refs: number; notices: number }>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(opts: LockManagerOptions) {
    this.#db = opts.db;
    this.#postgres = opts.postgres;
    this.#redis = opts.redis;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger ?? silentLogger;
    this.#stuckAfterMs = opts.stuckAfterMs ?? 30_000;
    this.#opts = {
      monitorIntervalMs: opts.monitorIntervalMs ?? 1_000,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 300,
      heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 500,
      probeIntervalMs: opts.probeIntervalMs ?? 250,
      pollMs: opts.pollMs ?? { min: MIN_POLL_MS, max: MAX_POLL_MS },
    };
    this.#active = "postgres";
    const wake = (resource: string) => this.#wake(resource);
    this.#unsubscribe.push(this.#postgres.onRelease(wake));
    if (this.#redis) {
      this.#unsubscribe.push(this.#redis.onRelease(wake));
      this.#unsubscribe.push(
        this.#redis.onConnection((event) => {
          if (this.#closed) return;
          if (event === "close" && this.#active === "redis") this.#trip(new Error("redis connection closed"));
          // A (re)connection may reach another server: check the epoch record before trusting it.
          this.#redisGeneration++;
          this.#redisEpoch = undefined;
        }),
      );
    }
  }

  /** backend is the backend in use now. */
  get backend(): BackendKind {
    return this.#active;
  }

  /** start begins the monitor, the Redis heartbeat and probe; the first acquire waits for the first probe. */
  start(): Promise<void> {
    if (this.#started) return this.#started;
    setActiveBackend(this.#active);
    this.#started = (async () => {
      const latest = await this.#postgres.latestExpiry?.().catch(() => undefined);
      if (latest) this.#postgresDrainUntil = latest.getTime();
      if (this.#redis) {
        try {
          await this.#activateRedis(2_000);
        } catch (err) {
          this.#logger.warn({ err: (err as Error).message }, "redis not available at start: using the Postgres lock backend");
          this.#postgresReady = this.#bump("start without redis");
          await this.#postgresReady.catch(() => undefined);
        }
      }
      this.#startedDone = true;
    })();
    this.#every(this.#opts.monitorIntervalMs, () => this.#monitor());
    if (this.#redis) this.#every(Math.min(this.#opts.heartbeatIntervalMs, this.#opts.probeIntervalMs), () => this.#tick());
    return this.#started;
  }

  /** close stops the timers and subscriptions (the clients belong to the caller). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    for (const u of this.#unsubscribe) u();
    for (const set of this.#waiters.values()) for (const w of set) w();
    await this.#redis?.close();
  }

  /** acquire takes the lease, waiting up to waitTimeoutMs; LockHeldError (ABORTED) when it stays held. */
  async acquire(p: AcquireParams): Promise<LeaseRecord> {
    // Once started, no await here: every await of a settled promise is a microtask hop per acquire.
    if (!this.#startedDone) await this.start();
    const started = Date.now();
    const deadline = started + p.waitTimeoutMs;
    const { min: minPoll, max: maxPoll } = this.#opts.pollMs;
    let poll = minPoll;
    // A waiting acquire watches its resource's release notices from before its first attempt: a
    // notice can arrive while an attempt's HELD answer is still on its way (another connection), and
    // would otherwise wake nobody and leave the waiter to its fallback poll.
    const watch = p.waitTimeoutMs > 0 ? this.#watch(p.resource) : undefined;
    try {
      for (;;) {
        const noticesBefore = watch?.notices ?? 0;
        let outcome: AcquireOutcome;
        try {
          outcome = await this.#tryAcquire(p, Math.max(0, deadline - Date.now()));
        } catch (err) {
          lockAcquisitionFailures.inc({ reason: "backend" });
          lockWaitDuration.observe({ outcome: "error" }, (Date.now() - started) / 1000);
          throw err;
        }
        if (outcome.kind === "acquired") {
          lockWaitDuration.observe({ outcome: "acquired" }, (Date.now() - started) / 1000);
          return outcome.lease;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || p.signal?.aborted || this.#closed) {
          lockAcquisitionFailures.inc({ reason: "held" });
          lockWaitDuration.observe({ outcome: "held" }, (Date.now() - started) / 1000);
          throw new LockHeldError(p.resource, Date.now() - started);
        }
        // Released while this attempt was under way: try again at once.
        if (watch && watch.notices !== noticesBefore) continue;
        // Wait for a release (pub/sub or in-process), with a jittered fallback poll in case the
        // notification is lost or the lease simply expires.
        const hint = outcome.kind === "held" && outcome.retryAfterMs > 0 ? outcome.retryAfterMs + 2 : poll;
        const delay = Math.max(minPoll, Math.min(remaining, hint, poll) * (0.75 + Math.random() * 0.5));
        await this.#waitForRelease(p.resource, delay, p.signal);
        poll = Math.min(maxPoll, poll * 2);
      }
    } finally {
      if (watch && --watch.refs === 0 && this.#watched.get(p.resource) === watch) this.#watched.delete(p.resource);
    }
  }

  /** watch counts the release notices of a resource while waiting acquires of this process use it. */
  #watch(resource: string): { refs: number; notices: number } {
    let w = this.#watched.get(resource);
    if (!w) this.#watched.set(resource, (w = { refs: 0, notices: 0 }));
    w.refs++;
    return w;
  }

  /** release gives back the lease; false when `leaseId` does not hold it. */
  async release(resource: string, leaseId: string): Promise<boolean> {
    const backend = this.#backendOfLease(leaseId);
    if (!backend) return false;
    if (backend === this.#redis) {
      if (this.#active !== "redis") throw new LockBackendUnavailableError("the lease's backend (redis) is unavailable; the lease expires by itself");
      try {
        return await backend.release(resource, leaseId);
      } catch (err) {
        this.#trip(err);
        throw new LockBackendUnavailableError("the lease's backend (redis) is unavailable; the lease expires by itself", { cause: err });
      }
    }
    return this.#postgresCall(() => backend.release(resource, leaseId));
  }

  /** extend moves the lease's expiry to now + ttlMs; LeaseLostError (FAILED_PRECONDITION) when not held. */
  async extend(resource: string, leaseId: string, ttlMs: number): Promise<LeaseRecord> {
    const backend = this.#backendOfLease(leaseId);
    if (!backend) throw new LeaseLostError(resource, "no such lease");
    let lease: LeaseRecord | undefined;
    if (backend === this.#redis) {
      // A lease kept by a backend we cannot reach is treated as lost: safety first.
      if (this.#active !== "redis") throw new LeaseLostError(resource, "its backend (redis) is unavailable");
      try {
        lease = await backend.extend(resource, leaseId, ttlMs);
      } catch (err) {
        this.#trip(err);
        throw new LeaseLostError(resource, "its backend (redis) is unavailable");
      }
    } else {
      lease = await this.#postgresCall(() => backend.extend(resource, leaseId, ttlMs));
      if (lease) this.#postgresDrainUntil = Math.max(this.#postgresDrainUntil, lease.expiresAt.getTime());
    }
    if (!lease) throw new LeaseLostError(resource);
    return lease;
  }

  /** list returns one page of live leases (both backends while Postgres leases may be live), oldest first. */
  async list(prefix: string, offset: number, limit: number): Promise<{ leases: LeaseRecord[]; more: boolean }> {
    await this.start();
    const sources = this.#listSources();
    const parts = await Promise.all(
      sources.map((b) =>
        b === this.#redis
          ? b.list(prefix, 0, offset + limit + 1).catch((err: unknown) => {
              this.#trip(err);
              return [] as LeaseRecord[];
            })
          : this.#postgresCall(() => b.list(prefix, 0, offset + limit + 1)),
      ),
    );
    const all = parts.flat().sort((a, b) => a.acquiredAt.getTime() - b.acquiredAt.getTime() || (a.resource < b.resource ? -1 : 1));
    return { leases: all.slice(offset, offset + limit), more: all.length > offset + limit };
  }

  /** forceRelease drops the live lease on resource (any backend) and audits it; false when none was held. */
  async forceRelease(resource: string, actor: Actor, reason: string): Promise<boolean> {
    await this.start();
    let dropped: LeaseRecord | undefined;
    if (this.#redis && this.#active === "redis") {
      dropped = await this.#redis.forceRelease(resource).catch((err: unknown) => {
        this.#trip(err);
        throw new LockBackendUnavailableError("redis is unavailable; retry shortly", { cause: err });
      });
    }
    const fromPostgres = await this.#postgresCall(() => this.#postgres.forceRelease(resource));
    dropped ??= fromPostgres;
    await this.#postgresCall(() => writeAudit(this.#db, {
      actor: actor.subject,
      role: actor.role,
      action: "FORCE_RELEASE",
      resource,
      detail: {
        reason,
        released: dropped !== undefined,
        ...(dropped ? { leaseId: dropped.leaseId, owner: dropped.owner, fencingToken: dropped.fencingToken.toString(), backend: dropped.backend } : {}),
      },
    }));
    this.#logger.info({ resource, actor: actor.subject, released: dropped !== undefined }, "lock force-released");
    return dropped !== undefined;
  }

  /** advanceEpoch moves the fencing epoch past every token issued before (after a restore); audited. */
  async advanceEpoch(actor: Actor, reason: string): Promise<{ previous: number; epoch: number }> {
    await this.start();
    let recorded = 0;
    if (this.#redis && this.#active === "redis") {
      recorded = (await this.#redis.readEpochRecord().catch(() => ({ epoch: 0 }))).epoch;
    }
    // After a restore Postgres's epoch is old; move past what Redis recorded, what this process saw,
    // and a day past the clock floor (automatic bumps run ahead of the clock only when they come
    // faster than one a second, which a day of margin absorbs).
    const atLeast = Math.max(recorded + 1, this.#maxEpochSeen + 1, epochClockSeconds() + ADVANCE_MARGIN_S);
    const forRedis = this.#redis !== undefined && this.#active === "redis";
    const result = await this.#postgresCall(() => bumpEpoch(this.#db, { actor: actor.subject, role: actor.role, reason }, atLeast, forRedis ? "redis" : "postgres"));
    this.#maxEpochSeen = Math.max(this.#maxEpochSeen, result.epoch);
    // Redis issues under the new epoch only once it is recorded there; until then it re-verifies.
    this.#redisEpoch = undefined;
    if (this.#redis && this.#active === "redis") {
      const generation = this.#redisGeneration;
      await this.#redis.recordEpoch(result.epoch).then(
        (r) => {
          if (r.recorded && generation === this.#redisGeneration) this.#redisEpoch = result.epoch;
        },
        () => undefined,
      );
    }
    this.#logger.info({ previous: result.previous, epoch: result.epoch, actor: actor.subject }, "fencing epoch advanced");
    return result;
  }

  /** stuckAfterMs is the age past which a lease counts as stuck. */
  get stuckAfterMs(): number {
    return this.#stuckAfterMs;
  }

  /** now is the manager's clock. */
  now(): Date {
    return this.#clock.now();
  }

  // --- acquiring -----------------------------------------------------------------------------

  async #tryAcquire(p: AcquireParams, waitMs: number): Promise<AcquireOutcome> {
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.#redis && this.#active === "redis") {
        try {
          const out = await this.#tryRedis(p, waitMs);
          if (out) return out;
        } catch (err) {
          if (err instanceof LockBackendUnavailableError) throw err;
          this.#trip(err);
        }
      }
      await this.#ensurePostgresReady();
      if (this.#activating) {
        // The switch to Redis is under way: its epoch is not Postgres's to issue under.
        await this.#activating.catch(() => undefined);
        continue;
      }
      if (this.#redis && this.#active === "redis") continue;
      const leaseId = LEASE_PREFIX.postgres + randomUUID();
      const out = await this.#postgresCall(() => this.#postgres.acquire({ resource: p.resource, leaseId, owner: p.owner, ttlMs: p.ttlMs, epoch: 0 }));
      if (out.kind === "epoch") {
        // The epoch in force was bumped for Redis (a switch here, or another replica's): unless this
        // process is switching to Redis itself, bump a Postgres epoch and try again.
        if (this.#activating || this.#active === "redis") continue;
        await this.#postgresCall(() => this.#bumpForPostgres(out.seenEpoch));
        continue;
      }
      if (out.kind === "acquired") {
        this.#postgresDrainUntil = Math.max(this.#postgresDrainUntil, out.lease.expiresAt.getTime());
        this.#seen(out.lease.fencingToken);
      }
      return out;
    }
    throw new LockBackendUnavailableError("could not agree on a fencing epoch; retry shortly");
  }

  /** Bumps a Postgres epoch past `seen` (one bump shared by concurrent callers). */
  #bumpForPostgres(seen: number): Promise<void> {
    if (this.#postgresBump) return this.#postgresBump;
    if (this.#maxEpochSeen > seen) return Promise.resolve(); // bumped since: just retry
    const bump = this.#bump("the epoch in force was bumped for redis").finally(() => {
      if (this.#postgresBump === bump) this.#postgresBump = undefined;
    });
    this.#postgresBump = bump;
    return bump;
  }

  /** One Redis attempt; undefined when the breaker opened meanwhile (the caller goes to Postgres). */
  async #tryRedis(p: AcquireParams, waitMs: number): Promise<AcquireOutcome | undefined> {
    const redis = this.#redis!;
    // Postgres leases from a fallback period may still be live: respect them until they expire.
    if (Date.now() < this.#postgresDrainUntil) {
      const holder = await this.#postgresCall(() => this.#postgres.holder(p.resource));
      if (holder) return { kind: "held", retryAfterMs: Math.max(0, holder.expiresAt.getTime() - Date.now()) };
    }
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.#active !== "redis") return undefined;
      const epoch = this.#redisEpoch ?? (await this.#verifiedRedisEpoch());
      const generation = this.#redisGeneration;
      const leaseId = LEASE_PREFIX.redis + randomUUID();
      const out = await redis.acquire({ resource: p.resource, leaseId, owner: p.owner, ttlMs: p.ttlMs, epoch, waitMs });
      // The connection changed (the command may have run on another server than the one verified),
      // or the epoch moved meanwhile.
      const stale = generation !== this.#redisGeneration || this.#redisEpoch !== epoch;
      if (out.kind === "acquired" && (stale || this.#active !== "redis" || this.#maxEpochSeen > epoch)) {
        // Or the call was in flight (say, in a frozen server) while the breaker switched to Postgres,
        // which may have issued larger tokens meanwhile. This lease could break the order: drop it.
        redis.release(p.resource, leaseId).catch(() => undefined);
        if (this.#active !== "redis") return undefined;
        continue;
      }
      if (out.kind !== "epoch") {
        if (out.kind === "acquired") this.#seen(out.lease.fencingToken);
        return out;
      }
      if (stale) continue;
      await this.#repairRedisEpoch(epoch, out.seenEpoch, out.sameServer);
    }
    throw new LockBackendUnavailableError("could not agree on a fencing epoch with redis; retry shortly");
  }

  async #verifiedRedisEpoch(): Promise<number> {
    while (this.#redisEpoch === undefined) {
      if (!this.#repairing) {
        this.#repairing = (async () => {
          const generation = this.#redisGeneration;
          const record = await this.#redis!.readEpochRecord();
          const current = await readEpoch(this.#db);
          if (generation !== this.#redisGeneration) return; // reconnected meanwhile: check again
          // Adopt only an epoch recorded on this very server that is the one in force.
          if (record.sameServer && record.epoch === current && record.epoch >= this.#maxEpochSeen) this.#redisEpoch = record.epoch;
          else await this.#freshRedisEpoch("redis epoch record missing or from another server");
        })().finally(() => {
          this.#repairing = undefined;
        });
      }
      await this.#repairing;
    }
    return this.#redisEpoch;
  }

  async #repairRedisEpoch(used: number, seen: number, sameServer: boolean): Promise<void> {
    if (this.#redisEpoch !== used) return; // someone repaired it meanwhile (or a reconnection reset it)
    if (sameServer && seen > used) {
      // Another lock-service replica recorded a newer epoch on this server: share its counter.
      this.#redisEpoch = seen;
      this.#seenEpoch(seen);
      return;
    }
    this.#redisEpoch = undefined;
    await this.#verifiedRedisEpoch();
  }

  /** Bumps the epoch in Postgres and records it on the Redis server in use. */
  async #freshRedisEpoch(reason: string): Promise<void> {
    const { epoch } = await this.#bumpRaw(reason, "redis");
    const generation = this.#redisGeneration;
    const r = await this.#redis!.recordEpoch(epoch);
    this.#redisEpoch = r.recorded && generation === this.#redisGeneration ? epoch : undefined;
    if (!r.recorded) this.#seenEpoch(r.epoch);
  }

  async #activateRedis(pingTimeoutMs = this.#opts.heartbeatTimeoutMs): Promise<void> {
    await this.#redis!.ping(pingTimeoutMs);
    const activation = (async () => {
      this.#redisEpoch = undefined;
      await this.#freshRedisEpoch("switch to the redis backend");
      this.#active = "redis";
      setActiveBackend("redis");
      this.#logger.info({ epoch: this.#redisEpoch }, "lock backend: redis");
    })();
    this.#activating = activation;
    try {
      await activation;
    } finally {
      if (this.#activating === activation) this.#activating = undefined;
    }
  }

  // --- circuit breaker -----------------------------------------------------------------------

  #trip(err: unknown): void {
    if (!this.#redis || this.#active !== "redis" || this.#closed) return;
    this.#active = "postgres";
    this.#redisEpoch = undefined;
    setActiveBackend("postgres");
    this.#logger.warn({ err: (err as Error)?.message ?? String(err) }, "redis failed: switching the lock backend to Postgres");
    // No Postgres token before the epoch moved past every Redis token.
    this.#postgresReady = this.#bump("switch to the postgres backend");
    this.#postgresReady.catch(() => undefined);
  }

  async #tick(): Promise<void> {
    if (this.#closed || !this.#redis || this.#switching) return;
    this.#switching = (async () => {
      if (this.#active === "redis") {
        try {
          await this.#redis!.ping(this.#opts.heartbeatTimeoutMs);
          if (this.#redisEpoch === undefined) await this.#verifiedRedisEpoch();
        } catch (err) {
          this.#trip(err);
        }
      } else {
        try {
          await this.#ensurePostgresReady();
          await this.#activateRedis();
        } catch {
          // still down: the next tick probes again
        }
      }
    })().finally(() => {
      this.#switching = undefined;
    });
    await this.#switching;
  }

  // --- helpers -------------------------------------------------------------------------------

  /** Waits for the switch-to-Postgres bump; if it failed (Postgres was down too), bumps again. */
  async #ensurePostgresReady(): Promise<void> {
    const pending = this.#postgresReady;
    try {
      await pending;
    } catch {
      if (this.#postgresReady === pending) {
        this.#postgresReady = this.#bump("switch to the postgres backend (retry)");
        this.#postgresReady.catch(() => undefined);
      }
      await this.#postgresCall(() => this.#postgresReady);
    }
  }

  async #bump(reason: string): Promise<void> {
    await this.#bumpRaw(reason);
  }

  async #bumpRaw(reason: string, issuedBy: "postgres" | "redis" = "postgres"): Promise<{ previous: number; epoch: number }> {
    const r = await bumpEpoch(this.#db, { actor: "lock-service", role: "system", reason, action: "EPOCH_BUMP" }, this.#maxEpochSeen + 1, issuedBy);
    this.#seenEpoch(r.epoch);
    this.#logger.info({ previous: r.previous, epoch: r.epoch, reason }, "fencing epoch bumped");
    return r;
  }

  #seen(token: bigint): void {
    this.#seenEpoch(Number(token / TOKEN_COUNTER_SPAN));
  }

  #seenEpoch(epoch: number): void {
    if (epoch > this.#maxEpochSeen) this.#maxEpochSeen = epoch;
  }

  #backendOfLease(leaseId: string): LockBackend | undefined {
    if (leaseId.startsWith(LEASE_PREFIX.redis)) return this.#redis;
    if (leaseId.startsWith(LEASE_PREFIX.postgres)) return this.#postgres;
    return undefined;
  }

  #listSources(): LockBackend[] {
    const out: LockBackend[] = [];
    if (this.#redis && this.#active === "redis") out.push(this.#redis);
    if (this.#active === "postgres" || Date.now() < this.#postgresDrainUntil) out.push(this.#postgres);
    return out;
  }

  async #postgresCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new LockBackendUnavailableError("the Postgres lock backend is unavailable; retry shortly", { cause: err });
    }
  }

  #waitForRelease(resource: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(resource);
      if (!set) this.#waiters.set(resource, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(resource) === waiters) this.#waiters.delete(resource);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      waiters.add(done);
    });
  }

  #wake(resource: string): void {
    const watch = this.#watched.get(resource);
    if (watch) watch.notices++;
    const set = this.#waiters.get(resource);
    if (!set) return;
    // Oldest waiter first, the others a little later: roughly FIFO without a thundering herd.
    let k = 0;
    for (const w of [...set]) {
      if (k === 0) w();
      else setTimeout(w, 2 * k).unref();
      k++;
    }
  }

  #every(ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => {
      void fn().catch(() => undefined);
    }, ms);
    t.unref();
    this.#timers.push(t);
  }

  async #monitor(): Promise<void> {
    if (this.#closed) return;
    const stuckBefore = new Date(this.#clock.now().getTime() - this.#stuckAfterMs);
    let active = 0;
    let stuck = 0;
    for (const b of this.#listSources()) {
      const c = await b.count(stuckBefore);
      active += c.active;
      stuck += c.stuck;
    }
    activeLocksCount.set(active);
    stuckLocksCount.set(stuck);
    lockMonitorLastCheck.set(Date.now() / 1000);
    setActiveBackend(this.#active);
  }

  /** checkNow runs one monitor pass now (tests, and the first scrape after start). */
  async checkNow(): Promise<void> {
    await this.#monitor();
  }
}

