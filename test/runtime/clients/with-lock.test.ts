// withLock() and checkFence() over the LockService (in-process client, real Postgres and Redis): a
// holder paused past its TTL cannot write once another holder did, and the same scenario without
// fencing corrupts the store (so this test is known to catch the fault); lost leases abort the work.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { sql, type Kysely } from "kysely";
import { AcquireRequestSchema, LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import type { LockServiceImpl } from "../../../services/lock/lock-service.js";
import { AbortedError } from "../../../services/runtime/errors.js";
import { metricsRegistry } from "../../../services/runtime/observability/metrics.js";
import {
  checkFence,
  createLocalLockClient,
  fenceTokensTableSql,
  FencingRejectedError,
  LockLostError,
  LockNotAcquiredError,
  withLock,
  type LockClient,
} from "../../../services/runtime/clients/with-lock.js";
import { connectRedis, lockCtx, openLockDatabase, startLockService } from "../../helpers/lock.js";
import { startRedis } from "../../helpers/redis.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rejections(): Promise<number> {
  const m = await metricsRegistry.getSingleMetric("fencing_rejections_total")!.get();
  return m.values[0]?.value ?? 0;
}

/** The test's store: a "slot" row written by lock holders, in a schema of its own with fence_tokens. */
async function createStore(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists store`.execute(db);
  await fenceTokensTableSql("store").execute(db);
  await sql`create table store.slots (id text primary key, booked_by text not null, writes int not null default 1)`.execute(db);
}

/** write books slot `id` for `who` in one transaction, fenced with `token` unless fencing is off. */
async function write(db: Kysely<any>, id: string, who: string, token: bigint, fenced: boolean): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (fenced) await checkFence(trx, `slot:${id}`, token, { schema: "store" });
    await sql`insert into store.slots (id, booked_by) values (${id}, ${who})
              on conflict (id) do update set booked_by = excluded.booked_by, writes = store.slots.writes + 1`.execute(trx);
  });
}

async function bookedBy(db: Kysely<any>, id: string): Promise<string | undefined> {
  const { rows } = await sql<{ booked_by: string }>`select booked_by from store.slots where id = ${id}`.execute(db);
  return rows[0]?.booked_by;
}

for (const backend of ["redis", "postgres"] as const) {
  t.test(`${backend} backend`, async (t) => {
    const database = await openLockDatabase(t);
    const db = database.db;
    await createStore(db);
    const redis = backend === "redis" ? connectRedis(t, (await startRedis(t)).url) : undefined;
    const svc: LockServiceImpl = await startLockService(t, db, { redis });
    const client: LockClient = createLocalLockClient(svc);
    const acquireRaw = async (resource: string, ttlMs: number) =>
      (await svc.acquire(create(AcquireRequestSchema, { resource, ttl: durationFromMs(ttlMs) }), lockCtx(LockService.method.acquire))).lease!;

    for (const fenced of [true, false]) {
      t.test(`a holder paused past its TTL writes after the next holder ${fenced ? "(fenced: rejected)" : "(no fencing: the store is corrupted)"}`, async (t) => {
        const slot = `s-${fenced ? "f" : "u"}`;
        const resource = `slot:${slot}`;
        const before = await rejections();
        // A takes the lease, then "pauses" (GC, SIGSTOP) for twice its TTL without extending.
        const a = await acquireRaw(resource, 150);
        await sleep(300);
        // B takes the lease (A's expired) and books the slot.
        const b = await acquireRaw(resource, 5_000);
        t.ok(b.fencingToken! > a.fencingToken!, "B's token is larger");
        await write(db, slot, "B", b.fencingToken!, fenced);
        // A wakes up and writes as if it still held the lease.
        const stale = await write(db, slot, "A", a.fencingToken!, fenced).then(() => undefined, (e: unknown) => e);
        if (fenced) {
          t.ok(stale instanceof FencingRejectedError, "A's write is rejected");
          t.ok(stale instanceof AbortedError, "as ABORTED");
          t.equal(await bookedBy(db, slot), "B", "B's booking stands");
          t.equal((await rejections()) - before, 1, "fencing_rejections_total counted it");
        } else {
          t.equal(stale, undefined, "without fencing A's write goes through");
          t.equal(await bookedBy(db, slot), "A", "and overwrites B's booking: the fault this test catches");
        }
      });
    }

    t.test("paused holders among concurrent writers: no write lands after the lease passed on", async (t) => {
      // 8 workers, each books 6 times; 20% of the bookings pause for twice the TTL before writing.
      const ttl = 120;
      let landedLate = 0;
      let rejected = 0;
      let notAcquired = 0;
      let lost = 0;
      const lastWriter = new Map<string, bigint>();
      const worker = async (w: number) => {
        // A worker's "process" can pause (GC, SIGSTOP): then its extends wait too.
        let resume: Promise<void> = Promise.resolve();
        const own: LockClient = {
          acquire: (req, opts) => client.acquire(req, opts),
          release: (req, opts) => client.release(req, opts),
          extend: async (req, opts) => {
            await resume;
            return client.extend(req, opts);
          },
        };
        for (let i = 0; i < 6; i++) {
          try {
            await withLock(
              own,
              "slot:shared",
              async (lease) => {
                if (Math.random() < 0.2) {
                  resume = sleep(2 * ttl);
                  await resume;
                }
                try {
                  await write(db, "shared", `w${w}`, lease.fencingToken, true);
                  const prev = lastWriter.get("shared") ?? 0n;
                  if (lease.fencingToken < prev) landedLate++;
                  lastWriter.set("shared", lease.fencingToken);
                } catch (err) {
                  if (err instanceof FencingRejectedError) rejected++;
                  else throw err;
                }
              },
              { ttlMs: ttl, waitTimeoutMs: 2_000 },
            );
          } catch (err) {
            if (err instanceof LockNotAcquiredError) notAcquired++;
            else if (err instanceof LockLostError) lost++;
            else throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      t.equal(landedLate, 0, "no write with an older token landed after a newer one");
      t.comment(`rejected ${rejected}, lost ${lost}, not acquired ${notAcquired}`);
      t.ok(rejected + lost > 0, "the pauses did make holders lose their leases");
    });

    t.test("withLock extends a long job, releases at the end, and tells 'not acquired' from 'lost'", async (t) => {
      let ran = false;
      const result = await withLock(
        client,
        "job:long",
        async (lease) => {
          t.ok(lease.fencingToken > 0n);
          await sleep(900); // three times the TTL: only extends keep it
          t.notOk(lease.signal.aborted, "not aborted while extends succeed");
          ran = true;
          return 42;
        },
        { ttlMs: 300 },
      );
      t.equal(result, 42);
      t.ok(ran);
      const next = await acquireRaw("job:long", 1_000);
      t.ok(next.leaseId, "released at the end: free at once");

      const notAcquired = await withLock(client, "job:long", async () => "never", { waitTimeoutMs: 50 }).then(() => undefined, (e: unknown) => e);
      t.ok(notAcquired instanceof LockNotAcquiredError, "held by another: LockNotAcquiredError");
      t.ok(notAcquired instanceof AbortedError, "ABORTED");

      let sawAbort: unknown;
      const lostErr = await withLock(
        client,
        "job:lost",
        async (lease) => {
          // An operator force-releases the lock while the job runs.
          await svc.forceRelease(
            create((await import("../../../gen/medschedule/lock/v1/lock_service_pb.js")).ForceReleaseRequestSchema, { resource: "job:lost", reason: "test" }),
            lockCtx(LockService.method.forceRelease, { grantedRole: "admin", subject: "adm" }),
          );
          await new Promise<void>((resolve) => {
            lease.signal.addEventListener("abort", () => resolve(), { once: true });
            setTimeout(resolve, 2_000);
          });
          sawAbort = lease.signal.reason;
          return "done anyway";
        },
        { ttlMs: 150 },
      ).then(() => undefined, (e: unknown) => e);
      t.ok(sawAbort instanceof LockLostError, "the job's signal aborted with LockLostError");
      t.ok(lostErr instanceof LockLostError, "withLock throws LockLostError even though fn returned");
      t.ok(lostErr instanceof AbortedError, "ABORTED");
    });
  });
}
