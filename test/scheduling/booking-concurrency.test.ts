// Invariant 1 under fire, over gRPC against real Postgres and a private Redis: 200 concurrent
// BookAppointment calls for the 20 slots of one provider with mixed durations. Successes never
// overlap (checked by SQL), the result is maximal (every refused request overlaps a success, once
// ABORTED and UNAVAILABLE answers are retried with the same requestId, as a client does: a burst
// larger than the connection pool answers UNAVAILABLE DATABASE_BUSY), every final failure is
// FAILED_PRECONDITION. Then the same with
// Redis killed mid-run (the lock service falls back to Postgres), with the lock bypassed (the
// exclusion constraint alone), and provider + room bookings racing on shared rooms.
import t, { type Test } from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { startRedis } from "../helpers/redis.js";
import { schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { startTestSystem } from "../helpers/system.js";
import { seededRandom as prng } from "../helpers/seeded-random.js";

const MIN = 60_000;
const SLOT = 15 * MIN;
const DAY_MS = 24 * 60 * MIN;
/** DAY_START is 09:00 UTC a week ahead: bookings may not start in the past. */
const DAY_START = Math.floor(Date.now() / DAY_MS) * DAY_MS + 7 * DAY_MS + 9 * 60 * MIN;
const SLOTS = 20;
const REQUESTS = 200;

interface Attempt {
  start: number;
  end: number;
  resourceIds: string[];
  code: Code | "OK";
  aborts: number;
}

/** book sends one booking, retrying ABORTED (lock contention, fencing) and UNAVAILABLE (no pooled connection free in time) with a little jitter. */
async function book(client: Client<typeof SchedulingService>, req: { requestId: string; providerId: string; start: number; end: number; resourceIds?: string[] }): Promise<Attempt> {
  let aborts = 0;
  for (;;) {
    try {
      await client.bookAppointment({
        requestId: req.requestId,
        providerId: req.providerId,
        patientId: `pat-${req.requestId}`,
        startTime: timestampFromDate(new Date(req.start)),
        duration: { seconds: BigInt((req.end - req.start) / 1000) },
        resourceIds: req.resourceIds ?? [],
      });
      return { start: req.start, end: req.end, resourceIds: req.resourceIds ?? [], code: "OK", aborts };
    } catch (err) {
      const code = ConnectError.from(err).code;
      if ((code === Code.Aborted || code === Code.Unavailable) && aborts < 100) {
        aborts++;
        await new Promise((r) => setTimeout(r, 10 + Math.random() * 90));
        continue;
      }
      return { start: req.start, end: req.end, resourceIds: req.resourceIds ?? [], code, aborts };
    }
  }
}

function requests(seed: number, providerId: string, prefix: string): { requestId: string; providerId: string; start: number; end: number }[] {
  const rnd = prng(seed);
  return Array.from({ length: REQUESTS }, (_, i) => {
    const k = Math.floor(rnd() * SLOTS);
    const len = 1 + Math.floor(rnd() * Math.min(3, SLOTS - k));
    return { requestId: `${prefix}-${i}`, providerId, start: DAY_START + k * SLOT, end: DAY_START + (k + len) * SLOT };
  });
}

async function overlappingPairs(db: Kysely<any>, providerId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments a join scheduling.appointments b
    on a.provider_id = b.provider_id and a.appointment_id < b.appointment_id and a.during && b.during
    where a.provider_id = ${providerId} and a.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN') and b.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN')`.execute(db);
  return Number(rows[0].n);
}

async function checkRun(t: Test, db: Kysely<any>, providerId: string, results: Attempt[]): Promise<void> {
  const ok = results.filter((r) => r.code === "OK");
  const refused = results.filter((r) => r.code !== "OK");
  t.ok(ok.length > 0, `${ok.length} bookings succeeded, ${refused.length} refused, ${results.reduce((n, r) => n + r.aborts, 0)} ABORTED or UNAVAILABLE answers retried`);
  t.equal(await overlappingPairs(db, providerId), 0, "no two active appointments overlap (SQL)");
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments where provider_id = ${providerId} and status = 'BOOKED'`.execute(db);
  t.equal(Number(rows[0].n), ok.length, "every success is one row");
  const badCodes = refused.filter((r) => r.code !== Code.FailedPrecondition);
  t.same(badCodes.map((r) => Code[r.code as Code]), [], "every final failure is FAILED_PRECONDITION (ABORTED and UNAVAILABLE were retried)");
  const notMaximal = refused.filter((r) => !ok.some((s) => r.start < s.end && s.start < r.end));
  t.equal(notMaximal.length, 0, "maximal: every refused request overlaps a success");
}


