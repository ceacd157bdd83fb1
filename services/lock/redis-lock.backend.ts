// The Redis lock backend (ioredis). Every operation is one Lua script, so it is atomic on the server:
// acquire = epoch check + SET NX PX + increment of the per-resource fencing counter; release is
// compare-and-delete, extend compare-and-pexpire. Keys hold opaque resource keys only, never PHI:
//   mslock:lease:<resource>   the lease "<leaseId>\n<n>\n<acquired-at ms>\n<epoch>\n<owner>", with the
//                             lease's PX expiry (lines, not JSON: cjson was a tenth of a pair's Redis time)
//   mslock:fence:<resource>   the per-resource fencing counter {e: epoch, n} (restarts at 1 per epoch; never expires)
//   mslock:meta               "<epoch>:<run_id>": the epoch tokens are issued under, and the server
//   mslock:wait:<resource>    present while someone waits for the resource (PX = the longest wait)
//   channel mslock:released   publishes a resource when its lease is released and someone waits
// A release publishes only when the wait key is there: every subscribed replica receives every
// message, so publishing all releases cost Redis and each replica a message per release (the
// largest single cost of an uncontended pair). A waiter marks the key in the same script run that
// finds the resource held, so no release after that finding goes unannounced; the fallback poll
// covers a lost message either way.
// ListLocks and the lock monitor find leases with SCAN over mslock:lease:*, not through an index that
// every acquire and release would have to update (a sorted set cost Redis 15% of each pair): the
// monitor reads every few seconds, locks are taken and given back thousands of times a second.
// Every command of the hot path is written corked until the loop's check phase under load (#coalesceWrites).
import type { Socket } from "node:net";
import type { Redis } from "ioredis";
import { fencingToken, type AcquireInput, type AcquireOutcome, type EpochBoundBackend, type LeaseRecord } from "./lock-backend.port.js";

const PREFIX = "mslock:";
const META_KEY = `${PREFIX}meta`;
const LEASE_PREFIX = `${PREFIX}lease:`;
/** RELEASED_CHANNEL is the pub/sub channel a release publishes the resource on. */
export const RELEASED_CHANNEL = `${PREFIX}released`;
/** CORK_AT is how many commands must await replies before new ones are corked (measured best of 0, 4, 8, 12, 16). */
const CORK_AT = 8;
const leaseKey = (resource: string) => `${LEASE_PREFIX}${resource}`;
const fenceKey = (resource: string) => `${PREFIX}fence:${resource}`;
const waitKey = (resource: string) => `${PREFIX}wait:${resource}`;

// The epoch check: a token is only issued under the epoch recorded in mslock:meta. Which server wrote
// the record (the run_id after the colon) is checked by FencingEpoch with INFO when it verifies
// an epoch, once per connection (see fencing-epoch.ts): running INFO here, in every acquire, made the
// script ten times as expensive. A restarted server (empty, or from an AOF missing recent
// increments), a promoted replica or a flushed one is always reached over a new connection, whose
// verification fails until the service has bumped the epoch and written a fresh record here.
const EPOCH_CHECK = `
local meta = redis.call('GET', KEYS[3])
if not meta then return {'EPOCH', '0', ''} end
local sep = string.find(meta, ':', 1, true)
local mepoch = string.sub(meta, 1, sep - 1)
if mepoch ~= ARGV[4] then return {'EPOCH', mepoch, string.sub(meta, sep + 1)} end
`;

/**
 * ACQUIRE_LUA is the acquire script: epoch check, SET NX PX, counter increment (exported for the lock
 * benchmark). KEYS: lease, fence, meta, wait. ARGV: leaseId, owner, ttlMs, epoch, waitMs, now (the
 * client's clock when it sent the command: expiresAt = now + ttl is then never later than the key's
 * real expiry, which is what a holder must assume; Redis' TIME cost a tenth of the script).
 */
export const ACQUIRE_LUA = `${EPOCH_CHECK}
if redis.call('EXISTS', KEYS[1]) == 1 then
  local w = tonumber(ARGV[5])
  if w > 0 and redis.call('PTTL', KEYS[4]) < w then redis.call('SET', KEYS[4], '1', 'PX', w) end
  return {'HELD', tostring(redis.call('PTTL', KEYS[1]))}
end
local now = ARGV[6]
local n = 1
if redis.call('HGET', KEYS[2], 'e') == ARGV[4] then n = redis.call('HINCRBY', KEYS[2], 'n', 1) else redis.call('HSET', KEYS[2], 'e', ARGV[4], 'n', 1) end
if n >= 4294967296 then return {'EPOCH', mepoch, '0'} end
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. n .. '\\n' .. now .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[2], 'NX', 'PX', ARGV[3])
return {'OK', tostring(n)}
`;

