// Release notifications on the Redis backend: a release publishes on mslock:released only while
// someone waits for the resource, and a waiter on another replica is woken by it, not by its
// fallback poll (stretched here to 5 s, so that only the notice can hand over the lease within 1.5 s
// on however loaded a machine), also when the notice overtakes the answer of the attempt under way.
import t from "tap";
import { RELEASED_CHANNEL } from "../../services/lock/redis-lock.backend.js";
import { connectRedis, openLockDatabase, startLockService } from "../helpers/lock.js";
import { startRedis } from "../helpers/redis.js";

t.test("a release publishes only when someone waits, and wakes a waiter on another replica", async (t) => {
  const database = await openLockDatabase(t);
  const server = await startRedis(t);
  // Two replicas: their own Redis clients and managers over one Redis and one database.
  const tuning = { pollMs: { min: 5_000, max: 5_000 } };
  const a = (await startLockService(t, database.db, { redis: connectRedis(t, server.url), tuning })).manager!;
  const b = (await startLockService(t, database.db, { redis: connectRedis(t, server.url), tuning })).manager!;
  t.equal(a.backend, "redis");
  t.equal(b.backend, "redis");

  const published: string[] = [];
  const listener = connectRedis(t, server.url);
  await new Promise((r) => listener.once("ready", r));
  listener.on("message", (_channel: string, resource: string) => published.push(resource));
  await listener.subscribe(RELEASED_CHANNEL);

  // Uncontended: nobody waits, nothing is published.
  for (let i = 0; i < 20; i++) {
    const lease = await a.acquire({ resource: "quiet", owner: "a", ttlMs: 5_000, waitTimeoutMs: 0 });
    t.ok(await a.release(lease.resource, lease.leaseId));
  }
  // A try-lock that finds the resource held does not mark it either.
  const held = await a.acquire({ resource: "try", owner: "a", ttlMs: 5_000, waitTimeoutMs: 0 });
  await t.rejects(b.acquire({ resource: "try", owner: "b", ttlMs: 5_000, waitTimeoutMs: 0 }), "try-lock on a held resource fails");
  await a.release(held.resource, held.leaseId);
  await new Promise((r) => setTimeout(r, 100));
  t.same(published, [], "no waiter, no message");

  // A waiter on replica b, the holder on replica a, released 600 ms in: the notice wakes the waiter.
  const PROMPT_MS = 1_500;
  const lags: number[] = [];
  for (let i = 0; i < 5; i++) {
    const first = await a.acquire({ resource: "busy", owner: "a", ttlMs: 10_000, waitTimeoutMs: 0 });
    const waiting = b.acquire({ resource: "busy", owner: "b", ttlMs: 5_000, waitTimeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 600));
    const releasedAt = Date.now();
    t.ok(await a.release(first.resource, first.leaseId));
    const second = await waiting;
    lags.push(Date.now() - releasedAt);
    t.ok(second.fencingToken > first.fencingToken, "the waiter got a larger token");
    await b.release(second.resource, second.leaseId);
  }
  t.ok(published.length >= 5 && published.every((r) => r === "busy"), `releases of the awaited resource were published (${published.length})`);
  t.ok(lags.every((l) => l < PROMPT_MS), `the waiter took the lease without waiting for its poll each time: ${lags.join(", ")} ms`);

  // The release sent together with the waiter's first attempt: when the attempt finds the lease held,
  // the notice races the attempt's answer (two connections); the waiter must not miss it.
  const raced: number[] = [];
  for (let i = 0; i < 30; i++) {
    const first = await a.acquire({ resource: `race:${i}`, owner: "a", ttlMs: 10_000, waitTimeoutMs: 0 });
    const startedAt = Date.now();
    const waiting = b.acquire({ resource: first.resource, owner: "b", ttlMs: 5_000, waitTimeoutMs: 10_000 });
    await new Promise((r) => setImmediate(r));
    t.ok(await a.release(first.resource, first.leaseId));
    const second = await waiting;
    raced.push(Date.now() - startedAt);
    await b.release(second.resource, second.leaseId);
  }
  t.ok(raced.every((l) => l < PROMPT_MS), `a release racing the first attempt hands over promptly: ${raced.join(", ")} ms`);
});
