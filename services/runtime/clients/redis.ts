// The process's Redis client (the lock Redis): from REDIS_URL, or from REDIS_SENTINELS with
// REDIS_SENTINEL_NAME. Tuned so that a dead or frozen Redis fails fast instead of queueing commands:
// callers (the lock service's circuit breaker) fall back to Postgres and probe until it answers.
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config.js";
import type { Logger } from "../observability/logger.js";

/** REDIS_CONNECT_TIMEOUT_MS bounds opening a connection. */
export const REDIS_CONNECT_TIMEOUT_MS = 1_000;
/** REDIS_COMMAND_TIMEOUT_MS bounds every command: a frozen (SIGSTOPped) server fails within it. */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

/** redisOptions returns the ioredis options MedSchedule uses: fail fast, reconnect forever with a short backoff. */
export function redisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // No queue while disconnected: a command fails at once and the caller decides (fallback, retry).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command sent before a reconnect is never replayed on the new server (it may be another one).
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(50 * times, 500),
    enableReadyCheck: true,
    lazyConnect: false,
    ...overrides,
  };
}

/** isRedisConfigured tells whether the config names a Redis (REDIS_URL or Sentinels). */
export function isRedisConfigured(config: Pick<Config, "redisUrl" | "redisSentinels" | "redisSentinelName">): boolean {
  return Boolean(config.redisUrl) || (config.redisSentinels.length > 0 && Boolean(config.redisSentinelName));
}

/**
 * createRedis opens the configured Redis (REDIS_URL, or REDIS_SENTINELS + REDIS_SENTINEL_NAME), or
 * returns undefined when none is configured. It returns at once; the connection comes up in the
 * background and errors are logged (rate-limited), never thrown.
 */
export function createRedis(
  config: Pick<Config, "redisUrl" | "redisSentinels" | "redisSentinelName" | "redisPassword">,
  opts: { logger?: Logger; connectionName?: string } = {},
): Redis | undefined {
  if (!isRedisConfigured(config)) return undefined;
  // REDIS_PASSWORD for the data nodes and the Sentinels (a password inside REDIS_URL takes precedence).
  const password = config.redisPassword ? { password: config.redisPassword, sentinelPassword: config.redisPassword } : {};
  const base = redisOptions({ connectionName: opts.connectionName ?? "medschedule", ...password });
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, base)
    : new Redis({
        ...base,
        sentinels: config.redisSentinels.map((a) => {
          const i = a.lastIndexOf(":");
          return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
        }),
        name: config.redisSentinelName,
      });
  let lastLog = 0;
  redis.on("error", (err: Error) => {
    // ioredis emits an error per failed reconnect; one line every 10 s is enough.
    const now = Date.now();
    if (now - lastLog > 10_000) {
      lastLog = now;
      opts.logger?.warn({ err: err.message }, "redis connection error");
    }
  });
  return redis;
}

/** closeRedis disconnects a client without waiting for a dead server. */
export async function closeRedis(redis: Redis | undefined): Promise<void> {
  if (!redis) return;
  if (redis.status === "end") return;
  try {
    await Promise.race([redis.quit(), new Promise((r) => setTimeout(r, 500).unref())]);
  } catch {
    // already closed or unreachable
  }
  redis.disconnect();
}
