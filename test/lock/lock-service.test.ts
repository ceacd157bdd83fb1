// LockServiceImpl against a real Postgres and a private real Redis: mutual exclusion under
// concurrency, increasing fencing tokens, release/extend only for the holder, waiting, ListLocks,
// ForceRelease (audited), AdvanceEpoch, and a random workload checked against a model.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { LockBackend as LockBackendEnum } from "../../gen/medschedule/lock/v1/lock_pb.js";
import {
  AcquireRequestSchema,
  AdvanceEpochRequestSchema,
  ExtendRequestSchema,
  ForceReleaseRequestSchema,
  ListLocksRequestSchema,
  LockService,
  ReleaseRequestSchema,
} from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import type { LockServiceImpl } from "../../services/lock/lock-service.js";
import { DomainError, InvalidArgumentError } from "../../services/runtime/errors.js";
import { metricsRegistry } from "../../services/runtime/observability/metrics.js";
import { domainCodeOf as codeOf } from "../helpers/call-outcome.js";
import { connectRedis, lockCtx, openLockDatabase, startLockService } from "../helpers/lock.js";
import { startRedis } from "../helpers/redis.js";

const M = LockService.method;

function api(svc: LockServiceImpl) {
  return {
    acquire: async (resource: string, ttlMs = 5_000, waitMs = 0, owner = "") =>
      (await svc.acquire(create(AcquireRequestSchema, { resource, owner, ttl: durationFromMs(ttlMs), waitTimeout: durationFromMs(waitMs) }), lockCtx(M.acquire))).lease!,
    release: async (resource: string, leaseId: string) => (await svc.release(create(ReleaseRequestSchema, { resource, leaseId }), lockCtx(M.release))).released,
    extend: async (resource: string, leaseId: string, ttlMs = 5_000) =>
      (await svc.extend(create(ExtendRequestSchema, { resource, leaseId, ttl: durationFromMs(ttlMs) }), lockCtx(M.extend))).lease!,
  };
}

