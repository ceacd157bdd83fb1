// Redis backups over the network against a scratch redis-server started by the test: round trip of
// keys of every type (with TTLs, two databases), verification, a flipped byte, and Redis killed in the
// middle of the transfer (FAILED with a clear error, counted, no file left); a shutdown in the middle
// of a backup ends it FAILED as interrupted, with nothing left RUNNING.
import type { Caller } from "../../services/runtime/caller.js";
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { BackupService, RestoreBackupRequestSchema, VerifyBackupRequestSchema } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { backupFailures } from "../../services/backup/backup.metrics.js";
import { findBackup } from "../../services/backup/repositories/backup.repository.js";
import { startRedis } from "../helpers/redis.js";
import { createCatalogDb, createService, ctxAs, fakeLockPeer, tempDir } from "../helpers/backup-catalog.js";

t.setTimeout(90_000);

const catalog = await createCatalogDb(t);
const caller: Caller = { subject: "adm-1", role: "admin", roles: ["admin"], ownOnly: false, onBehalfOf: undefined };

async function failures(target: string): Promise<number> {
  const m = await backupFailures.get();
  return m.values.find((v) => v.labels.target === target)?.value ?? 0;
}

/** keyspace is every key of db 0 and 1 with its type, DUMP payload and whether it has a TTL. */
async function keyspace(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const db of [0, 1]) {
    const c = new Redis(url, { db });
    try {
      for (const k of (await c.keys("*")).sort()) {
        const [type, ttl] = await Promise.all([c.type(k), c.pttl(k)]);
        // DUMP of a set or hash depends on the server's hash seed: compare those member by member.
        const value =
          type === "set"
            ? JSON.stringify((await c.smembers(k)).sort())
            : type === "hash"
              ? JSON.stringify(Object.entries(await c.hgetall(k)).sort())
              : (await c.dumpBuffer(k))?.toString("hex");
        out[`${db}:${k}`] = `${type} ${value} ${ttl > 0 ? "ttl" : "none"}`;
      }
    } finally {
      c.disconnect();
    }
  }
  return out;
}

t.test("round trip: every key back, verified, restored over changed data; epoch advanced", async (t) => {
  const redis = await startRedis(t, { appendonly: false });
  const c = new Redis(redis.url);
  t.teardown(() => c.disconnect());
  await c.set("lock:provider:p1", "lease-1", "PX", 600_000);
  await c.set("fence:provider:p1", "42");
  await c.hset("epoch", { epoch: "7", runId: "x" });
  await c.rpush("list", "a", "b", "c");
  await c.sadd("set", "x", "y");
  await c.zadd("zset", 1, "one", 2, "two");
  await c.xadd("stream", "*", "f", "v");
  for (let i = 0; i < 50; i++) await c.set(`k:${i}`, `v${i}`);
  await c.select(1);
  await c.set("other-db", "1");
  await c.select(0);
  const before = await keyspace(redis.url);

  const lock = fakeLockPeer();
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = createService(t, { db: catalog.db, config: { backupDir: dir, redisUrl: redis.url }, peers: lock.peers });
  const started = await svc.runner.start("REDIS", caller, "redis-1");
  t.equal(started.state, "RUNNING");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "SUCCEEDED", row.error ?? "");
  t.match(row.location, /^redis\/.+\.rdb$/);
  t.equal((await readFile(path.join(dir, row.location!))).subarray(0, 5).toString(), "REDIS", "an RDB file");
  t.same(
    row.table_checks!.map((x) => [x.name, x.rows]),
    [["redis:db0", 57], ["redis:db1", 1]],
    "key counts per database recorded",
  );

  const v = await svc.verifyBackup(create(VerifyBackupRequestSchema, { backupId: row.backup_id }), ctxAs(BackupService.method.verifyBackup));
  t.ok(v.ok, v.details!.join("\n"));
  t.equal(v.tables!.length, 2);

  await c.flushall();
  await c.set("k:1", "changed");
  await c.set("new-key", "x");
  const r = await svc.restoreBackup(create(RestoreBackupRequestSchema, { backupId: row.backup_id, confirm: row.backup_id }), ctxAs(BackupService.method.restoreBackup));
  t.ok(r.fencingEpoch! > 0n);
  t.same(lock.reasons, [`restore of backup ${row.backup_id}`], "AdvanceEpoch called once, after the restore");
  t.same(await keyspace(redis.url), before, "every key, type, value and TTL as at backup time; newer keys gone");

  // One flipped byte: reported, and nothing restored.
  const file = path.join(dir, row.location!);
  const bytes = await readFile(file);
  bytes[bytes.length - 12] ^= 0xff;
  await writeFile(file, bytes);
  await c.set("after-flip", "1");
  const bad = await svc.verifyBackup(create(VerifyBackupRequestSchema, { backupId: row.backup_id }), ctxAs(BackupService.method.verifyBackup));
  t.notOk(bad.ok);
  t.match(bad.details!.join("\n"), /sha256 mismatch/);
  await t.rejects(
    svc.restoreBackup(create(RestoreBackupRequestSchema, { backupId: row.backup_id, confirm: row.backup_id }), ctxAs(BackupService.method.restoreBackup)),
    { code: 9, message: /nothing was restored/ },
  );
  t.equal(await c.get("after-flip"), "1", "live Redis untouched");
  t.equal(lock.reasons.length, 1, "no AdvanceEpoch for a refused restore");
});

