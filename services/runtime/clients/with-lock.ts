// Using the LockService from another service: withLock() (acquire, auto-extend, abort on loss,
// release) over any LockService client, and checkFence(), which records a lease's fencing token in
// the writer's own transaction so a holder that lost its lease cannot write (DESIGN.md invariant 2).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, createHandlerContext } from "@connectrpc/connect";
import { sql, type Kysely, type Transaction } from "kysely";
import { Counter } from "prom-client";
import {
  AcquireRequestSchema,
  ExtendRequestSchema,
  LockService,
  ReleaseRequestSchema,
  type AcquireRequest,
  type AcquireResponseSchema,
  type ExtendRequest,
  type ExtendResponseSchema,
  type ReleaseRequest,
  type ReleaseResponseSchema,
} from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { principalKey, type Principal } from "../auth/principal.js";
import { AbortedError } from "../errors.js";
import { metricsRegistry } from "../observability/metrics.js";

/** fencingRejectionsTotal is `fencing_rejections_total`: writes refused by checkFence() because a newer token was seen. */
export const fencingRejectionsTotal = new Counter({
  name: "fencing_rejections_total",
  help: "Writes refused by checkFence() because a newer fencing token had been recorded for the resource.",
  registers: [metricsRegistry],
});

/** LeaseShape is the part of a Lease message withLock needs (generated messages and init shapes fit). */
export interface LeaseShape {
  /** leaseId identifies the lease. */
  leaseId: string;
  /** fencingToken is the lease's fencing token. */
  fencingToken: bigint;
  /** expiresAt is when the lease ends unless extended. */
  expiresAt?: Timestamp | MessageInitShape<typeof import("@bufbuild/protobuf/wkt").TimestampSchema>;
}

/** LockCallOptions are per-call options; a Connect client's CallOptions fit. */
export interface LockCallOptions {
  /** signal cancels the call. */
  signal?: AbortSignal;
  /** timeoutMs is the call's deadline. */
  timeoutMs?: number;
}

/**
 * LockClient is what withLock() needs of a LockService client: a Connect client from
 * `createClient(LockService, transport)` fits, and so does createLocalLockClient() over the class.
 */
export interface LockClient {
  /** acquire takes a lease. */
  acquire(req: AcquireRequest, opts?: LockCallOptions): Promise<{ lease?: LeaseShape }>;
  /** extend renews a lease. */
  extend(req: ExtendRequest, opts?: LockCallOptions): Promise<{ lease?: LeaseShape }>;
  /** release gives a lease back. */
  release(req: ReleaseRequest, opts?: LockCallOptions): Promise<{ released: boolean }>;
}

/** LockServiceLike is the LockService class (or anything with its handler signatures). */
export interface LockServiceLike {
  /** acquire as the ServiceImpl has it. */
  acquire(req: AcquireRequest, ctx: ReturnType<typeof createHandlerContext>): Promise<MessageInitShape<typeof AcquireResponseSchema>>;
  /** extend as the ServiceImpl has it. */
  extend(req: ExtendRequest, ctx: ReturnType<typeof createHandlerContext>): Promise<MessageInitShape<typeof ExtendResponseSchema>>;
  /** release as the ServiceImpl has it. */
  release(req: ReleaseRequest, ctx: ReturnType<typeof createHandlerContext>): Promise<MessageInitShape<typeof ReleaseResponseSchema>>;
}

/**
 * createLocalLockClient calls a LockService implementation in-process (as `npm start` mounts it),
 * as the given principal (default: a service caller), with the same errors a remote call would throw
 * (domain errors carry the same `code`).
 */
export function createLocalLockClient(impl: LockServiceLike, principal: Principal = { subject: "in-process", roles: ["service"], grantedRole: "service", ownOnly: false }): LockClient {
  const ctx = (method: (typeof LockService.methods)[number], opts?: LockCallOptions) => {
    const c = createHandlerContext({
      service: LockService,
      method,
      protocolName: "in-process",
      requestMethod: "POST",
      url: `/${LockService.typeName}/${method.name}`,
      requestSignal: opts?.signal,
      timeoutMs: opts?.timeoutMs,
    });
    c.values.set(principalKey, principal);
    return c;
  };
  return {
    acquire: async (req, opts) => {
      const res = await impl.acquire(req, ctx(LockService.method.acquire, opts));
      return { lease: res.lease as LeaseShape | undefined };
    },
    extend: async (req, opts) => {
      const res = await impl.extend(req, ctx(LockService.method.extend, opts));
      return { lease: res.lease as LeaseShape | undefined };
    },
    release: async (req, opts) => {
      const res = await impl.release(req, ctx(LockService.method.release, opts));
      return { released: res.released ?? false };
    },
  };
}