t.test("200 concurrent bookings with Redis up", async (t) => {
  const redis = await startRedis(t);
  const sys = await startTestSystem(t, { env: { REDIS_URL: redis.url } });
  const client = await schedulingClient(sys, "receptionist", "rec-1");
  const db = await systemDb(sys);
  const providerId = await setUpProvider(client, { start: "09:00", end: "14:00" });
  const results = await Promise.all(requests(1, providerId, "up").map((r) => book(client, r)));
  await checkRun(t, db, providerId, results);
});

t.test("200 concurrent bookings with Redis killed mid-run: the lock falls back to Postgres", async (t) => {
  const redis = await startRedis(t);
  const sys = await startTestSystem(t, { env: { REDIS_URL: redis.url } });
  const client = await schedulingClient(sys, "receptionist", "rec-1");
  const db = await systemDb(sys);
  const providerId = await setUpProvider(client, { start: "09:00", end: "14:00" });
  let done = 0;
  let killed: Promise<void> | undefined;
  const results = await Promise.all(
    requests(2, providerId, "kill").map(async (r) => {
      const a = await book(client, r);
      if (++done === 40) killed = redis.kill("SIGKILL");
      return a;
    }),
  );
  await killed;
  t.ok(killed, "Redis was killed during the run");
  await checkRun(t, db, providerId, results);
});

t.test("200 concurrent bookings with the lock bypassed: the exclusion constraint alone holds", async (t) => {
  process.env.SCHEDULING_BOOKING_LOCK = "off";
  t.teardown(() => {
    delete process.env.SCHEDULING_BOOKING_LOCK;
  });
  const sys = await startTestSystem(t);
  const client = await schedulingClient(sys, "receptionist", "rec-1");
  const db = await systemDb(sys);
  const providerId = await setUpProvider(client, { start: "09:00", end: "14:00" });
  const results = await Promise.all(requests(3, providerId, "nolock").map((r) => book(client, r)));
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.fence_tokens`.execute(db);
  t.equal(Number(rows[0].n), 0, "no fencing token was recorded: the lock really was bypassed");
  await checkRun(t, db, providerId, results);
});

t.test("provider + room bookings racing on shared rooms: never a room double-booked, never half a booking", async (t) => {
  const redis = await startRedis(t);
  const sys = await startTestSystem(t, { env: { REDIS_URL: redis.url } });
  const client = await schedulingClient(sys, "receptionist", "rec-1");
  const db = await systemDb(sys);
  const providers: string[] = [];
  for (let i = 0; i < 4; i++) providers.push(await setUpProvider(client, { start: "09:00", end: "14:00" }));
  const rooms = ["room-a", "room-b", "room-c"];
  for (const r of rooms) await client.createResource({ resourceId: r, displayName: r, kind: ResourceKind.ROOM });
  const rnd = prng(4);
  const reqs = Array.from({ length: REQUESTS }, (_, i) => {
    const k = Math.floor(rnd() * SLOTS);
    const len = 1 + Math.floor(rnd() * Math.min(2, SLOTS - k));
    const resourceIds = rooms.filter(() => rnd() < 0.5);
    return { requestId: `room-${i}`, providerId: providers[Math.floor(rnd() * providers.length)], start: DAY_START + k * SLOT, end: DAY_START + (k + len) * SLOT, resourceIds };
  });
  const results = await Promise.all(reqs.map((r) => book(client, r)));
  const ok = results.filter((r) => r.code === "OK");
  t.ok(ok.length > 0, `${ok.length} of ${results.length} bookings succeeded`);
  t.same(results.filter((r) => r.code !== "OK" && r.code !== Code.FailedPrecondition).map((r) => r.code), [], "failures are FAILED_PRECONDITION");
  const rooms2 = await sql<{ n: string }>`select count(*) as n from scheduling.appointment_resources a join scheduling.appointment_resources b
    on a.resource_id = b.resource_id and a.appointment_id < b.appointment_id and a.during && b.during where a.active and b.active`.execute(db);
  t.equal(Number(rooms2.rows[0].n), 0, "no room or device is double-booked (SQL)");
  const half = await sql<{ n: string }>`select count(*) as n from scheduling.appointments a
    where cardinality(a.resource_ids) <> (select count(*) from scheduling.appointment_resources r where r.appointment_id = a.appointment_id and r.active = (a.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN')))`.execute(db);
  t.equal(Number(half.rows[0].n), 0, "every appointment holds exactly its rooms: never half a booking");
  for (const p of providers) t.equal(await overlappingPairs(db, p), 0, `provider ${p}: no overlap`);
  const withRooms = ok.filter((r) => r.resourceIds.length > 0).length;
  t.ok(withRooms > 0, `${withRooms} successful bookings took rooms`);
});
