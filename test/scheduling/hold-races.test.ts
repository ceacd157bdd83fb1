// Invariant 1 for holds under fire (issue 20 items 4 and 5): 200 HoldSlot, BookAppointment, BookSeries
// and confirming calls from different patients race over overlapping times of six providers sharing two rooms, on real
// Postgres with real concurrency, the fake clock passing every hold's TTL in the middle of the second
// wave. Then: no two active appointments of a provider, and no two active bookings of a room, overlap
// (SQL); every acknowledged booking, confirmation and series occurrence is BOOKED; every series is all
// or nothing (an acknowledged one has all its occurrences, a refused one none); a confirmation refused as expired
// booked nothing; every hold that expired unconfirmed frees its time (its exact time books unless
// something live holds it, and never answers SLOT_HELD); the sweep then changes no BOOKED row. Run
// with the provider's lock (a real LockService on Postgres) and without it (the constraints alone).
import t from "tap";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { RecurrenceFrequency, ResourceKind } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  BookAppointmentResponseSchema,
  BookSeriesRequestSchema,
  BookSeriesResponseSchema,
  CreateResourceRequestSchema,
  HoldSlotRequestSchema,
  HoldSlotResponseSchema,
  SchedulingService,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createLocalLockClient } from "../../services/runtime/clients/with-lock.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { openLockDatabase, startLockService } from "../helpers/lock.js";
import { seededRandom } from "../helpers/seeded-random.js";
// Visit types inserted directly (no CreateVisitType yet); providers and the caller as in the other scheduling tests.
import { insertVisitType, setCapabilities } from "../helpers/visit-types.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { createProviderIn } from "../helpers/scheduling.js";
import { callerContext } from "../helpers/handler-context.js";

const ctx = (method: DescMethod) => callerContext(method, "receptionist", "rec-1");
const m = SchedulingService.method;
const MIN = 60_000;
t.setTimeout(300_000);
const DAY = Date.parse("2026-12-09T09:00:00Z");
const PROVIDERS = ["dr-1", "dr-2", "dr-3", "dr-4", "dr-5", "dr-6"];
/** HOURS is the length of the working day the calls race over. */
const HOURS = 6;
const ROOMS = ["xr-1", "xr-2"];

/** outcomeOf is "OK" with the answer, or the reason of the final domain error, ABORTED and UNAVAILABLE answers retried as a client does. */
async function outcomeOf<T>(call: () => Promise<T>): Promise<{ reason: string; code?: Code; value?: T }> {
  for (let tries = 0; ; tries++) {
    try {
      return { reason: "OK", value: await call() };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if ((err.code === Code.Aborted || err.code === Code.Unavailable) && tries < 200) {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 40));
        continue;
      }
      return { reason: err.reason, code: err.code };
    }
  }
}

async function overlaps(db: Kysely<any>): Promise<{ providers: number; rooms: number }> {
  const p = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointments a join scheduling.appointments b
    on a.provider_id = b.provider_id and a.appointment_id < b.appointment_id and a.blocked && b.blocked
    where a.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN') and b.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN')`.execute(db);
  const r = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointment_resources a join scheduling.appointment_resources b
    on a.resource_id = b.resource_id and a.appointment_id < b.appointment_id and a.during && b.during where a.active and b.active`.execute(db);
  return { providers: Number(p.rows[0].n), rooms: Number(r.rows[0].n) };
}

