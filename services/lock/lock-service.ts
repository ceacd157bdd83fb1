import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Redis } from "ioredis";
import type { Kysely } from "kysely";
import {
  LockService,
  type AcquireRequest,
  type AcquireResponseSchema,
  type AdvanceEpochRequest,
  type AdvanceEpochResponseSchema,
  type ExtendRequest,
  type ExtendResponseSchema,
  type ForceReleaseRequest,
  type ForceReleaseResponseSchema,
  type ListLocksRequest,
  type ListLocksResponseSchema,
  type ReleaseRequest,
  type ReleaseResponseSchema,
} from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { callerOf } from "../runtime/caller.js";
import { systemClock, type Clock } from "../runtime/clock.js";
import type { Config } from "../runtime/config.js";
import type { Logger } from "../runtime/observability/logger.js";
import { definePageKind, ephemeralPageTokenSecret, PageTokens } from "../runtime/page-token.js";
import { LockManager } from "./lock-manager.js";
import { toLease } from "./mappers/lease.mapper.js";
import { LockBackendUnavailableError } from "./lock.errors.js";
import {
  validateAcquire,
  validateAdvanceEpoch,
  validateExtend,
  validateForceRelease,
  validateListLocks,
  validateRelease,
} from "./lock.validation.js";
import { PostgresLockBackend } from "./postgres-lock.backend.js";
import { RedisLockBackend } from "./redis-lock.backend.js";

/** LockServiceDeps are the LockServiceImpl's dependencies (ServiceDeps fits). */
export interface LockServiceDeps {
  /** db holds the lock schema; without it (and without `manager`) well-formed calls are UNAVAILABLE. */
  db?: Kysely<any>;
  /** redis is the lock Redis; unset means the Postgres backend only. */
  redis?: Redis;
  /** clock tells the time (lease ages, the stuck flag); the system clock by default. */
  clock?: Clock;
  /** logger logs backend switches and epoch changes. */
  logger?: Logger;
  /** config gives LOCK_STUCK_AFTER. */
  config?: Pick<Config, "lockStuckAfterMs">;
  /** manager replaces the LockManager built from db and redis (tests tune its timings). */
  manager?: LockManager;
  /** pageTokens seal ListLocks' page tokens (default: a random key of this process). */
  pageTokens?: PageTokens;
}

/** createLockManager builds the LockManager over the Postgres backend and, with a Redis client, the Redis backend. */
export function createLockManager(deps: Required<Pick<LockServiceDeps, "db">> & LockServiceDeps & { tuning?: Partial<ConstructorParameters<typeof LockManager>[0]> }): LockManager {
  return new LockManager({
    db: deps.db,
    postgres: new PostgresLockBackend(deps.db),
    redis: deps.redis ? new RedisLockBackend(deps.redis) : undefined,
    clock: deps.clock,
    logger: deps.logger,
    stuckAfterMs: deps.config?.lockStuckAfterMs,
    ...deps.tuning,
  });
}

/** LOCKS_PAGE is ListLocks' page token: an offset into the leases held, oldest first, bound to the prefix. */
export const LOCKS_PAGE = definePageKind(LockService.method.listLocks, { offset: "offset" });

/**
 * LockServiceImpl serves medschedule.lock.v1.LockService over a LockManager: leases with fencing
 * tokens on Redis (Postgres as fallback and in embedded mode). Every RPC validates its request first
 * (INVALID_ARGUMENT naming every bad field; bad input never changes state).
 */
export class LockServiceImpl implements ServiceImpl<typeof LockService> {
  /** clock tells the time. */
  protected readonly clock: Clock;
  /** manager is the lock domain, or undefined when the service was built without a database. */
  readonly manager: LockManager | undefined;
  readonly #pageTokens: PageTokens;

  constructor(deps: LockServiceDeps = {}) {
    this.clock = deps.clock ?? systemClock;
    this.#pageTokens = deps.pageTokens ?? new PageTokens(ephemeralPageTokenSecret());
    this.manager = deps.manager ?? (deps.db ? createLockManager({ ...deps, db: deps.db }) : undefined);
    void this.manager?.start().catch(() => undefined);
  }

  #manager(): LockManager {
    if (!this.manager) throw new LockBackendUnavailableError("the lock service has no database configured");
    return this.manager;
  }

  /** acquire takes the lease on a resource, waiting up to waitTimeout (ABORTED when it stays held). */
  async acquire(req: AcquireRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof AcquireResponseSchema>> {
    const v = validateAcquire(req);
    const lease = await this.#manager().acquire({
      resource: v.resource,
      owner: v.owner ?? callerOf(ctx).subject,
      ttlMs: v.ttlMs,
      waitTimeoutMs: v.waitTimeoutMs,
      // Only a waiting acquire watches the call's cancellation: asking for ctx.signal makes the server
      // arm a deadline timer and listeners for the call, a cost a try-lock has no use for.
      signal: v.waitTimeoutMs > 0 ? ctx.signal : undefined,
    });
    return { lease: toLease(lease) };
  }

  /** release gives back the caller's own lease; released is false when it is not held. */
  async release(req: ReleaseRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ReleaseResponseSchema>> {
    const v = validateRelease(req);
    return { released: await this.#manager().release(v.resource, v.leaseId) };
  }

  /** extend moves a held lease's expiry to now + ttl (FAILED_PRECONDITION when the lease was lost). */
  async extend(req: ExtendRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ExtendResponseSchema>> {
    const v = validateExtend(req);
    return { lease: toLease(await this.#manager().extend(v.resource, v.leaseId, v.ttlMs)) };
  }

  /** listLocks lists the leases held now, oldest first, with their age and the stuck flag. */
  async listLocks(req: ListLocksRequest, _ctx: HandlerContext): Promise<MessageInitShape<typeof ListLocksResponseSchema>> {
    const v = validateListLocks(req);
    const offset = this.#pageTokens.open(LOCKS_PAGE, v.pageToken, [v.prefix])?.offset ?? 0;
    const manager = this.#manager();
    const page = await manager.list(v.prefix, offset, v.pageSize);
    const now = this.clock.now().getTime();
    return {
      locks: page.leases.map((l) => {
        const heldMs = Math.max(0, now - l.acquiredAt.getTime());
        return { lease: toLease(l), heldFor: durationFromMs(heldMs), stuck: heldMs > manager.stuckAfterMs };
      }),
      nextPageToken: page.more ? this.#pageTokens.seal(LOCKS_PAGE, { offset: offset + page.leases.length }, [v.prefix]) : "",
    };
  }

  /** forceRelease drops whatever lease is held on a resource (admin only, audited with the reason). */
  async forceRelease(req: ForceReleaseRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof ForceReleaseResponseSchema>> {
    const v = validateForceRelease(req);
    return { released: await this.#manager().forceRelease(v.resource, callerOf(ctx), v.reason) };
  }

  /** advanceEpoch moves the fencing epoch past every token issued before (service only, audited). */
  async advanceEpoch(req: AdvanceEpochRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof AdvanceEpochResponseSchema>> {
    const v = validateAdvanceEpoch(req);
    const r = await this.#manager().advanceEpoch(callerOf(ctx), v.reason);
    return { previousEpoch: BigInt(r.previous), epoch: BigInt(r.epoch) };
  }

  /** close stops the lock manager's background work (monitor, heartbeat, subscriptions). */
  async close(): Promise<void> {
    await this.manager?.close();
  }
}