for (const backend of ["redis", "postgres"] as const) {
  t.test(`${backend} backend`, async (t) => {
    const database = await openLockDatabase(t);
    const redis = backend === "redis" ? connectRedis(t, (await startRedis(t)).url) : undefined;
    const svc = await startLockService(t, database.db, { redis, stuckAfterMs: 300 });
    const { acquire, release, extend } = api(svc);
    t.equal(svc.manager!.backend, backend, `uses ${backend}`);

    t.test("50 concurrent try-acquires: exactly one lease; after release the next token is larger", async (t) => {
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => acquire("slot:a", 5_000, 0)));
      const won = results.filter((r) => r.status === "fulfilled");
      t.equal(won.length, 1, "one winner");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      t.ok(lost.every((r) => r.reason instanceof DomainError && r.reason.code === Code.Aborted), "the others are ABORTED");
      const lease = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquire>>>).value;
      t.equal(lease.backend, backend === "redis" ? LockBackendEnum.REDIS : LockBackendEnum.POSTGRES);
      t.equal(await release("slot:a", lease.leaseId!), true, "released");
      const next = await acquire("slot:a");
      t.ok(next.fencingToken! > lease.fencingToken!, `next token ${next.fencingToken} > ${lease.fencingToken}`);
      t.equal(await release("slot:a", next.leaseId!), true);
    });

    t.test("release with a wrong leaseId is false and changes nothing; extend of a lost lease is FAILED_PRECONDITION", async (t) => {
      const lease = await acquire("slot:b", 5_000);
      t.equal(await release("slot:b", "r_not-the-lease"), false, "wrong id (redis prefix)");
      t.equal(await release("slot:b", "p_not-the-lease"), false, "wrong id (postgres prefix)");
      t.equal(await release("slot:b", "lease-1"), false, "an id no backend issued");
      t.equal(await codeOf(acquire("slot:b")), Code.Aborted, "still held");
      const extended = await extend("slot:b", lease.leaseId!, 8_000);
      t.equal(extended.fencingToken, lease.fencingToken, "extend keeps the token");
      t.equal(await release("slot:b", lease.leaseId!), true);
      t.equal(await release("slot:b", lease.leaseId!), false, "second release is false");
      t.equal(await codeOf(extend("slot:b", lease.leaseId!)), Code.FailedPrecondition, "extend after release");
      const short = await acquire("slot:b", 50);
      await new Promise((r) => setTimeout(r, 120));
      t.equal(await codeOf(extend("slot:b", short.leaseId!)), Code.FailedPrecondition, "extend after expiry");
      const taker = await acquire("slot:b", 5_000);
      t.ok(taker.fencingToken! > short.fencingToken!, "an expired lease can be taken, with a larger token");
      t.equal(await release("slot:b", short.leaseId!), false, "the expired holder cannot release the new lease");
      t.equal(await codeOf(extend("slot:b", short.leaseId!)), Code.FailedPrecondition, "nor extend it");
      t.equal(await release("slot:b", taker.leaseId!), true);
    });

    t.test("bad input is INVALID_ARGUMENT and changes nothing", async (t) => {
      const lease = await acquire("slot:c");
      const bad = [
        svc.acquire(create(AcquireRequestSchema, { resource: "", ttl: durationFromMs(0), waitTimeout: durationFromMs(-1) }), lockCtx(M.acquire)),
        svc.acquire(create(AcquireRequestSchema, { resource: "slot:c", ttl: durationFromMs(600_001) }), lockCtx(M.acquire)),
        svc.release(create(ReleaseRequestSchema, { resource: "slot:c", leaseId: "" }), lockCtx(M.release)),
        svc.extend(create(ExtendRequestSchema, { resource: "slot:c", leaseId: lease.leaseId!, ttl: durationFromMs(-5) }), lockCtx(M.extend)),
        svc.forceRelease(create(ForceReleaseRequestSchema, { resource: "slot:c", reason: "" }), lockCtx(M.forceRelease, { grantedRole: "admin" })),
        svc.listLocks(create(ListLocksRequestSchema, { pageToken: "bm9wZQ" }), lockCtx(M.listLocks)),
      ];
      for (const p of bad) {
        const err = await p.then(() => undefined, (e: unknown) => e);
        t.ok(err instanceof InvalidArgumentError && err.violations.length > 0, `INVALID_ARGUMENT with violations: ${(err as Error)?.message}`);
      }
      t.equal(await codeOf(acquire("slot:c")), Code.Aborted, "the lease is still held");
      t.equal(await release("slot:c", lease.leaseId!), true, "and still ours");
    });

    t.test("waitTimeout waits for a release (no busy polling) and runs out with ABORTED", async (t) => {
      const first = await acquire("slot:d", 10_000);
      const started = Date.now();
      const waiting = acquire("slot:d", 5_000, 3_000);
      setTimeout(() => void release("slot:d", first.leaseId!), 150);
      const second = await waiting;
      const waited = Date.now() - started;
      t.ok(waited >= 140 && waited < 1_000, `woken by the release after ${waited} ms`);
      t.ok(second.fencingToken! > first.fencingToken!);
      const t0 = Date.now();
      t.equal(await codeOf(acquire("slot:d", 5_000, 300)), Code.Aborted, "held past waitTimeout: ABORTED");
      t.ok(Date.now() - t0 >= 290, "it waited");
      // A lease that simply expires is noticed by the fallback poll.
      await release("slot:d", second.leaseId!);
      await acquire("slot:d", 200);
      const third = await acquire("slot:d", 5_000, 2_000);
      t.ok(third.leaseId, "took over after expiry");
      await release("slot:d", third.leaseId!);
    });

    t.test("a waiting acquire stops when its caller goes away", async (t) => {
      const held = await acquire("slot:e", 10_000);
      const gone = new AbortController();
      const started = Date.now();
      const waiting = svc.acquire(create(AcquireRequestSchema, { resource: "slot:e", ttl: durationFromMs(5_000), waitTimeout: durationFromMs(5_000) }), lockCtx(M.acquire, {}, gone.signal));
      setTimeout(() => gone.abort(), 100);
      t.equal(await codeOf(waiting), Code.Aborted, "ABORTED");
      t.ok(Date.now() - started < 1_500, `gave up ${Date.now() - started} ms after it began, not at its 5 s waitTimeout`);
      t.equal(await release("slot:e", held.leaseId!), true);
    });

    t.test("ListLocks pages oldest first with ages and the stuck flag; ForceRelease is audited", async (t) => {
      const held = [];
      // An owner with quotes, separators and non-ASCII comes back as given (the Redis lease value is
      // lines with the owner last; owners cannot hold control characters).
      const owner = (r: string) => (r === "list:3" ? 'desk "3" | room: 12, Zoë {}' : `owner-${r}`);
      for (const r of ["list:1", "list:2", "list:3", "other:1"]) {
        held.push(await acquire(r, 10_000, 0, owner(r)));
        await new Promise((res) => setTimeout(res, 5));
      }
      await new Promise((res) => setTimeout(res, 350));
      const page1 = await svc.listLocks(create(ListLocksRequestSchema, { prefix: "list:", pageSize: 2 }), lockCtx(M.listLocks));
      t.same(page1.locks!.map((l) => l.lease!.resource), ["list:1", "list:2"]);
      t.ok(page1.nextPageToken, "has a next page");
      t.ok(page1.locks!.every((l) => l.stuck === true), "held > LOCK_STUCK_AFTER: stuck");
      t.ok(Number(page1.locks![0].heldFor!.seconds) * 1000 + page1.locks![0].heldFor!.nanos! / 1e6 >= 300, "age");
      const page2 = await svc.listLocks(create(ListLocksRequestSchema, { prefix: "list:", pageSize: 2, pageToken: page1.nextPageToken }), lockCtx(M.listLocks));
      t.same(page2.locks!.map((l) => l.lease!.resource), ["list:3"]);
      t.same(
        [...page1.locks!, ...page2.locks!].map((l) => [l.lease!.owner, l.lease!.leaseId, l.lease!.fencingToken]),
        held.slice(0, 3).map((l) => [l.owner, l.leaseId, l.fencingToken]),
        "owners, lease ids and tokens read back as acquired",
      );
      t.equal(page2.locks![0].lease!.owner, 'desk "3" | room: 12, Zoë {}');
      t.equal(page2.nextPageToken, "");

      await svc.manager!.checkNow();
      const metrics = await metricsRegistry.getSingleMetricAsString("active_locks_count");
      t.match(metrics, /active_locks_count 4/, "active_locks_count");
      t.match(await metricsRegistry.getSingleMetricAsString("stuck_locks_count"), /stuck_locks_count 4/, "stuck_locks_count");

      const admin = lockCtx(M.forceRelease, { subject: "adm-7", grantedRole: "admin", roles: ["admin"] });
      const fr = await svc.forceRelease(create(ForceReleaseRequestSchema, { resource: "list:2", reason: "holder pod crashed" }), admin);
      t.equal(fr.released, true);
      const again = await svc.forceRelease(create(ForceReleaseRequestSchema, { resource: "list:2", reason: "again" }), admin);
      t.equal(again.released, false, "nothing held any more");
      t.equal(await release("list:2", held[1].leaseId!), false, "the old holder's release is false");
      t.equal(await codeOf(extend("list:2", held[1].leaseId!)), Code.FailedPrecondition, "its extend fails");
      const audit = await database.db.withSchema("lock").selectFrom("audit_log").selectAll().where("action", "=", "FORCE_RELEASE").orderBy("id").execute();
      t.equal(audit.length, 2);
      t.equal(audit[0].actor, "adm-7");
      t.equal(audit[0].role, "admin");
      t.equal(audit[0].resource, "list:2");
      t.equal(audit[0].detail.reason, "holder pod crashed");
      t.equal(audit[0].detail.released, true);
      for (const [i, r] of ["list:1", "list:3", "other:1"].entries()) await release(r, held[[0, 2, 3][i]].leaseId!);
    });

    t.test("AdvanceEpoch moves every later token past every earlier one", async (t) => {
      const before = await acquire("slot:e");
      await release("slot:e", before.leaseId!);
      const res = await svc.advanceEpoch(create(AdvanceEpochRequestSchema, { reason: "restore of backup b-1" }), lockCtx(M.advanceEpoch));
      t.ok(res.epoch! > res.previousEpoch!, `epoch ${res.previousEpoch} -> ${res.epoch}`);
      const after = await acquire("slot:e");
      t.ok(after.fencingToken! > before.fencingToken!);
      t.equal(after.fencingToken! >> 32n, res.epoch, "the new token carries the new epoch");
      await release("slot:e", after.leaseId!);
    });

    t.test("after a restore rewinds Postgres, AdvanceEpoch from a fresh service moves tokens past all earlier ones", async (t) => {
      const before = await acquire("restore:a");
      await release("restore:a", before.leaseId!);
      // The restore: the epoch and the lease table's counters go back to an old state.
      await sql`update lock.fencing_epoch set epoch = 1`.execute(database.db);
      await sql`update lock.leases set epoch = 1, counter = 1 where lease_id is null`.execute(database.db);
      // A freshly started service (no memory of what it issued) is told to advance the epoch. The
      // clock floor needs a backup at least a second older than the AdvanceEpoch (always so in life).
      await new Promise((r) => setTimeout(r, 1_100));
      const fresh = await startLockService(t, database.db, { redis });
      await fresh.advanceEpoch(create(AdvanceEpochRequestSchema, { reason: "restore of backup b-2" }), lockCtx(M.advanceEpoch));
      const after = api(fresh);
      const lease = await after.acquire("restore:a");
      t.ok(lease.fencingToken! > before.fencingToken!, `${lease.fencingToken} > ${before.fencingToken}`);
      await after.release("restore:a", lease.leaseId!);
      await fresh.close();
    });

    t.test("1000 random operations from 20 clients on 5 resources match a model", async (t) => {
      const resources = ["m:0", "m:1", "m:2", "m:3", "m:4"];
      // Every granted lease, with the interval in which it was certainly live by the local clock:
      // from the acquire's answer until the earliest of (the last successful acquire/extend's send
      // time + its ttl) and (the send time of a successful release). Two leases on one resource whose
      // certain intervals overlap were live at once: a violation whatever the interleaving.
      interface Granted { resource: string; leaseId: string; token: bigint; acquiredAt: number; from: number; until: number; releasedAt?: number }
      const granted: Granted[] = [];
      const violations: string[] = [];
      let ops = 0;
      const client = async () => {
        const mine = new Map<string, Granted>();
        while (ops < 1000) {
          ops++;
          // Let time pass between operations, so leases also end by expiry.
          await new Promise((res) => setTimeout(res, Math.random() * 8));
          const r = resources[Math.floor(Math.random() * resources.length)];
          const op = Math.random();
          const own = mine.get(r);
          if (!own || op < 0.4) {
            const ttl = 20 + Math.floor(Math.random() * 300);
            const sent = Date.now();
            try {
              const lease = await acquire(r, ttl, Math.random() < 0.2 ? 30 : 0);
              const g: Granted = { resource: r, leaseId: lease.leaseId!, token: lease.fencingToken!, acquiredAt: Number(lease.acquiredAt!.seconds) * 1000 + (lease.acquiredAt!.nanos ?? 0) / 1e6, from: Date.now(), until: sent + ttl };
              granted.push(g);
              mine.set(r, g);
            } catch (err) {
              if (!(err instanceof DomainError && err.code === Code.Aborted)) throw err;
            }
          } else if (op < 0.55) {
            const sent = Date.now();
            const code = await codeOf(extend(r, own.leaseId, 200));
                        // Extend sets the expiry to now + ttl (it may shorten the lease).
            if (code === "OK") own.until = sent + 200;
            else mine.delete(r);
          } else {
            mine.delete(r);
            const sent = Date.now();
            if (await release(r, own.leaseId)) own.releasedAt = sent;
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, () => client()));
      for (const r of resources) {
        const leases = granted.filter((g) => g.resource === r).sort((a, b) => (a.token < b.token ? -1 : 1));
        for (let i = 1; i < leases.length; i++) {
          if (leases[i].token === leases[i - 1].token) violations.push(`${r}: token ${leases[i].token} issued twice`);
          if (leases[i].acquiredAt < leases[i - 1].acquiredAt) violations.push(`${r}: token ${leases[i].token} issued before ${leases[i - 1].token}`);
        }
        const certain = leases.map((g) => ({ g, from: g.from, to: Math.min(g.until, g.releasedAt ?? Infinity) })).filter((x) => x.to > x.from);
        for (let i = 0; i < certain.length; i++) {
          for (let j = i + 1; j < certain.length; j++) {
            const [x, y] = [certain[i], certain[j]];
            if (x.from < y.to && y.from < x.to) violations.push(`${r}: leases ${x.g.token} and ${y.g.token} were live at once: ${JSON.stringify([x, y], (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`);
          }
        }
      }
      t.same(violations, [], "never two live leases on a resource; tokens strictly increase in issue order");
      t.ok(granted.length > 25, `${granted.length} leases granted`);
    });

    if (backend === "postgres") {
      t.test("a takeover that waited for the row is dated from when it got it, with its whole ttl", async (t) => {
        const first = await acquire("wait:row", 1_000);
        await release("wait:row", first.leaseId!);
        let freedAt = 0;
        const { pending } = await database.db.transaction().execute(async (trx) => {
          // Another statement holds the resource's row (as a concurrent acquire would) for 300 ms.
          await sql`select 1 from lock.leases where resource = 'wait:row' for update`.execute(trx);
          const pending = acquire("wait:row", 1_000);
          await new Promise((r) => setTimeout(r, 300));
          freedAt = Date.now();
          return { pending };
        });
        const taken = await pending;
        const at = (ts: typeof taken.acquiredAt) => Number(ts!.seconds) * 1000 + (ts!.nanos ?? 0) / 1e6;
        t.ok(at(taken.acquiredAt) >= freedAt - 20, `acquired at ${at(taken.acquiredAt)}, row freed at ${freedAt}`);
        t.ok(Math.abs(at(taken.expiresAt) - at(taken.acquiredAt) - 1_000) < 1, "expires a full ttl after the grant");
        t.ok(taken.fencingToken! > first.fencingToken!);
        await release("wait:row", taken.leaseId!);
      });

      t.test("an acquire running across AdvanceEpoch either ends before it or issues under the new epoch", async (t) => {
        const first = await acquire("adv:race", 1_000);
        await release("adv:race", first.leaseId!);
        const done: string[] = [];
        const waitingOnLocks = async () =>
          Number((await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(database.db)).rows[0].n);
        const until = async (cond: () => Promise<boolean> | boolean) => {
          for (let i = 0; i < 500 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10));
        };
        const { pendingAcquire, pendingAdvance } = await database.db.transaction().execute(async (trx) => {
          // The acquire's statement has read the epoch and waits for the resource's row...
          await sql`select 1 from lock.leases where resource = 'adv:race' for update`.execute(trx);
          const pendingAcquire = acquire("adv:race", 1_000).then((l) => (done.push("acquire"), l));
          await until(async () => (await waitingOnLocks()) >= 1);
          // ...when the epoch is advanced: the advance either finishes or waits for the acquire.
          const pendingAdvance = svc
            .advanceEpoch(create(AdvanceEpochRequestSchema, { reason: "restore of backup b-race" }), lockCtx(M.advanceEpoch))
            .then((r) => (done.push("advance"), r));
          await until(async () => done.includes("advance") || (await waitingOnLocks()) >= 2);
          return { pendingAcquire, pendingAdvance };
        });
        const [lease, advanced] = await Promise.all([pendingAcquire, pendingAdvance]);
        const epoch = lease.fencingToken! >> 32n;
        const order = done.indexOf("acquire") < done.indexOf("advance") ? "before" : "after";
        t.ok(epoch >= advanced.epoch! || order === "before", `acquire answered ${order} AdvanceEpoch (${advanced.previousEpoch} -> ${advanced.epoch}) with epoch ${epoch}`);
        await release("adv:race", lease.leaseId!);
      });
    }
  });
}