// Whether lease value v belongs to lease id ARGV[1]: its first line is the id.
const IS_HOLDER = `local function holds(v) return v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '\\n' end`;

/**
 * RELEASE_LUA is the release script: compare-and-delete, and a notice on the channel when someone
 * waits (exported for the lock benchmark). KEYS: lease, wait. ARGV: leaseId, resource, channel.
 */
export const RELEASE_LUA = `${IS_HOLDER}
local v = redis.call('GET', KEYS[1])
if not holds(v) then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PUBLISH', ARGV[3], ARGV[2]) end
return 1
`;

// KEYS: lease. ARGV: leaseId, ttlMs. Returns the lease value (the caller's clock dates the expiry, as in acquire).
const EXTEND_LUA = `${IS_HOLDER}
local v = redis.call('GET', KEYS[1])
if not holds(v) then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
`;

// KEYS: lease. ARGV: resource, channel.
const FORCE_RELEASE_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
local t = redis.call('TIME')
return {v, tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl)}
`;

// KEYS: meta. ARGV: epoch. Records "<epoch>:<this server's run_id>" unless a larger epoch is there.
const SET_META_LUA = `
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local meta = redis.call('GET', KEYS[1])
if meta then
  local mepoch = tonumber(string.sub(meta, 1, string.find(meta, ':', 1, true) - 1))
  if mepoch and mepoch > tonumber(ARGV[1]) then return {'NEWER', tostring(mepoch), run} end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. run)