for (const useLock of [true, false]) {
  t.test(useLock ? "with the provider's lock" : "without the lock: the constraints alone", async (t) => {
    const database = await createModuleDatabase(t, [schedulingModule], { maxConnections: 20 });
    const db = database.db;
    const clock = createFakeClock(new Date("2026-12-08T08:00:00Z"));
    const lockClient = useLock ? createLocalLockClient(await startLockService(t, (await openLockDatabase(t)).db)) : undefined;
    const svc = new SchedulingServiceImpl({ db, clock, lockClient }, { useLock, offerSweepIntervalMs: 0, listen: false, lockWaitMs: 10_000 });
    t.teardown(() => svc.close());
    for (const providerId of PROVIDERS) await createProviderIn(svc, ctx, { providerId, start: "09:00", end: `${9 + HOURS}:00`, slotMinutes: 15 });
    for (const resourceId of ROOMS) {
      await svc.createResource(create(CreateResourceRequestSchema, { resourceId, displayName: resourceId, kind: ResourceKind.ROOM }), ctx(m.createResource));
      await setCapabilities(db, resourceId, ["xray"]);
    }
    await insertVisitType(db, { visitTypeId: "vt-30", providerIds: PROVIDERS, durationMinutes: 30 });
    await insertVisitType(db, { visitTypeId: "vt-xray", providerIds: PROVIDERS, durationMinutes: 45, requiredCapabilities: ["xray"] });
    const random = seededRandom(useLock ? 20 : 21);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    const startAt = (maxMinutes: number) => DAY + 15 * MIN * Math.floor(random() * ((HOURS * 60 - maxMinutes) / 15 + 1));
    let n = 0;

    const hold = (i: number) => {
      const visitTypeId = pick(["vt-30", "vt-xray"]);
      const req = create(HoldSlotRequestSchema, { requestId: `hold-${++n}`, visitTypeId, providerId: pick(PROVIDERS), patientId: `pat-h${i}`, startTime: timestampFromDate(new Date(startAt(45))) });
      return outcomeOf(async () => create(HoldSlotResponseSchema, await svc.holdSlot(req, ctx(m.holdSlot))));
    };
    const book = (i: number) => {
      const minutes = pick([15, 30, 45]);
      const resourceIds = random() < 0.3 ? [pick(ROOMS)] : [];
      const req = create(BookAppointmentRequestSchema, {
        requestId: `book-${++n}`,
        providerId: pick(PROVIDERS),
        patientId: `pat-b${i}`,
        startTime: timestampFromDate(new Date(startAt(minutes))),
        duration: { seconds: BigInt(minutes * 60) },
        resourceIds,
      });
      return outcomeOf(async () => create(BookAppointmentResponseSchema, await svc.bookAppointment(req, ctx(m.bookAppointment))));
    };
    const series = (i: number) => {
      const req = create(BookSeriesRequestSchema, {
        requestId: `series-${++n}`,
        visitTypeId: pick(["vt-30", "vt-xray"]),
        providerId: pick(PROVIDERS),
        patientId: `pat-s${i}`,
        firstStartTime: timestampFromDate(new Date(startAt(45))),
        recurrence: { frequency: RecurrenceFrequency.DAILY, count: 2 + Math.floor(random() * 3) },
      });
      return outcomeOf(async () => create(BookSeriesResponseSchema, await svc.bookSeries(req, ctx(m.bookSeries))));
    };
    const confirm = (holdId: string) =>
      outcomeOf(async () => create(BookAppointmentResponseSchema, await svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId: `confirm-${++n}`, holdId }), ctx(m.bookAppointment))));

    // Wave 1: 100 holds, bookings and series at once.
    const wave1 = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 4 === 3
          ? series(i).then((r) => ({ kind: "series" as const, ...r }))
          : i % 4 !== 0
            ? hold(i).then((r) => ({ kind: "hold" as const, ...r }))
            : book(i).then((r) => ({ kind: "book" as const, ...r })),
      ),
    );
    const holds = wave1.filter((r) => r.kind === "hold" && r.reason === "OK").map((r) => (r.value as ReturnType<typeof create<typeof HoldSlotResponseSchema>>).hold!);
    t.ok(holds.length > 0, `${holds.length} holds taken in wave 1`);
    // Wave 2: confirmations of most holds, racing new holds and bookings, while every hold's TTL
    // passes: the clock moves on once 30 of the calls have answered.
    let answered = 0;
    const counted = <T>(p: Promise<T>) => p.finally(() => ++answered === 30 && clock.advance(6 * MIN));
    const toConfirm = holds.filter(() => random() < 0.7);
    const others = Array.from({ length: 100 - toConfirm.length }, (_, i) => 100 + i);
    const thunks = [
      ...toConfirm.map((h) => () => counted(confirm(h.holdId)).then((r) => ({ kind: "confirm" as const, holdId: h.holdId, ...r }))),
      ...others.map((i) => () =>
        i % 3 === 0
          ? counted(hold(i)).then((r) => ({ kind: "hold" as const, holdId: "", ...r }))
          : i % 3 === 1
            ? counted(book(i)).then((r) => ({ kind: "book" as const, holdId: "", ...r }))
            : counted(series(i)).then((r) => ({ kind: "series" as const, holdId: "", ...r })),
      ),
    ];
    // In a seeded random order, so that confirmations answer both before and after the clock moves.
    const order = thunks.map((call) => ({ call, key: random() })).sort((a, b) => a.key - b.key);
    const calls = order.map((o) => o.call());
    const wave2 = await Promise.all(calls);
    const all = [...wave1, ...wave2];
    t.equal(all.length, 200, "200 calls");
    const tally = new Map<string, number>();
    for (const r of all) tally.set(`${r.kind} ${r.reason}`, (tally.get(`${r.kind} ${r.reason}`) ?? 0) + 1);
    t.comment([...tally].map(([k, v]) => `${k}: ${v}`).join(", "));
    const unexpected = all.filter((r) => r.reason !== "OK" && r.code !== Code.FailedPrecondition);
    t.same(unexpected.map((r) => `${r.kind}: ${r.reason}`), [], "every refusal is FAILED_PRECONDITION");

    t.same(await overlaps(db), { providers: 0, rooms: 0 }, "no overlap of a provider's or a room's active time (SQL)");
    const seriesBooked = all.filter((r) => r.kind === "series" && r.reason === "OK").map((r) => (r.value as { series?: { seriesId: string; appointments: { appointmentId: string }[] } }).series!);
    t.ok(seriesBooked.length > 0, `${seriesBooked.length} series booked`);
    const acknowledged = [
      ...all.filter((r) => (r.kind === "book" || r.kind === "confirm") && r.reason === "OK").map((r) => (r.value as { appointment?: { appointmentId: string } }).appointment!.appointmentId),
      ...seriesBooked.flatMap((x) => x.appointments.map((a) => a.appointmentId)),
    ];
    // All or nothing: an acknowledged series has every occurrence, a refused one wrote none.
    const { rows: bySeries } = await sql<{ series_id: string; n: string }>`select series_id, count(*)::text as n from scheduling.appointments
      where series_id is not null group by series_id`.execute(db);
    const rowsOf = new Map(bySeries.map((r) => [r.series_id, Number(r.n)]));
    t.same(seriesBooked.filter((x) => rowsOf.get(x.seriesId) !== x.appointments.length).map((x) => x.seriesId), [], "every series booked has all its occurrences");
    t.equal(rowsOf.size, seriesBooked.length, "and no refused series left a row");
    const { rows: booked } = await sql<{ appointment_id: string }>`select appointment_id from scheduling.appointments where status = 'BOOKED'`.execute(db);
    const bookedIds = new Set(booked.map((r) => r.appointment_id));
    t.same(acknowledged.filter((id) => !bookedIds.has(id)), [], `every acknowledged booking is BOOKED (${acknowledged.length})`);
    t.equal(bookedIds.size, acknowledged.length, "and nothing else is");
    const refused = wave2.filter((r) => r.kind === "confirm" && r.reason !== "OK");
    t.ok(refused.every((r) => r.reason === "HOLD_EXPIRED"), "a refused confirmation is HOLD_EXPIRED");
    const { rows: refusedBooked } = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointments
      where hold_id = any(${refused.map((r) => r.holdId)}::text[]) and status = 'BOOKED'`.execute(db);
    t.equal(refusedBooked[0].n, "0", `no expired hold was booked (${refused.length} refused)`);

    // Every hold left unconfirmed has lapsed by now: its time books, unless something live holds it.
    const { rows: lapsed } = await sql<{ provider_id: string; s: Date; e: Date; appointment_id: string; live_others: boolean }>`
      select h.provider_id, lower(h.during) as s, upper(h.during) as e, h.appointment_id,
        exists (select 1 from scheduling.appointments o where o.provider_id = h.provider_id and o.appointment_id <> h.appointment_id
          and o.blocked && h.blocked and (o.status in ('BOOKED', 'CHECKED_IN') or (o.status = 'PROPOSED' and o.offer_expires_at > ${clock.now()}))) as live_others
      from scheduling.appointments h where h.hold_id is not null and h.status in ('PROPOSED', 'CANCELLED') order by lower(h.during)`.execute(db);
    t.ok(lapsed.length > 0, `${lapsed.length} holds lapsed`);
    for (const h of lapsed) {
      const r = await outcomeOf(() =>
        svc.bookAppointment(
          create(BookAppointmentRequestSchema, { requestId: `after-${++n}`, providerId: h.provider_id, patientId: "pat-after", startTime: timestampFromDate(h.s), duration: { seconds: BigInt((h.e.getTime() - h.s.getTime()) / 1000) } }),
          ctx(m.bookAppointment),
        ),
      );
      t.not(r.reason, "SLOT_HELD", "a lapsed hold holds nothing");
      if (!h.live_others) t.equal(r.reason, "OK", `the time of a lapsed hold with nothing live over it books (${h.s.toISOString()})`);
    }
    t.same(await overlaps(db), { providers: 0, rooms: 0 }, "still no overlap");
    const before = await sql<{ ids: string[] }>`select coalesce(array_agg(appointment_id order by appointment_id), '{}') as ids from scheduling.appointments where status = 'BOOKED'`.execute(db);
    clock.advance(60 * MIN);
    await svc.expireOffers();
    const after = await sql<{ ids: string[] }>`select coalesce(array_agg(appointment_id order by appointment_id), '{}') as ids from scheduling.appointments where status = 'BOOKED'`.execute(db);
    t.same(after.rows[0].ids, before.rows[0].ids, "the sweep frees no confirmed booking");
    const { rows: left } = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointments where hold_id is not null and status = 'PROPOSED'`.execute(db);
    t.equal(left[0].n, "0", "and expires every lapsed hold");
  });
}
