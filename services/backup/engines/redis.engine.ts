import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Redis } from "ioredis";
import { freePort } from "../../runtime/server/free-port.js";
import type { TableStat } from "../db/backup.table.js";
import type { RedisBackupEngine, ScratchResult } from "./backup-engine.port.js";
import { runTool, ToolError } from "./run-tool.js";

/** redisCliArgs turns a redis:// URL into redis-cli connection arguments and env (password in REDISCLI_AUTH). */
function redisCliArgs(url: string): { args: string[]; env: Record<string, string> } {
  const u = new URL(url);
  const args = ["-h", u.hostname || "127.0.0.1", "-p", u.port || "6379"];
  const env: Record<string, string> = {};
  if (u.username) args.push("--user", decodeURIComponent(u.username));
  if (u.password) env.REDISCLI_AUTH = decodeURIComponent(u.password);
  if (u.protocol === "rediss:") args.push("--tls");
  return { args, env };
}

/** ScratchRedis is a private redis-server loaded from one RDB file. */
interface ScratchRedis {
  client: Redis;
  stop(): Promise<void>;
}

/**
 * startScratchRedis starts redis-server on an ephemeral port in `dir`, loading `dir/dump.rdb`,
 * with persistence off, and resolves once it answers (i.e. the file is loaded).
 */
async function startScratchRedis(dir: string, signal: AbortSignal): Promise<ScratchRedis> {
  let lastError = "";
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", "", "--daemonize", "no", "--protected-mode", "yes"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-3000)));
    child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-3000)));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.once("error", (err) => (log += `spawn error: ${err.message}`));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    };
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || log.includes("spawn error")) break;
      if (signal.aborted || Date.now() > deadline) {
        await stop();
        throw signal.aborted ? signal.reason : new ToolError("the scratch redis-server did not load the file within 60 s");
      }
      const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
      client.on("error", () => undefined);
      try {
        await client.connect();
        if ((await client.ping()) === "PONG") {
          return {
            client,
            stop: async () => {
              client.disconnect();
              await stop();
            },
          };
        }
      } catch {
        // Not up yet, or still loading the file (-LOADING).
      }
      client.disconnect();
      await new Promise((r) => setTimeout(r, 30));
    }
    await stop();
    lastError = log.trim().split("\n").slice(-4).join(" | ");
    if (!log.includes("Address already in use")) break;
  }
  if (lastError.includes("ENOENT")) throw new ToolError("redis-server is not installed (install the redis-server package)");
  throw new ToolError(`the RDB file does not load into a scratch redis-server: ${lastError}`);
}

/**
 * queueValueRead queues the read that gives a key's value in a canonical form: DUMP payloads of sets
 * and hashes depend on the server's random hash seed, so unordered types are read member by member
 * (and sorted by canonical()).
 */
function queueValueRead(p: ReturnType<Redis["pipeline"]>, key: Buffer, type: string): void {
  switch (type) {
    case "string":
      p.getBuffer(key);
      break;
    case "list":
      p.lrangeBuffer(key, 0, -1);
      break;
    case "set":
      p.smembersBuffer(key);
      break;
    case "hash":
      p.hgetallBuffer(key);
      break;
    case "zset":
      p.call("ZRANGE", key, "0", "-1", "WITHSCORES");
      break;
    case "stream":
      p.call("XRANGE", key, "-", "+");
      break;
    default:
      p.dumpBuffer(key);
  }
}

function canonical(type: string, value: unknown): Buffer {
  const enc = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(typeof v === "string" ? v : JSON.stringify(v)));
  const join = (parts: Buffer[]) => Buffer.concat(parts.flatMap((b) => [Buffer.from(`${b.length}:`), b]));
  if (value === null || value === undefined) return Buffer.alloc(0);
  if (type === "set") return join((value as Buffer[]).map(enc).sort(Buffer.compare));
  if (type === "hash") {
    const entries = Object.entries(value as Record<string, Buffer>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return join(entries.flatMap(([k, v]) => [Buffer.from(k), enc(v)]));
  }
  if (Array.isArray(value)) return join(value.map(enc));
  return enc(value);
}

/** keyspaceStats lists per-database key counts and checksums over (key, type, canonical value, has-ttl), sorted by key. */
async function keyspaceStats(client: Redis): Promise<TableStat[]> {
  const info = await client.info("keyspace");
  const dbs = [...info.matchAll(/^db(\d+):keys=(\d+)/gm)].map((m) => Number(m[1]));
  const out: TableStat[] = [];
  for (const db of dbs) {
    await client.select(db);
    const keys: Buffer[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scanBuffer(cursor, "COUNT", 1000);
      cursor = String(next);
      keys.push(...batch);
    } while (cursor !== "0");
    keys.sort(Buffer.compare);
    const h = createHash("sha256");
    for (let i = 0; i < keys.length; i += 500) {
      const slice = keys.slice(i, i + 500);
      const meta = client.pipeline();
      for (const k of slice) {
        meta.type(k);
        meta.pttl(k);
      }
      const m = (await meta.exec()) ?? [];
      const types = slice.map((_, j) => String(m[j * 2]?.[1]));
      const values = client.pipeline();
      slice.forEach((k, j) => queueValueRead(values, k, types[j]));
      const v = (await values.exec()) ?? [];
      slice.forEach((k, j) => {
        const ttl = Number(m[j * 2 + 1]?.[1]);
        h.update(`${k.toString("base64")}\0${types[j]}\0${ttl >= 0 ? "ttl" : "none"}\0`);
        h.update(createHash("sha256").update(canonical(types[j], v[j]?.[1])).digest());
      });
    }
    out.push({ name: `redis:db${db}`, rows: keys.length, checksum: h.digest("hex") });
  }
  return out;
}