return {'OK', ARGV[1], run}
`;

// KEYS: lease keys. Returns the lease values and PTTLs ('' when expired) with the server time.
const FETCH_LUA = `
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then out[#out + 1] = v; out[#out + 1] = tostring(redis.call('PTTL', KEYS[i])) else out[#out + 1] = ''; out[#out + 1] = '' end
end
local t = redis.call('TIME')
out[#out + 1] = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return out
`;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

interface LockScripts {
  mslockAcquire: ScriptFn;
  mslockRelease: ScriptFn;
  mslockExtend: ScriptFn;
  mslockForceRelease: ScriptFn;
  mslockSetMeta: ScriptFn;
  mslockFetch: (numKeys: number, ...args: string[]) => Promise<unknown>;
}

function defineScripts(redis: Redis): LockScripts {
  const r = redis as unknown as Redis & Partial<LockScripts>;
  if (!r.mslockAcquire) {
    redis.defineCommand("mslockAcquire", { numberOfKeys: 4, lua: ACQUIRE_LUA });
    redis.defineCommand("mslockRelease", { numberOfKeys: 2, lua: RELEASE_LUA });
    redis.defineCommand("mslockExtend", { numberOfKeys: 1, lua: EXTEND_LUA });
    redis.defineCommand("mslockForceRelease", { numberOfKeys: 1, lua: FORCE_RELEASE_LUA });
    redis.defineCommand("mslockSetMeta", { numberOfKeys: 1, lua: SET_META_LUA });
    redis.defineCommand("mslockFetch", { lua: FETCH_LUA });
  }
  return r as unknown as LockScripts;
}

/** RedisLockBackend keeps leases in Redis; see the file comment for the keys. */
export class RedisLockBackend implements EpochBoundBackend {
  /** kind is "redis". */
  readonly kind = "redis" as const;
  readonly #redis: Redis;
  readonly #scripts: LockScripts;
  readonly #listeners = new Set<(resource: string) => void>();
  #subscriber: Redis | undefined;
  #corked: Socket | undefined;
  #inFlight = 0;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#scripts = defineScripts(redis);
  }

  /** redis is the client (for health probes). */
  get redis(): Redis {
    return this.#redis;
  }

  /**
   * coalesceWrites corks the connection until the loop's check phase (setImmediate) once CORK_AT
   * commands await replies, so the acquires and releases issued while the loop handles its I/O leave
   * in one write rather than one syscall each (those writes were half of the library's CPU). Not
   * until the end of the tick: gRPC calls arrive frame by frame and each frame's callback ends its
   * own tick, so a nextTick uncork wrote every call's command alone (the gRPC/no-op pair ratio at 64
   * clients went from a median 71% to 79% over 15 paired rounds each). Below CORK_AT commands go at
   * once: Redis works on them while this process prepares the next, where corking everything made
   * the two take turns (the library at 16 clients fell from about 40k to 18k pairs/s). Unlike
   * ioredis' autoPipelining it builds no Pipeline objects; the cost is at most one loop turn of
   * latency, and only under load.
   */
  #coalesceWrites(): void {
    if (this.#corked || this.#inFlight < CORK_AT) return;
    const stream = (this.#redis as unknown as { stream?: Socket }).stream;
    if (!stream || stream.destroyed || typeof stream.cork !== "function") return;
    this.#corked = stream;
    stream.cork();
    setImmediate(() => {
      this.#corked = undefined;
      stream.uncork();
    });
  }

  /** send issues one hot-path command (corked under load, see coalesceWrites) and counts it while it awaits its reply. */
  #send<T>(command: () => Promise<T>): Promise<T> {
    this.#coalesceWrites();
    this.#inFlight++;
    return command().finally(() => this.#inFlight--);
  }

  /** acquire runs the acquire script: epoch check, SET NX PX, counter INCR. */
  async acquire(input: AcquireInput): Promise<AcquireOutcome> {
    const sentAt = Date.now();
    const r = (await this.#send(() => this.#scripts.mslockAcquire(
      leaseKey(input.resource),
      fenceKey(input.resource),
      META_KEY,
      waitKey(input.resource),
      input.leaseId,
      input.owner,
      input.ttlMs,
      String(input.epoch),
      Math.ceil(input.waitMs ?? 0),
      sentAt,
    ))) as string[];
    if (r[0] === "EPOCH") return { kind: "epoch", seenEpoch: Number(r[1]), sameServer: r[2] !== "" && r[2] === (await this.#runId()) };
    if (r[0] === "HELD") return { kind: "held", retryAfterMs: Number(r[1]) };
    return {
      kind: "acquired",
      lease: {
        resource: input.resource,
        leaseId: input.leaseId,
        owner: input.owner,
        fencingToken: fencingToken(input.epoch, BigInt(r[1])),
        acquiredAt: new Date(sentAt),
        expiresAt: new Date(sentAt + input.ttlMs),
        backend: "redis",
      },
    };
  }

  /** release is compare-and-delete; on success it publishes the resource if someone waits for it. */
  async release(resource: string, leaseId: string): Promise<boolean> {
    return (await this.#send(() => this.#scripts.mslockRelease(leaseKey(resource), waitKey(resource), leaseId, resource, RELEASED_CHANNEL))) === 1;
  }

  /** extend is compare-and-pexpire. */
  async extend(resource: string, leaseId: string, ttlMs: number): Promise<LeaseRecord | undefined> {
    const sentAt = Date.now();
    const v = (await this.#scripts.mslockExtend(leaseKey(resource), leaseId, ttlMs)) as string | null;
    if (!v) return undefined;
    return this.#toLease(resource, v, sentAt + ttlMs);
  }

  /** forceRelease deletes whatever lease holds the resource. */
  async forceRelease(resource: string): Promise<LeaseRecord | undefined> {
    const r = (await this.#scripts.mslockForceRelease(leaseKey(resource), resource, RELEASED_CHANNEL)) as [string, string] | null;
    if (!r) return undefined;
    return this.#toLease(resource, r[0], Number(r[1]));
  }

  /** list returns the live leases whose resource starts with prefix, oldest first (a SCAN over the lease keys). */
  async list(prefix: string, offset: number, limit: number): Promise<LeaseRecord[]> {
    const live = await this.#live();
    return live.filter((l) => l.resource.startsWith(prefix)).slice(offset, offset + limit);
  }

  /** count counts live leases (and those acquired before stuckBefore). */
  async count(stuckBefore: Date): Promise<{ active: number; stuck: number }> {
    const live = await this.#live();
    return { active: live.length, stuck: live.filter((l) => l.acquiredAt < stuckBefore).length };
  }

  /** holder reads the live lease on resource. */
  async holder(resource: string): Promise<LeaseRecord | undefined> {
    const r = (await this.#scripts.mslockFetch(1, leaseKey(resource))) as string[];
    return r[0] ? this.#toLease(resource, r[0], Number(r[2]) + Number(r[1])) : undefined;
  }

  /** ping sends PING and rejects when no PONG comes within timeoutMs. */
  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const redis = this.#redis;
    // Still connecting (start-up, reconnect): give the connection the same time to become ready.
    const answered = async () => {
      if (redis.status === "connecting" || redis.status === "connect" || redis.status === "reconnecting") {
        await new Promise<void>((resolve, reject) => {
          const ok = () => {
            redis.off("error", fail);
            resolve();
          };
          const fail = (err: Error) => {
            redis.off("ready", ok);
            reject(err);
          };
          redis.once("ready", ok);
          redis.once("error", fail);
        });
      }
      await redis.ping();
    };
    // When the timer wins, the PING may still fail later (the connection drops): that is not news.
    const answer = answered();
    answer.catch(() => undefined);
    const sent = performance.now();
    try {
      await Promise.race([
        answer,
        new Promise((_, reject) => {
          const expire = (again: boolean) => {
            // Late by more than half a period: this process's event loop stalled (GC, a busy CPU),
            // not necessarily Redis. Give the answer one more period before calling Redis gone.
            if (!again && performance.now() - sent > timeoutMs * 1.5) {
              timer = setTimeout(() => expire(true), timeoutMs);
              return;
            }
            // Timers run before the loop reads its sockets: a PONG that arrived during a stall is
            // read in this turn's poll phase, so judge after it.
            setImmediate(() => reject(new Error(`redis did not answer PING within ${timeoutMs} ms`)));
          };
          timer = setTimeout(() => expire(false), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** recordEpoch writes "<epoch>:<run_id>" to mslock:meta unless a larger epoch is recorded. */
  async recordEpoch(epoch: number): Promise<{ recorded: boolean; epoch: number }> {
    const r = (await this.#scripts.mslockSetMeta(META_KEY, String(epoch))) as [string, string, string];
    return { recorded: r[0] === "OK", epoch: Number(r[1]) };
  }

  /** #runId is the run_id of the server answering now (INFO server). */
  async #runId(): Promise<string> {
    return /run_id:([0-9a-f]+)/.exec(await this.#redis.info("server"))?.[1] ?? "";
  }

  /** readEpochRecord compares mslock:meta's run_id with INFO server's run_id. */
  async readEpochRecord(): Promise<{ epoch: number; sameServer: boolean }> {
    const [meta, serverRunId] = await Promise.all([this.#redis.get(META_KEY), this.#runId()]);
    if (!meta) return { epoch: 0, sameServer: false };
    const i = meta.indexOf(":");
    return { epoch: Number(meta.slice(0, i)), sameServer: meta.slice(i + 1) === serverRunId };
  }

  /** onConnection forwards the client's "ready" and "close" events. */
  onConnection(listener: (event: "ready" | "close") => void): () => void {
    const ready = () => listener("ready");
    const close = () => listener("close");
    this.#redis.on("ready", ready);
    this.#redis.on("close", close);
    return () => {
      this.#redis.off("ready", ready);
      this.#redis.off("close", close);
    };
  }

  /** onRelease subscribes (once, on a duplicate connection) to the release channel. */
  onRelease(listener: (resource: string) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#subscriber) {
      // maxRetriesPerRequest null: the resubscribe ioredis sends by itself after a reconnect waits for
      // the connection instead of being flushed with an error nobody catches (an unhandled rejection).
      const sub = this.#redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
      sub.on("error", () => undefined);
      sub.on("message", (_channel: string, resource: string) => {
        for (const l of this.#listeners) l(resource);
      });
      sub.subscribe(RELEASED_CHANNEL).catch(() => undefined);
      this.#subscriber = sub;
    }
    return () => this.#listeners.delete(listener);
  }

  /** close ends the subscriber connection (the main client belongs to the caller). */
  async close(): Promise<void> {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  /** #live reads every live lease (SCAN over the lease keys, values fetched 200 at a time), oldest first. */
  async #live(): Promise<LeaseRecord[]> {
    const keys = new Set<string>();
    let cursor = "0";
    do {
      const [next, batch] = await this.#redis.scan(cursor, "MATCH", `${LEASE_PREFIX}*`, "COUNT", 1000);
      for (const k of batch) keys.add(k);
      cursor = next;
    } while (cursor !== "0");
    const all = [...keys];
    const out: LeaseRecord[] = [];
    for (let i = 0; i < all.length; i += 200) {
      const batch = all.slice(i, i + 200);
      const r = (await this.#scripts.mslockFetch(batch.length, ...batch)) as string[];
      const now = Number(r[r.length - 1]);
      batch.forEach((key, k) => {
        const v = r[2 * k];
        if (v) out.push(this.#toLease(key.slice(LEASE_PREFIX.length), v, now + Number(r[2 * k + 1])));
      });
    }
    return out.sort((a, b) => a.acquiredAt.getTime() - b.acquiredAt.getTime() || (a.resource < b.resource ? -1 : 1));
  }

  #toLease(resource: string, value: string, expiresAtMs: number): LeaseRecord {
    // "<leaseId>\n<n>\n<acquired-at ms>\n<epoch>\n<owner>"; the owner is last, whatever it holds. A
    // lease written as JSON by an earlier version (during a rolling upgrade) is read as such.
    if (value.startsWith("{")) {
      const v = JSON.parse(value) as { id: string; owner: string; epoch: string; n: number; acq: number };
      value = `${v.id}\n${v.n}\n${v.acq}\n${v.epoch}\n${v.owner}`;
    }
    const [id, n, acq, epoch] = value.split("\n", 4);
    const owner = value.slice(id.length + n.length + acq.length + epoch.length + 4);
    return {
      resource,
      leaseId: id,
      owner,
      fencingToken: fencingToken(BigInt(epoch), BigInt(n)),
      acquiredAt: new Date(Number(acq)),
      expiresAt: new Date(expiresAtMs),
      backend: "redis",
    };
  }
}
