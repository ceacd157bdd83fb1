// The lock service under Redis faults, each against its own redis-server: SIGKILL and SIGSTOP (the
// backend switches to Postgres and back), kills right after an acquire with restarts empty and from
// the AOF, a replica promoted after missing increments, Redis freezing and thawing under constant
// acquires, unreachable at start, and flushed under a connected service. Fencing tokens must keep
// increasing, and an epoch bumped for one backend is never issued by the other.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { AcquireRequestSchema, LockService, ReleaseRequestSchema } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import type { LockServiceImpl } from "../../services/lock/lock-service.js";
import { DomainError } from "../../services/runtime/errors.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import { connectRedis, lockCtx, openLockDatabase, startLockService } from "../helpers/lock.js";
import { startRedis } from "../helpers/redis.js";

t.setTimeout(170_000);

async function acquire(svc: LockServiceImpl, resource: string, ttlMs = 5_000, waitMs = 0) {
  const res = await svc.acquire(
    create(AcquireRequestSchema, { resource, ttl: durationFromMs(ttlMs), waitTimeout: durationFromMs(waitMs) }),
    lockCtx(LockService.method.acquire),
  );
  return res.lease!;
}

async function release(svc: LockServiceImpl, resource: string, leaseId: string) {
  return (await svc.release(create(ReleaseRequestSchema, { resource, leaseId }), lockCtx(LockService.method.release))).released;
}

/** The backend lock_backend shows as active (value 1). */
async function gaugeBackend(): Promise<string | undefined> {
  const metric = metricsRegistry.getSingleMetric("lock_backend");
  const data = await metric!.get();
  return data.values.find((v) => v.value === 1)?.labels.backend as string | undefined;
}

/** Milliseconds until lock_backend shows `backend`, polling every 20 ms, or Infinity after limitMs. */
async function msUntilBackend(backend: string, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if ((await gaugeBackend()) === backend) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Infinity;
}

t.test("SIGKILL and SIGSTOP: Postgres within 2 s, acquires keep working, Redis again within 5 s of recovery", async (t) => {
  const database = await openLockDatabase(t);
  const server = await startRedis(t);
  const svc = await startLockService(t, database.db, { redis: connectRedis(t, server.url) });
  t.equal(await gaugeBackend(), "redis", "starts on redis");
  let last = (await acquire(svc, "fault:a", 50)).fencingToken!;

  for (const fault of ["SIGKILL", "SIGSTOP"] as const) {
    const startedFault = Date.now();
    if (fault === "SIGKILL") await server.kill("SIGKILL");
    else server.process.kill("SIGSTOP");
    const toPostgres = await msUntilBackend("postgres", 2_000);
    t.ok(toPostgres <= 2_000, `${fault}: lock_backend shows postgres after ${toPostgres} ms`);
    // Acquires keep working meanwhile (on Postgres), with larger tokens.
    for (let i = 0; i < 3; i++) {
      const lease = await acquire(svc, "fault:a", 5_000, 1_000);
      t.ok(lease.fencingToken! > last, `${fault}: token ${lease.fencingToken} > ${last} while redis is down`);
      last = lease.fencingToken!;
      t.equal(await release(svc, "fault:a", lease.leaseId!), true);
    }
    t.ok(Date.now() - startedFault < 4_000, "served while down");
    if (fault === "SIGKILL") await server.restart();
    else server.process.kill("SIGCONT");
    const toRedis = await msUntilBackend("redis", 5_000);
    t.ok(toRedis <= 5_000, `${fault}: lock_backend shows redis ${toRedis} ms after recovery`);
    const lease = await acquire(svc, "fault:a", 50, 1_000);
    t.equal(lease.backend, 1, "issued by redis again");
    t.ok(lease.fencingToken! > last, `${fault}: token after recovery ${lease.fencingToken} > ${last}`);
    last = lease.fencingToken!;
  }
});

for (const mode of ["restarting empty", "restarting from its AOF"] as const) {
  t.test(`kill Redis right after an acquire, 20 times, ${mode}: every token is larger than all earlier ones`, async (t) => {
    const database = await openLockDatabase(t);
    const server = await startRedis(t, { appendonly: mode !== "restarting empty" });
    const svc = await startLockService(t, database.db, { redis: connectRedis(t, server.url) });
    let last = 0n;
    let fromRedis = 0;
    const problems: string[] = [];
    for (let i = 0; i < 20; i++) {
      const lease = await acquire(svc, "crash:a", 60, 3_000);
      if (lease.fencingToken! <= last) problems.push(`round ${i}: ${lease.fencingToken} <= ${last}`);
      last = lease.fencingToken!;
      if (lease.backend === 1) fromRedis++;
      await server.kill("SIGKILL");
      await server.restart();
      if ((await msUntilBackend("redis", 5_000)) === Infinity) problems.push(`round ${i}: not back on redis within 5 s`);
    }
    const final = await acquire(svc, "crash:a", 60, 3_000);
    if (final.fencingToken! <= last) problems.push(`final: ${final.fencingToken} <= ${last}`);
    t.same(problems, [], "tokens strictly increase across every crash");
    t.ok(fromRedis >= 18, `${fromRedis} of 20 tokens came from redis right after its restart`);
  });
}

