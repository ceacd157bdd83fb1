// The lock domain: leases with fencing tokens over two backends (ports), waiting without busy
// polling, and the monitor that feeds the metrics. Which backend is in use is BackendBreaker's
// (backend-breaker.ts); why the tokens never go backwards, FencingEpoch's (fencing-epoch.ts).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Logger } from "../runtime/observability/logger.js";
import { silentLogger } from "../runtime/observability/logger.js";
import { BackendBreaker, callPostgres } from "./backend-breaker.js";
import type { Database } from "./db/database.js";
import { FencingEpoch } from "./fencing-epoch.js";
import type { AcquireOutcome, BackendKind, EpochBoundBackend, LeaseRecord, LockBackend } from "./lock-backend.port.js";
import { LeaseLostError, LockBackendUnavailableError, LockHeldError } from "./lock.errors.js";
import {
  activeLocksCount,
  lockAcquisitionFailures,
  lockMonitorLastCheck,
  lockWaitDuration,
  setActiveBackend,
  stuckLocksCount,
} from "./lock.metrics.js";
import { ReleaseWaiters } from "./release-waiters.js";
import { AUDIT_LOG } from "./repositories/audit-log.repository.js";
import type { EpochBump } from "./repositories/fencing-epoch.repository.js";

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
const MIN_POLL_MS = 10;

/**
 * LockManager hands out leases with fencing tokens. With a Redis backend it uses Redis while Redis
 * answers and falls back to Postgres when it does not (BackendBreaker), the fencing epoch moving on
 * every switch (FencingEpoch).
 */
