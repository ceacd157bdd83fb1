// The provider's lock: every write that gives or takes a provider's time runs under it (withLock,
// through the LockService), and the first statement of its transaction records the lock's fencing
// token (checkFence) together with the requestId claim (claim), so a writer whose lease lapsed is
// refused rather than writing over a newer one. Without the lock (useLock false) the exclusion
// constraints alone decide.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { callerOf } from "../runtime/caller.js";
import { outgoingCallOptions } from "../runtime/clients/grpc-transport.js";
import { RequestInProgressError, type RequestKey } from "../runtime/idempotency.js";
import type { Peers } from "../runtime/clients/peers.js";
import { checkFence, fencingRejectionsTotal, FencingRejectedError, withLock, type LockClient } from "../runtime/clients/with-lock.js";
import type { Db } from "./db/database.js";
import type { ReasonVault } from "./reason-vault.js";
import { claimAndFence } from "./repositories/booking.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { lockTimeoutError, peerError, peerUnreachableError } from "./scheduling.errors.js";
import type { SchedulingOptions } from "./scheduling-options.js";

/** SCHEDULING_SCHEMA holds the service's tables, fence tokens included. */
export const SCHEDULING_SCHEMA = "scheduling";

/** ProviderLock takes a provider's lock for a write and checks its fencing token in the write's transaction. */
export class ProviderLock {
  constructor(
    private readonly options: SchedulingOptions,
    private readonly peers: Peers | undefined,
    /** lockClientOverride replaces the LockService client (tests calling the class directly). */
    private readonly lockClientOverride: LockClient | undefined,
    /** reasons open the stored responses of requestIds. */
    private readonly reasons: ReasonVault,
  ) {}

  /** resource is the lock's resource name of a provider. */
  resource(providerId: string): string {
    return `scheduling:provider:${providerId}`;
  }

  /**
   * lockTimeoutMs bounds row waits: past it the transaction fails 55P03 and the caller gets ABORTED.
   * Without the provider lock, racing bookings wait on each other's rows (exclusion checks, the change
   * counter) and may form cycles; a short bound ends those faster than deadlock detection does.
   */
  lockTimeoutMs(): number {
    return this.options.useLock ? Math.max(this.options.lockWaitMs, 100) : 100;
  }

  /**
   * under runs fn under the provider's lock (withLock: ABORTED when it stays held past lockWaitMs)
   * and hands it the fencing token for checkFence; without the lock (useLock false) fn gets no token
   * and the exclusion constraints alone decide.
   */
  async under<T>(ctx: HandlerContext | undefined, providerId: string, fn: (token: bigint | undefined) => Promise<T>): Promise<T> {
    if (!this.options.useLock) return fn(undefined);
    try {
      return await withLock(this.lockClient(ctx), this.resource(providerId), (lease) => fn(lease.fencingToken), {
        ttlMs: this.options.lockTtlMs,
        waitTimeoutMs: this.options.lockWaitMs,
        owner: "scheduling",
        signal: ctx?.signal,
      });
    } catch (err) {
      // The lock service not answering within withLock's own call timeout, while this call still has
      // time, is contention on a busy lock service: retryable, like a lock held past waitTimeout.
      const left = ctx?.timeoutMs();
      if (err instanceof ConnectError && err.code === Code.DeadlineExceeded && (left === undefined || left > 0)) {
        throw lockTimeoutError();
      }
      throw peerError(err);
    }
  }

  /** checkFence records the token in the transaction (FencingRejectedError, ABORTED, when a newer one was recorded); nothing without the lock. */
  async checkFence(trx: Db, providerId: string, token: bigint | undefined): Promise<void> {
    if (token !== undefined) await checkFence(trx, this.resource(providerId), token, { schema: SCHEDULING_SCHEMA });
  }

  /** fence is what bookAtomically records under the lock: the schema, resource and token (undefined without the lock). */
  fence(providerId: string, token: bigint | undefined): { schema: string; resource: string; token: bigint } | undefined {
    return token === undefined ? undefined : { schema: SCHEDULING_SCHEMA, resource: this.resource(providerId), token };
  }

  /** fencedOut is the error for a write whose token a newer one overtook (counted in fencing_rejections_total). */
  fencedOut(providerId: string, token: bigint | undefined): FencingRejectedError {
    fencingRejectionsTotal.inc();
    return new FencingRejectedError(this.resource(providerId), token ?? 0n);
  }

  /**
   * claim is the first statement of a write transaction (transaction with `claims`): lock_timeout,
   * checkFence when under the lock (FencingRejectedError, ABORTED, when a newer token was recorded)
   * and the requestId claim. Returns the first response when a concurrent call with the requestId
   * committed first (or ALREADY_EXISTS with other parameters), undefined when this call owns the key.
   */
  async claim<S extends DescMessage>(
    trx: Db,
    key: RequestKey,
    hash: string,
    at: Date,
    schema: S,
    fence: { providerId: string; token: bigint | undefined },
  ): Promise<MessageShape<S> | undefined> {
    const r = await claimAndFence(trx, { key, hash, at, fence: this.fence(fence.providerId, fence.token), lockTimeoutMs: this.lockTimeoutMs() });
    if (!r.fenced) throw this.fencedOut(fence.providerId, fence.token);
    if (r.claimed) return undefined;
    const existing = await REQUEST_KEYS.find(trx, key);
    if (!existing) throw new RequestInProgressError();
    return this.reasons.replay(schema, key, hash, existing);
  }

  /** lockClient is the LockService client for a call, carrying its request id and end user. */
  private lockClient(ctx: HandlerContext | undefined): LockClient {
    if (this.lockClientOverride) return this.lockClientOverride;
    if (!this.peers) throw peerUnreachableError("lock");
    const peer = this.peers.client(LockService);
    const headers = ctx ? outgoingCallOptions(ctx, { onBehalfOf: callerOf(ctx).subject }).headers : {};
    return {
      acquire: (r, o) => peer.acquire(r, { ...o, headers }),
      extend: (r, o) => peer.extend(r, { ...o, headers }),
      release: (r, o) => peer.release(r, { ...o, headers }),
    };
  }
}