// This test once failed under full-suite load: a heartbeat miss had switched the service to Postgres
// and back during the second loop, and a Postgres acquire that landed between the switch-to-Redis
// bump and the switch itself took epoch * 2^32 + 1, which Redis then issued again. Epochs are now
// tagged with the backend they were bumped for (lock.fencing_epoch.issued_by); see the switching test.
t.test("replica promoted after missing increments (REPLICAOF NO ONE): tokens keep increasing", async (t) => {
  const database = await openLockDatabase(t);
  const primary = await startRedis(t);
  const replica = await startRedis(t);
  const admin = connectRedis(t, replica.url, { admin: true });
  await admin.call("REPLICAOF", "127.0.0.1", String(primary.port));
  const primaryClient = connectRedis(t, primary.url);
  // The test's own commands (WAIT blocks up to 2 s) go through a connection without the service's
  // 1 s command timeout, so a slow machine fails no assertion about the service.
  const primaryAdmin = connectRedis(t, primary.url, { admin: true });
  for (let i = 0; i < 50; i++) {
    const info = await admin.info("replication");
    if (/master_link_status:up/.test(info)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const svc = await startLockService(t, database.db, { redis: primaryClient });
  let last = 0n;
  for (let i = 0; i < 5; i++) {
    const lease = await acquire(svc, "promo:a", 5_000);
    last = lease.fencingToken!;
    await release(svc, "promo:a", lease.leaseId!);
  }
  t.equal(await primaryAdmin.call("WAIT", "1", "5000"), 1, "the replica has the first increments");
  // The replica stops hearing the primary, which issues more tokens; then the primary dies.
  replica.process.kill("SIGSTOP");
  await primaryAdmin.call("CLIENT", "KILL", "TYPE", "replica");
  for (let i = 0; i < 5; i++) {
    const lease = await acquire(svc, "promo:a", 5_000);
    t.ok(lease.fencingToken! > last);
    last = lease.fencingToken!;
    await release(svc, "promo:a", lease.leaseId!);
  }
  // The counter as {epoch, n}: a heartbeat miss under load may have moved the primary to a new epoch.
  const counter = async (r: ReturnType<typeof connectRedis>) => {
    const [e, n] = await r.hmget("mslock:fence:promo:a", "e", "n");
    return BigInt(e ?? 0) * 4294967296n + BigInt(n ?? 0);
  };
  const issued = await counter(primaryAdmin);
  await primary.kill("SIGKILL");
  replica.process.kill("SIGCONT");
  await admin.call("REPLICAOF", "NO", "ONE");
  const kept = await counter(admin);
  t.ok(kept < issued, `the promoted replica lost increments (counter ${kept} < ${issued})`);
  // Point a lock service at the promoted replica (as Sentinel or a config change would).
  await svc.close();
  const promoted = await startLockService(t, database.db, { redis: connectRedis(t, replica.url) });
  t.equal(promoted.manager!.backend, "redis", "the new service uses the promoted replica");
  const problems: string[] = [];
  for (let i = 0; i < 5; i++) {
    const lease = await acquire(promoted, "promo:a", 5_000, 2_000);
    if (lease.backend !== 1) problems.push(`acquire ${i} came from backend ${lease.backend}`);
    if (lease.fencingToken! <= last) problems.push(`acquire ${i}: ${lease.fencingToken} <= ${last}`);
    last = lease.fencingToken!;
    await release(promoted, "promo:a", lease.leaseId!);
  }
  t.same(problems, [], "tokens from the promoted replica are larger than every earlier one");
});

t.test("acquiring without pause while Redis freezes and thaws 5 times: tokens strictly increase through every switch", async (t) => {
  const database = await openLockDatabase(t);
  const server = await startRedis(t);
  const svc = await startLockService(t, database.db, { redis: connectRedis(t, server.url) });
  const tokens: { token: bigint; backend: number }[] = [];
  const errors: string[] = [];
  let stop = false;
  // Three workers acquiring back to back, so some calls are in flight across each switch (a call
  // stuck in the frozen server, the bump, the switch itself). Tokens are recorded in the order the
  // leases were granted.
  const work = async () => {
    while (!stop) {
      const lease = await acquire(svc, "flap:a", 300, 3_000).catch((err: unknown) => {
        errors.push(String((err as Error).message));
        return undefined;
      });
      if (!lease) continue;
      tokens.push({ token: lease.fencingToken!, backend: lease.backend! });
      await release(svc, "flap:a", lease.leaseId!).catch(() => undefined);
    }
  };
  const workers = Promise.all([work(), work(), work()]);
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 5; i++) {
    server.process.kill("SIGSTOP");
    t.ok((await msUntilBackend("postgres", 3_000)) < 3_000, `round ${i}: on postgres`);
    // Longer than the command timeout, so calls stuck in the frozen server fail and Postgres serves.
    await new Promise((r) => setTimeout(r, 1_300));
    server.process.kill("SIGCONT");
    t.ok((await msUntilBackend("redis", 5_000)) < 5_000, `round ${i}: back on redis`);
    await new Promise((r) => setTimeout(r, 150));
  }
  stop = true;
  await workers;
  const problems = tokens.flatMap((x, i) => (i > 0 && x.token <= tokens[i - 1].token ? [`#${i}: ${x.token} (backend ${x.backend}) <= ${tokens[i - 1].token} (backend ${tokens[i - 1].backend})`] : []));
  t.same(problems, [], `${tokens.length} tokens, each larger than the one before`);
  t.ok(tokens.some((x) => x.backend === 1) && tokens.some((x) => x.backend === 2), "both backends issued tokens", { errors: errors.slice(0, 5), count: tokens.length });
});

t.test("an epoch bumped for Redis is not issued by Postgres: a Postgres-only service bumps its own", async (t) => {
  const database = await openLockDatabase(t);
  const svc = await startLockService(t, database.db, {});
  const first = await acquire(svc, "tag:a", 5_000);
  await release(svc, "tag:a", first.leaseId!);
  // As a switch to Redis (by this or another replica) leaves it:
  const { bumpEpoch } = await import("../../services/lock/repositories/fencing-epoch.repository.js");
  const redisEpoch = (await bumpEpoch(database.db, { actor: "test", role: "system", reason: "test" }, 0, "redis")).epoch;
  const second = await acquire(svc, "tag:a", 5_000);
  t.equal(second.backend, 2, "issued by postgres");
  t.ok(second.fencingToken! > first.fencingToken!, "larger than before");
  t.ok(second.fencingToken! / 4294967296n > BigInt(redisEpoch), "under an epoch past the one bumped for redis");
  const row = await database.db.withSchema("lock").selectFrom("fencing_epoch").select(["epoch", "issued_by"]).executeTakeFirstOrThrow();
  t.equal(row.issued_by, "postgres");
});

t.test("Redis unreachable at start: Postgres serves, Redis is taken up when it answers", async (t) => {
  const database = await openLockDatabase(t);
  const server = await startRedis(t);
  await server.kill("SIGKILL");
  const svc = await startLockService(t, database.db, { redis: connectRedis(t, server.url) });
  t.equal(svc.manager!.backend, "postgres");
  const first = await acquire(svc, "start:a", 50);
  t.equal(first.backend, 2, "issued by postgres");
  await server.restart();
  t.ok((await msUntilBackend("redis", 5_000)) < 5_000, "switches to redis once it answers");
  const second = await acquire(svc, "start:a", 50, 1_000);
  t.equal(second.backend, 1);
  t.ok(second.fencingToken! > first.fencingToken!);
  const err = await acquire(svc, "start:a", 50, 0).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof DomainError && err.code === Code.Aborted, "still one holder");
});

t.test("Redis flushed under a connected service (no reconnect, no switch): the acquire script's epoch check bumps the epoch", async (t) => {
  const database = await openLockDatabase(t);
  const server = await startRedis(t);
  const svc = await startLockService(t, database.db, { redis: connectRedis(t, server.url) });
  const admin = connectRedis(t, server.url, { admin: true });
  let last = 0n;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) {
      const lease = await acquire(svc, "flush:a", 5_000);
      t.ok(lease.fencingToken! > last, `round ${round}: ${lease.fencingToken} > ${last}`);
      last = lease.fencingToken!;
      await release(svc, "flush:a", lease.leaseId!);
    }
    await admin.flushall();
  }
  const after = await acquire(svc, "flush:a", 5_000);
  t.ok(after.fencingToken! > last, "larger after the last flush too");
  t.equal(after.backend, 1, "still on redis: the epoch was repaired, not the backend switched");
});