export class LockManager {
  readonly #db: Kysely<Database>;
  readonly #postgres: LockManagerOptions["postgres"];
  readonly #redis: EpochBoundBackend | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #stuckAfterMs: number;
  readonly #opts: Required<Pick<LockManagerOptions, "monitorIntervalMs" | "heartbeatIntervalMs" | "probeIntervalMs" | "pollMs">>;
  readonly #epoch: FencingEpoch;
  readonly #breaker: BackendBreaker;
  readonly #waiters = new ReleaseWaiters();
  #started: Promise<void> | undefined;
  /** startedDone is set once start's first probe has finished. */
  #startedDone = false;
  /** Postgres leases may be live until then: Redis acquires check Postgres for a holder meanwhile. */
  #postgresDrainUntil = 0;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(opts: LockManagerOptions) {
    this.#db = opts.db as Kysely<Database>;
    this.#postgres = opts.postgres;
    this.#redis = opts.redis;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger ?? silentLogger;
    this.#stuckAfterMs = opts.stuckAfterMs ?? 30_000;
    this.#opts = {
      monitorIntervalMs: opts.monitorIntervalMs ?? 1_000,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 300,
      probeIntervalMs: opts.probeIntervalMs ?? 250,
      pollMs: opts.pollMs ?? { min: MIN_POLL_MS, max: MAX_POLL_MS },
    };
    this.#epoch = new FencingEpoch({ db: this.#db, redis: this.#redis, logger: this.#logger });
    const wake = (resource: string) => this.#waiters.notice(resource);
    this.#unsubscribe.push(this.#postgres.onRelease(wake));
    if (this.#redis) this.#unsubscribe.push(this.#redis.onRelease(wake));
    this.#breaker = new BackendBreaker({ redis: this.#redis, epoch: this.#epoch, logger: this.#logger, heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 500 });
  }

  /** backend is the backend in use now. */
  get backend(): BackendKind {
    return this.#breaker.active;
  }

  /** start begins the monitor, the Redis heartbeat and probe; the first acquire waits for the first probe. */
  start(): Promise<void> {
    if (this.#started) return this.#started;
    setActiveBackend(this.#breaker.active);
    this.#started = (async () => {
      const latest = await this.#postgres.latestExpiry?.().catch(() => undefined);
      if (latest) this.#postgresDrainUntil = latest.getTime();
      await this.#breaker.start();
      this.#startedDone = true;
    })();
    this.#every(this.#opts.monitorIntervalMs, () => this.#monitor());
    if (this.#redis) this.#every(Math.min(this.#opts.heartbeatIntervalMs, this.#opts.probeIntervalMs), () => this.#breaker.tick());
    return this.#started;
  }

  /** close stops the timers and subscriptions (the clients belong to the caller). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#breaker.close();
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    for (const u of this.#unsubscribe) u();
    this.#waiters.wakeAll();
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
    const watch = p.waitTimeoutMs > 0 ? this.#waiters.watch(p.resource) : undefined;
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
        await this.#waiters.wait(p.resource, delay, p.signal);
        poll = Math.min(maxPoll, poll * 2);
      }
    } finally {
      if (watch) this.#waiters.unwatch(p.resource, watch);
    }
  }

  /** release gives back the lease; false when `leaseId` does not hold it. */
  async release(resource: string, leaseId: string): Promise<boolean> {
    const backend = this.#backendOfLease(leaseId);
    if (!backend) return false;
    if (backend === this.#redis) {
      if (this.#breaker.active !== "redis") throw new LockBackendUnavailableError("the lease's backend (redis) is unavailable; the lease expires by itself");
      try {
        return await backend.release(resource, leaseId);
      } catch (err) {
        this.#breaker.trip(err);
        throw new LockBackendUnavailableError("the lease's backend (redis) is unavailable; the lease expires by itself", { cause: err });
      }
    }
    return callPostgres(() => backend.release(resource, leaseId));
  }

  /** extend moves the lease's expiry to now + ttlMs; LeaseLostError (FAILED_PRECONDITION) when not held. */
  async extend(resource: string, leaseId: string, ttlMs: number): Promise<LeaseRecord> {
    const backend = this.#backendOfLease(leaseId);
    if (!backend) throw new LeaseLostError(resource, "no such lease");
    let lease: LeaseRecord | undefined;
    if (backend === this.#redis) {
      // A lease kept by a backend we cannot reach is treated as lost: safety first.
      if (this.#breaker.active !== "redis") throw new LeaseLostError(resource, "its backend (redis) is unavailable");
      try {
        lease = await backend.extend(resource, leaseId, ttlMs);
      } catch (err) {
        this.#breaker.trip(err);
        throw new LeaseLostError(resource, "its backend (redis) is unavailable");
      }
    } else {
      lease = await callPostgres(() => backend.extend(resource, leaseId, ttlMs));
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
              this.#breaker.trip(err);
              return [] as LeaseRecord[];
            })
          : callPostgres(() => b.list(prefix, 0, offset + limit + 1)),
      ),
    );
    const all = parts.flat().sort((a, b) => a.acquiredAt.getTime() - b.acquiredAt.getTime() || (a.resource < b.resource ? -1 : 1));
    return { leases: all.slice(offset, offset + limit), more: all.length > offset + limit };
  }

  /** forceRelease drops the live lease on resource (any backend) and audits it; false when none was held. */
  async forceRelease(resource: string, actor: Actor, reason: string): Promise<boolean> {
    await this.start();
    let dropped: LeaseRecord | undefined;
    if (this.#redis && this.#breaker.active === "redis") {
      dropped = await this.#redis.forceRelease(resource).catch((err: unknown) => {
        this.#breaker.trip(err);
        throw new LockBackendUnavailableError("redis is unavailable; retry shortly", { cause: err });
      });
    }
    const fromPostgres = await callPostgres(() => this.#postgres.forceRelease(resource));
    dropped ??= fromPostgres;
    await callPostgres(() => AUDIT_LOG.append(this.#db, {
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
  async advanceEpoch(actor: Actor, reason: string): Promise<EpochBump> {
    await this.start();
    let recorded = 0;
    if (this.#breaker.onRedis()) {
      recorded = (await this.#redis!.readEpochRecord().catch(() => ({ epoch: 0 }))).epoch;
    }
    const issuedBy = this.#breaker.onRedis() ? "redis" : "postgres";
    const result = await callPostgres(() => this.#epoch.advance({ actor: actor.subject, role: actor.role, reason }, recorded, issuedBy));
    if (this.#breaker.onRedis()) await this.#epoch.recordOnRedis(result.epoch);
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

  async #tryAcquire(p: AcquireParams, waitMs: number): Promise<AcquireOutcome> {
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.#redis && this.#breaker.active === "redis") {
        try {
          const out = await this.#tryRedis(p, waitMs);
          if (out) return out;
        } catch (err) {
          if (err instanceof LockBackendUnavailableError) throw err;
          this.#breaker.trip(err);
        }
      }
      await this.#breaker.ensurePostgresReady();
      if (this.#breaker.activating) {
        // The switch to Redis is under way: its epoch is not Postgres's to issue under.
        await this.#breaker.activating.catch(() => undefined);
        continue;
      }
      if (this.#redis && this.#breaker.active === "redis") continue;
      const leaseId = LEASE_PREFIX.postgres + randomUUID();
      const out = await callPostgres(() => this.#postgres.acquire({ resource: p.resource, leaseId, owner: p.owner, ttlMs: p.ttlMs, epoch: 0 }));
      if (out.kind === "epoch") {
        // The epoch in force was bumped for Redis (a switch here, or another replica's): unless this
        // process is switching to Redis itself, bump a Postgres epoch and try again.
        if (this.#breaker.activating || this.#breaker.active === "redis") continue;
        await callPostgres(() => this.#epoch.bumpForPostgres(out.seenEpoch));
        continue;
      }
      if (out.kind === "acquired") {
        this.#postgresDrainUntil = Math.max(this.#postgresDrainUntil, out.lease.expiresAt.getTime());
        this.#epoch.seenToken(out.lease.fencingToken);
      }
      return out;
    }
    throw new LockBackendUnavailableError("could not agree on a fencing epoch; retry shortly");
  }

  /** One Redis attempt; undefined when the breaker opened meanwhile (the caller goes to Postgres). */
  async #tryRedis(p: AcquireParams, waitMs: number): Promise<AcquireOutcome | undefined> {
    const redis = this.#redis!;
    // Postgres leases from a fallback period may still be live: respect them until they expire.
    if (Date.now() < this.#postgresDrainUntil) {
      const holder = await callPostgres(() => this.#postgres.holder(p.resource));
      if (holder) return { kind: "held", retryAfterMs: Math.max(0, holder.expiresAt.getTime() - Date.now()) };
    }
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.#breaker.active !== "redis") return undefined;
      const epoch = this.#epoch.redisEpoch ?? (await this.#epoch.verifiedRedisEpoch());
      const generation = this.#epoch.redisGeneration;
      const leaseId = LEASE_PREFIX.redis + randomUUID();
      const out = await redis.acquire({ resource: p.resource, leaseId, owner: p.owner, ttlMs: p.ttlMs, epoch, waitMs });
      // The connection changed (the command may have run on another server than the one verified),
      // or the epoch moved meanwhile.
      const stale = generation !== this.#epoch.redisGeneration || this.#epoch.redisEpoch !== epoch;
      if (out.kind === "acquired" && (stale || this.#breaker.active !== "redis" || this.#epoch.maxSeen > epoch)) {
        // Or the call was in flight (say, in a frozen server) while the breaker switched to Postgres,
        // which may have issued larger tokens meanwhile. This lease could break the order: drop it.
        redis.release(p.resource, leaseId).catch(() => undefined);
        if (this.#breaker.active !== "redis") return undefined;
        continue;
      }
      if (out.kind !== "epoch") {
        if (out.kind === "acquired") this.#epoch.seenToken(out.lease.fencingToken);
        return out;
      }
      if (stale) continue;
      await this.#epoch.repairRedisEpoch(epoch, out.seenEpoch, out.sameServer);
    }
    throw new LockBackendUnavailableError("could not agree on a fencing epoch with redis; retry shortly");
  }

  #backendOfLease(leaseId: string): LockBackend | undefined {
    if (leaseId.startsWith(LEASE_PREFIX.redis)) return this.#redis;
    if (leaseId.startsWith(LEASE_PREFIX.postgres)) return this.#postgres;
    return undefined;
  }

  #listSources(): LockBackend[] {
    const out: LockBackend[] = [];
    if (this.#redis && this.#breaker.active === "redis") out.push(this.#redis);
    if (this.#breaker.active === "postgres" || Date.now() < this.#postgresDrainUntil) out.push(this.#postgres);
    return out;
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
    setActiveBackend(this.#breaker.active);
  }

  /** checkNow runs one monitor pass now (tests, and the first scrape after start). */
  async checkNow(): Promise<void> {
    await this.#monitor();
  }
}