t.test("Redis killed mid-transfer: FAILED with a clear error, counted, no file", async (t) => {
  // 20 ms per key while the RDB is produced: 300 keys take 6 s to transfer; the kill comes at 0.8 s.
  const redis = await startRedis(t, { appendonly: false, args: ["--rdb-key-save-delay", "20000"] });
  const c = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on("error", () => undefined);
  t.teardown(() => c.disconnect());
  const p = c.pipeline();
  for (let i = 0; i < 300; i++) p.set(`key:${i}`, "x".repeat(100));
  await p.exec();
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = createService(t, { db: catalog.db, config: { backupDir: dir, redisUrl: redis.url }, peers: fakeLockPeer().peers });
  const before = await failures("redis");
  const started = await svc.runner.start("REDIS", caller, "killed-1");
  await new Promise((r) => setTimeout(r, 800));
  await redis.kill("SIGKILL");
  await svc.runner.waitForIdle();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "FAILED");
  t.match(row.error, /^REDIS backup failed: redis-cli .*/, "clear error");
  t.comment(row.error!);
  t.equal(row.location, null, "no location");
  t.equal(row.sha256, null, "no checksum");
  t.ok(row.finished_at, "ended");
  t.equal(await failures("redis"), before + 1, `backup_failures_total{target="redis"} counted`);
  const left = await readdir(path.join(dir, "redis")).catch(() => []);
  t.same(left, [], "no file, partial or otherwise, in the store");
});

t.test("shutdown in the middle of a backup: FAILED as interrupted, no file, nothing left RUNNING", async (t) => {
  const redis = await startRedis(t, { appendonly: false, args: ["--rdb-key-save-delay", "20000"] });
  const c = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on("error", () => undefined);
  t.teardown(() => c.disconnect());
  const p = c.pipeline();
  for (let i = 0; i < 300; i++) p.set(`key:${i}`, "x");
  await p.exec();
  const dir = await tempDir(t, "medschedule-backups-");
  const svc = createService(t, { db: catalog.db, config: { backupDir: dir, redisUrl: redis.url }, peers: fakeLockPeer().peers });
  const started = await svc.runner.start("REDIS", caller, "shutdown-1");
  await new Promise((r) => setTimeout(r, 500));
  await svc.close();
  const row = (await findBackup(catalog.db as never, started.backup_id))!;
  t.equal(row.state, "FAILED");
  t.match(row.error, /interrupted: the backup service shut down/);
  t.same(await readdir(path.join(dir, "redis")).catch(() => []), []);
  await t.rejects(svc.runner.start("REDIS", caller, "shutdown-2"), { code: 14 }, "no new backups after close");
});