/**
 * RedisEngine backs up a Redis over the network: `redis-cli --rdb` (the replication protocol, so it
 * works where the Redis volume is not shared) into a temp file, `redis-check-rdb` on it, and key
 * counts and checksums from loading it into a scratch redis-server.
 */
export class RedisEngine implements RedisBackupEngine {
  /** format is "rdb": the file is the server's RDB snapshot. */
  readonly format = "rdb" as const;
  /** extension is ".rdb". */
  readonly extension = ".rdb";
  readonly #url: string;

  constructor(redisUrl: string) {
    this.#url = redisUrl;
  }

  /** dump transfers the RDB, checks it, computes its stats and streams it into `sink` (ending it). */
  async dump(sink: Writable, signal: AbortSignal): Promise<TableStat[]> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "medschedule-rdb-"));
    try {
      const file = path.join(dir, "dump.rdb");
      const { args, env } = redisCliArgs(this.#url);
      await runTool("redis-cli", [...args, "--rdb", file], { env, signal });
      await runTool("redis-check-rdb", [file], { signal }).catch((err: unknown) => {
        throw new ToolError(`the transferred RDB is damaged: ${(err as Error).message}`, { cause: err });
      });
      const stats = await this.#statsOf(dir, signal);
      await pipeline(createReadStream(file), sink, { signal });
      return stats;
    } catch (err) {
      sink.destroy();
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #statsOf(dir: string, signal: AbortSignal): Promise<TableStat[]> {
    const scratch = await startScratchRedis(dir, signal);
    try {
      return await keyspaceStats(scratch.client);
    } finally {
      await scratch.stop();
    }
  }

  /** withScratch copies an RDB into a temp dir, loads it into a scratch redis-server and runs fn. */
  async #withScratch<T>(source: Readable, signal: AbortSignal, fn: (s: ScratchRedis, loadMs: number) => Promise<T>, afterRead?: () => void): Promise<T> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "medschedule-rdb-"));
    try {
      await pipeline(source, createWriteStream(path.join(dir, "dump.rdb")), { signal });
      afterRead?.();
      await runTool("redis-check-rdb", [path.join(dir, "dump.rdb")], { signal }).catch((err: unknown) => {
        throw new ToolError(`the RDB file is damaged: ${(err as Error).message}`, { cause: err });
      });
      const started = performance.now();
      const scratch = await startScratchRedis(dir, signal);
      const loadMs = performance.now() - started;
      try {
        return await fn(scratch, loadMs);
      } finally {
        await scratch.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** scratchRestore loads the RDB into a scratch redis-server and reports its stats (a keyspace has no domain invariants to check). */
  async scratchRestore(source: Readable, signal: AbortSignal): Promise<ScratchResult> {
    return this.#withScratch(source, signal, async (s, restoreMs) => ({ tables: await keyspaceStats(s.client), invariants: { problems: [], notes: [] }, restoreMs }));
  }

  /**
   * restore replaces the live Redis content with the RDB's, over the network: FLUSHALL, then every
   * key of the scratch copy with DUMP/RESTORE (keeping TTLs). `beforeCommit` runs once the file was
   * read, before FLUSHALL; when it throws nothing is changed. Not atomic (Redis has no such
   * transaction over many keys): callers advance the fencing epoch afterwards.
   */
  async restore(source: Readable, signal: AbortSignal, beforeCommit?: () => void): Promise<void> {
    await this.#withScratch(
      source,
      signal,
      async (s) => {
        const live = new Redis(this.#url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        live.on("error", () => undefined);
        try {
          await live.connect();
          const info = await s.client.info("keyspace");
          const dbs = [...info.matchAll(/^db(\d+):keys=(\d+)/gm)].map((m) => Number(m[1]));
          await live.flushall();
          for (const db of dbs) {
            await s.client.select(db);
            await live.select(db);
            let cursor = "0";
            // Once FLUSHALL ran, the copy runs to its end whatever the caller does: a half-restored
            // Redis would be worse than a slow answer.
            do {
              const [next, keys] = await s.client.scanBuffer(cursor, "COUNT", 500);
              cursor = String(next);
              const read = s.client.pipeline();
              for (const k of keys) {
                read.dumpBuffer(k);
                read.pttl(k);
              }
              const res = (await read.exec()) ?? [];
              const write = live.pipeline();
              keys.forEach((k, j) => {
                const dump = res[j * 2]?.[1] as Buffer | null;
                const ttl = Number(res[j * 2 + 1]?.[1]);
                if (dump) write.restore(k, ttl > 0 ? ttl : 0, dump, "REPLACE");
              });
              for (const [err] of (await write.exec()) ?? []) if (err) throw err;
            } while (cursor !== "0");
          }
        } finally {
          live.disconnect();
        }
      },
      beforeCommit,
    );
  }
}
