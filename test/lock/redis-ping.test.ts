// The Redis heartbeat's PING against a real redis-server: a PONG that arrived while this process's
// event loop was stalled (GC, a busy CPU) counts as an answer, so a stall does not switch the lock
// backend to Postgres; a frozen Redis still fails the PING.
import t from "tap";
import { RedisLockBackend } from "../../services/lock/redis-lock.backend.js";
import { connectRedis } from "../helpers/lock.js";
import { startRedis } from "../helpers/redis.js";

/** stall blocks the event loop for ms, as a long GC or a starved CPU does. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

t.test("PING: answered during a stall of this process counts; a frozen Redis does not answer", async (t) => {
  const server = await startRedis(t);
  const redis = connectRedis(t, server.url);
  const backend = new RedisLockBackend(redis);
  await backend.ping(2_000); // connected

  for (const ms of [260, 700]) {
    // The PONG comes back within a millisecond, but the loop only runs again after the timeout.
    const answer = backend.ping(200);
    stall(ms);
    await t.resolves(answer, `a ${ms} ms stall past a 200 ms timeout: the PONG waiting in the socket counts`);
  }

  server.process.kill("SIGSTOP");
  t.teardown(() => server.process.kill("SIGCONT"));
  const started = performance.now();
  await t.rejects(backend.ping(200), /did not answer PING within 200 ms/, "a frozen Redis fails the PING");
  t.ok(performance.now() - started < 1_000, "and within a bounded time");
  server.process.kill("SIGCONT");
  await t.resolves(backend.ping(2_000), "answers again once thawed");
});