/** LockNotAcquiredError is withLock() not getting the lease within waitTimeout: ABORTED, retry later. */
export class LockNotAcquiredError extends AbortedError {
  constructor(resource: string, options?: { cause?: unknown }) {
    super("LOCK_NOT_ACQUIRED", `could not acquire the lock on ${JSON.stringify(resource)}: it is held by another; retry later`);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** LockLostError is the lease lost while withLock()'s function ran (expired, taken over, backend down): ABORTED. */
export class LockLostError extends AbortedError {
  constructor(resource: string, options?: { cause?: unknown }) {
    super("LOCK_LOST", `the lock on ${JSON.stringify(resource)} was lost while held; the work was aborted, retry it`);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** FencingRejectedError is checkFence() seeing a token not newer than the last recorded one: ABORTED. */
export class FencingRejectedError extends AbortedError {
  constructor(resource: string, token: bigint) {
    super("FENCING_REJECTED", `fencing token ${token} for ${JSON.stringify(resource)} is older than one already used: this holder lost its lease`);
  }
}

/** HeldLease is what withLock() hands its function. */
export interface HeldLease {
  /** resource is the locked key. */
  resource: string;
  /** leaseId identifies the lease. */
  leaseId: string;
  /** fencingToken goes to checkFence() in every write made under the lock. */
  fencingToken: bigint;
  /** signal aborts when the lease is lost (reason: LockLostError) or the caller's signal aborts. */
  signal: AbortSignal;
}

/** WithLockOptions tunes withLock(). */
export interface WithLockOptions {
  /** ttlMs is the lease's time to live (default 10 s); it is extended every ttlMs / 3. */
  ttlMs?: number;
  /** waitTimeoutMs is how long to wait for a held lock (default 0: try once). */
  waitTimeoutMs?: number;
  /** owner is shown to operators. */
  owner?: string;
  /** signal cancels the whole thing (e.g. the incoming call's signal). */
  signal?: AbortSignal;
  /** callTimeoutMs bounds each acquire/extend/release call beyond the wait (default 5 s). */
  callTimeoutMs?: number;
}

function codeOf(err: unknown): Code | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === "number" ? (c as Code) : undefined;
}

function expiryMs(lease: LeaseShape, fallback: number): number {
  const e = lease.expiresAt;
  if (!e) return fallback;
  if ("$typeName" in e) return timestampDate(e as Timestamp).getTime();
  return Number(e.seconds ?? 0n) * 1000 + Math.trunc((e.nanos ?? 0) / 1e6);
}

/**
 * withLock runs fn while holding the lease on resource: it acquires (waiting up to waitTimeoutMs;
 * LockNotAcquiredError when it stays held), extends every ttl/3, aborts fn's signal with LockLostError
 * when an extend says the lease is lost or the lease runs out without a successful extend, and
 * releases at the end. If the lease was lost, withLock throws LockLostError even when fn returned:
 * its fenced writes were (or will be) rejected.
 */
export async function withLock<T>(client: LockClient, resource: string, fn: (lease: HeldLease) => Promise<T>, opts: WithLockOptions = {}): Promise<T> {
  const ttlMs = opts.ttlMs ?? 10_000;
  const callTimeoutMs = opts.callTimeoutMs ?? 5_000;
  const started = Date.now();
  let acquired: { lease?: LeaseShape };
  try {
    acquired = await client.acquire(
      create(AcquireRequestSchema, { resource, owner: opts.owner ?? "", ttl: durationFromMs(ttlMs), waitTimeout: durationFromMs(opts.waitTimeoutMs ?? 0) }),
      { signal: opts.signal, timeoutMs: (opts.waitTimeoutMs ?? 0) + callTimeoutMs },
    );
  } catch (err) {
    if (codeOf(err) === Code.Aborted) throw new LockNotAcquiredError(resource, { cause: err });
    throw err;
  }
  const lease = acquired.lease;
  if (!lease) throw new LockNotAcquiredError(resource);
  const leaseId = lease.leaseId;
  // Count the lease from before the acquire call: never later than the server's expiry.
  let expiresAt = Math.min(expiryMs(lease, started + ttlMs), started + ttlMs);

  const lost = new AbortController();
  let lostError: LockLostError | undefined;
  const loseLease = (cause?: unknown) => {
    if (lostError) return;
    lostError = new LockLostError(resource, { cause });
    lost.abort(lostError);
  };
  const signal = opts.signal ? AbortSignal.any([lost.signal, opts.signal]) : lost.signal;

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    // Extend at a third of the ttl, or sooner when the last extend failed and time is short.
    const delay = Math.max(5, Math.min(ttlMs / 3, (expiresAt - Date.now()) / 2));
    timer = setTimeout(() => void extendOnce(), delay);
  };
  const extendOnce = async () => {
    if (stopped) return;
    // Even when the local estimate says the lease ran out (a stalled event loop), ask: extend is
    // compare-and-expire on the lease id, so it only succeeds if nobody took the lease meanwhile.
    const sent = Date.now();
    try {
      const res = await client.extend(create(ExtendRequestSchema, { resource, leaseId, ttl: durationFromMs(ttlMs) }), {
        timeoutMs: Math.max(50, Math.min(callTimeoutMs, expiresAt - Date.now())),
      });
      expiresAt = Math.min(res.lease ? expiryMs(res.lease, sent + ttlMs) : sent + ttlMs, sent + ttlMs);
    } catch (err) {
      if (codeOf(err) === Code.FailedPrecondition || codeOf(err) === Code.NotFound) return loseLease(err);
      // Transient (unavailable, deadline): try again while the lease may still be ours.
      if (stopped) return;
      if (Date.now() >= expiresAt) return loseLease(err);
    }
    schedule();
  };
  schedule();

  try {
    const result = await fn({ resource, leaseId, fencingToken: lease.fencingToken, signal });
    if (lostError) throw lostError;
    return result;
  } catch (err) {
    if (lostError && err !== lostError) throw lostError;
    throw err;
  } finally {
    stopped = true;
    clearTimeout(timer);
    if (!lostError) {
      await client
        .release(create(ReleaseRequestSchema, { resource, leaseId }), { timeoutMs: callTimeoutMs })
        .catch(() => undefined); // the lease expires by itself
    }
  }
}

/**
 * fenceTokensTableSql is the DDL of `<schema>.fence_tokens`, for a service's migration: one row per
 * resource with the newest fencing token any writer recorded.
 */
export function fenceTokensTableSql(schema: string) {
  return sql`create table if not exists ${sql.id(schema, "fence_tokens")} (
    resource text primary key,
    last_token numeric(20, 0) not null check (last_token >= 0),
    updated_at timestamptz not null default now()
  )`;
}

/**
 * fenceUpsertSql is checkFence's conditional upsert as a statement: it records `token` for
 * `resource` in `<schema>.fence_tokens` when it is larger than the last one recorded and then
 * returns one row (`ok`); when a newer token was seen it returns none. `from` names a CTE of the
 * caller's statement to select the values from (so the upsert runs only if that CTE has a row);
 * without it the values stand alone.
 */
export function fenceUpsertSql(schema: string, resource: string, token: bigint, from?: string) {
  const source = from ? sql`select ${resource}, ${token.toString()}::numeric, now() from ${sql.id(from)}` : sql`values (${resource}, ${token.toString()}::numeric, now())`;
  return sql<{ ok: number }>`insert into ${sql.id(schema, "fence_tokens")} as f (resource, last_token, updated_at)
    ${source}
    on conflict (resource) do update set last_token = excluded.last_token, updated_at = now()
    where f.last_token < excluded.last_token
    returning 1 as ok`;
}

/**
 * checkFence records `token` for `resource` in `<schema>.fence_tokens` inside the caller's
 * transaction, when it is larger than the last one recorded (`... WHERE last_token < $token`);
 * otherwise it counts fencing_rejections_total and throws FencingRejectedError (ABORTED), so the
 * caller's transaction rolls back. Concurrent writers serialize on the row.
 */
export async function checkFence(trx: Transaction<any> | Kysely<any>, resource: string, token: bigint, opts: { schema: string }): Promise<void> {
  const { rows } = await fenceUpsertSql(opts.schema, resource, token).execute(trx);
  if (rows.length === 0) {
    fencingRejectionsTotal.inc();
    throw new FencingRejectedError(resource, token);
  }
}
