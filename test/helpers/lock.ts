// Test helpers for the lock service: its schema on a fresh real Postgres database (or PGlite), a
// LockServiceImpl over it, optionally a real Redis, and a handler context with a principal.
import type { HandlerContext } from "@connectrpc/connect";
import { testContext } from "./handler-context.js";
import type { DescMethod } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { lockModule } from "../../services/lock/lock.module.js";
import { createLockManager, LockServiceImpl } from "../../services/lock/lock-service.js";
import type { LockManagerOptions } from "../../services/lock/lock-manager.js";
import type { Principal } from "../../services/runtime/auth/principal.js";
import { type DatabaseConnection } from "../../services/runtime/db/index.js";
import { redisOptions } from "../../services/runtime/clients/redis.js";
import { type TeardownHost } from "./postgres.js";
import { createModuleDatabase } from "./module-database.js";

/** openLockDatabase opens a fresh real Postgres database (or PGlite with `embedded`) with the lock schema migrated. */
export async function openLockDatabase(t: TeardownHost, opts: { embedded?: boolean } = {}): Promise<DatabaseConnection> {
  return createModuleDatabase(t, [lockModule], opts.embedded ? { embedded: true } : { maxConnections: 20 });
}

/** connectRedis opens an ioredis client with the runtime's fail-fast options (`admin`: plain, queueing options), closed at teardown. */
export function connectRedis(t: TeardownHost, url: string, opts: { admin?: boolean } = {}): Redis {
  const redis = opts.admin ? new Redis(url, { maxRetriesPerRequest: 3 }) : new Redis(url, redisOptions());
  redis.on("error", () => undefined);
  t.teardown(() => redis.disconnect());
  return redis;
}

/** startLockService builds a LockServiceImpl over db (and redis), with fast breaker timings for tests; closed at teardown. */
export async function startLockService(
  t: TeardownHost,
  db: DatabaseConnection["db"],
  opts: { redis?: Redis; stuckAfterMs?: number; tuning?: Partial<LockManagerOptions> } = {},
): Promise<LockServiceImpl> {
  const manager = createLockManager({
    db,
    redis: opts.redis,
    config: { lockStuckAfterMs: opts.stuckAfterMs ?? 30_000 },
    tuning: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 300, probeIntervalMs: 100, monitorIntervalMs: 200, ...opts.tuning },
  });
  const svc = new LockServiceImpl({ manager });
  t.teardown(() => svc.close());
  await manager.start();
  return svc;
}

/** lockCtx returns a handler context for a LockService method, called by `principal` (default: a service). */
export function lockCtx(method: DescMethod, principal: Partial<Principal> = {}, signal?: AbortSignal): HandlerContext {
  return testContext(method, { principal: { subject: "svc-test", roles: ["service"], grantedRole: "service", ownOnly: false, ...principal }, signal });
}
