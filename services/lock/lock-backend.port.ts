// The port between the lock domain (LockManager) and where leases are kept. Two adapters implement
// it: RedisLockBackend (ioredis, one Lua script per operation) and PostgresLockBackend (a lease
// table with row checks). The domain never imports ioredis or pg.

/** BackendKind names a lock backend. */
export type BackendKind = "redis" | "postgres";

/** LeaseRecord is a lease as a backend keeps it. */
export interface LeaseRecord {
  /** resource is the locked key. */
  resource: string;
  /** leaseId identifies the lease; release and extend act only when it matches. */
  leaseId: string;
  /** owner is who holds it, for operators. */
  owner: string;
  /** fencingToken is epoch * 2^32 + the per-resource counter. */
  fencingToken: bigint;
  /** acquiredAt is when the lease was taken (backend clock). */
  acquiredAt: Date;
  /** expiresAt is when it ends unless extended (backend clock). */
  expiresAt: Date;
  /** backend is the backend that issued it. */
  backend: BackendKind;
}

/** AcquireOutcome is what one acquire attempt on a backend found. */
export type AcquireOutcome =
  /** acquired: the lease is ours. */
  | { kind: "acquired"; lease: LeaseRecord }
  /** held: another live lease holds the resource; it ends in about retryAfterMs (-1 when unknown). */
  | { kind: "held"; retryAfterMs: number }
  /**
   * epoch: the backend cannot issue a token under the given epoch (its fencing state is missing,
   * from another server, or another epoch); `seenEpoch` is the epoch it records (0 when none) and
   * `sameServer` whether that record was written on the server answering now.
   */
  | { kind: "epoch"; seenEpoch: number; sameServer: boolean };

/** AcquireInput is one acquire attempt. */
export interface AcquireInput {
  /** resource to lock. */
  resource: string;
  /** leaseId is the new lease's id, chosen by the caller. */
  leaseId: string;
  /** owner is who asks. */
  owner: string;
  /** ttlMs is the lease's time to live. */
  ttlMs: number;
  /** epoch is the fencing epoch the caller verified for this backend. */
  epoch: number;
  /**
   * waitMs is how long the caller will wait for the resource if it is held (0 or absent: a
   * try-lock). A backend that notifies releases may notify only resources someone waits for.
   */
  waitMs?: number;
}

/** LockBackend is a place that keeps leases with fencing tokens. */
export interface LockBackend {
  /** kind names the backend. */
  readonly kind: BackendKind;
  /** acquire takes the lease if the resource is free (or its lease expired), atomically. */
  acquire(input: AcquireInput): Promise<AcquireOutcome>;
  /** release drops the lease only if `leaseId` holds it now (compare-and-delete); true when it did. */
  release(resource: string, leaseId: string): Promise<boolean>;
  /** extend sets a held lease's expiry to now + ttlMs (compare-and-expire); undefined when not held. */
  extend(resource: string, leaseId: string, ttlMs: number): Promise<LeaseRecord | undefined>;
  /** forceRelease drops whatever live lease holds the resource; returns it, or undefined when free. */
  forceRelease(resource: string): Promise<LeaseRecord | undefined>;
  /** holder returns the live lease on resource, if any. */
  holder(resource: string): Promise<LeaseRecord | undefined>;
  /** list returns live leases whose resource starts with prefix, oldest first, from offset. */
  list(prefix: string, offset: number, limit: number): Promise<LeaseRecord[]>;
  /** count returns how many leases are live, and how many of those were acquired before stuckBefore. */
  count(stuckBefore: Date): Promise<{ active: number; stuck: number }>;
  /**
   * onRelease registers a listener called with a resource when a lease on it is released here or
   * by another process (best effort: waiters also poll). Returns the unsubscribe function.
   */
  onRelease(listener: (resource: string) => void): () => void;
}

/**
 * EpochBoundBackend is a backend that keeps its own fencing counters apart from Postgres (Redis): it
 * issues tokens only under an epoch recorded on the very server answering, so the lock domain must
 * record a freshly bumped epoch there before it issues tokens (fencing-epoch.ts says why that is safe).
 */
export interface EpochBoundBackend extends LockBackend {
  /** ping resolves when the server answers within timeoutMs, else rejects. */
  ping(timeoutMs: number): Promise<void>;
  /** recordEpoch writes `epoch` with this server's identity, unless a larger epoch is recorded ("newer"). */
  recordEpoch(epoch: number): Promise<{ recorded: boolean; epoch: number }>;
  /** readEpochRecord returns the recorded epoch (0 when none) and whether it was recorded on this server. */
  readEpochRecord(): Promise<{ epoch: number; sameServer: boolean }>;
  /** onConnection registers a listener for (re)connections ("ready") and lost connections ("close"). */
  onConnection(listener: (event: "ready" | "close") => void): () => void;
  /** close stops the backend's own connections (not the client it was given). */
  close(): Promise<void>;
}

/** TOKEN_COUNTER_SPAN is 2^32: a fencing token is epoch * TOKEN_COUNTER_SPAN + counter. */
export const TOKEN_COUNTER_SPAN = 4294967296n;

/** fencingToken composes a fencing token from an epoch and a per-resource counter (1 to 2^32 - 1). */
export function fencingToken(epoch: number | bigint, counter: number | bigint): bigint {
  return BigInt(epoch) * TOKEN_COUNTER_SPAN + BigInt(counter);
}
