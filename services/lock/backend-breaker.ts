import type { Logger } from "../runtime/observability/logger.js";
import type { FencingEpoch } from "./fencing-epoch.js";
import type { BackendKind, EpochBoundBackend } from "./lock-backend.port.js";
import { LockBackendUnavailableError } from "./lock.errors.js";
import { setActiveBackend } from "./lock.metrics.js";

/** callPostgres runs a call to the Postgres backend; any failure becomes LockBackendUnavailableError (UNAVAILABLE). */
export async function callPostgres<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new LockBackendUnavailableError("the Postgres lock backend is unavailable; retry shortly", { cause: err });
  }
}

/** BackendBreakerOptions configure a BackendBreaker. */
export interface BackendBreakerOptions {
  /** redis is the Redis backend, when one is configured. */
  redis?: EpochBoundBackend;
  /** epoch is bumped on every switch, and verified on Redis by the heartbeat. */
  epoch: FencingEpoch;
  /** logger logs the switches. */
  logger: Logger;
  /** heartbeatTimeoutMs fails a ping: a frozen Redis is left within about a second. */
  heartbeatTimeoutMs: number;
}

/**
 * BackendBreaker chooses the lock backend in use: Redis while Redis answers, Postgres when it does
 * not (a circuit breaker: any Redis error or a missed heartbeat opens it; a probe closes it again),
 * bumping the fencing epoch on every switch before the other backend issues a token.
 */
export class BackendBreaker {
  readonly #redis: EpochBoundBackend | undefined;
  readonly #epoch: FencingEpoch;
  readonly #logger: Logger;
  readonly #heartbeatTimeoutMs: number;
  #active: BackendKind = "postgres";
  /** Settles once Postgres may issue tokens (after the switch bump). */
  #postgresReady: Promise<void> = Promise.resolve();
  #switching: Promise<void> | undefined;
  /** Set while the switch to Redis runs (bump, record): Postgres acquires wait for it. */
  #activating: Promise<void> | undefined;
  #closed = false;
  readonly #unsubscribe: (() => void) | undefined;

  constructor(opts: BackendBreakerOptions) {
    this.#redis = opts.redis;
    this.#epoch = opts.epoch;
    this.#logger = opts.logger;
    this.#heartbeatTimeoutMs = opts.heartbeatTimeoutMs;
    this.#unsubscribe = this.#redis?.onConnection((event) => {
      if (this.#closed) return;
      if (event === "close" && this.#active === "redis") this.trip(new Error("redis connection closed"));
      // A (re)connection may reach another server: check the epoch record before trusting it.
      this.#epoch.redisReconnected();
    });
  }

  /** active is the backend in use now. */
  get active(): BackendKind {
    return this.#active;
  }

  /** activating is the switch to Redis while it runs: its epoch is not Postgres's to issue under. */
  get activating(): Promise<void> | undefined {
    return this.#activating;
  }

  /** onRedis tells whether Redis is the backend in use. */
  onRedis(): boolean {
    return this.#redis !== undefined && this.#active === "redis";
  }

  /** start takes up Redis when it answers within 2 s; otherwise Postgres serves, under a fresh epoch. */
  async start(): Promise<void> {
    if (!this.#redis) return;
    try {
      await this.activateRedis(2_000);
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, "redis not available at start: using the Postgres lock backend");
      this.#postgresReady = this.#bump("start without redis");
      await this.#postgresReady.catch(() => undefined);
    }
  }

  /** close stops the breaker: no more switches. */
  close(): void {
    this.#closed = true;
    this.#unsubscribe?.();
  }

  /** trip opens the breaker after a Redis failure: Postgres serves from now on, once the epoch moved past every Redis token. */
  trip(err: unknown): void {
    if (!this.#redis || this.#active !== "redis" || this.#closed) return;
    this.#active = "postgres";
    this.#epoch.forgetRedisEpoch();
    setActiveBackend("postgres");
    this.#logger.warn({ err: (err as Error)?.message ?? String(err) }, "redis failed: switching the lock backend to Postgres");
    // No Postgres token before the epoch moved past every Redis token.
    this.#postgresReady = this.#bump("switch to the postgres backend");
    this.#postgresReady.catch(() => undefined);
  }

  /** tick is one heartbeat of Redis while in use (a failure trips the breaker), or one probe of it while not. */
  async tick(): Promise<void> {
    if (this.#closed || !this.#redis || this.#switching) return;
    this.#switching = (async () => {
      if (this.#active === "redis") {
        try {
          await this.#redis!.ping(this.#heartbeatTimeoutMs);
          if (this.#epoch.redisEpoch === undefined) await this.#epoch.verifiedRedisEpoch();
        } catch (err) {
          this.trip(err);
        }
      } else {
        try {
          await this.ensurePostgresReady();
          await this.activateRedis();
        } catch {
          // still down: the next tick probes again
        }
      }
    })().finally(() => {
      this.#switching = undefined;
    });
    await this.#switching;
  }

  /** ensurePostgresReady waits for the switch-to-Postgres bump; if it failed (Postgres was down too), bumps again. */
  async ensurePostgresReady(): Promise<void> {
    const pending = this.#postgresReady;
    try {
      await pending;
    } catch {
      if (this.#postgresReady === pending) {
        this.#postgresReady = this.#bump("switch to the postgres backend (retry)");
        this.#postgresReady.catch(() => undefined);
      }
      await callPostgres(() => this.#postgresReady);
    }
  }

  /** activateRedis switches to Redis once it answers a ping: a fresh epoch is bumped and recorded there first. */
  async activateRedis(pingTimeoutMs = this.#heartbeatTimeoutMs): Promise<void> {
    await this.#redis!.ping(pingTimeoutMs);
    const activation = (async () => {
      this.#epoch.forgetRedisEpoch();
      await this.#epoch.freshRedisEpoch("switch to the redis backend");
      this.#active = "redis";
      setActiveBackend("redis");
      this.#logger.info({ epoch: this.#epoch.redisEpoch }, "lock backend: redis");
    })();
    this.#activating = activation;
    try {
      await activation;
    } finally {
      if (this.#activating === activation) this.#activating = undefined;
    }
  }

  async #bump(reason: string): Promise<void> {
    await this.#epoch.bump(reason);
  }
}
