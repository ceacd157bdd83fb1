// Issue 20's property for SearchSlots, against real Postgres under a fake clock: for seeded random
// visit types (a length that need not be a multiple of the grid, buffers before and after, minimum
// notice and horizon, a required capability served by a few rooms), random provider schedules in
// Europe/Istanbul, America/New_York and Australia/Lord_Howe, other appointments already booked, and
// ranges around those zones' DST changes, SearchSlots never answers a slot that booking would refuse
// for a rule or a clash:
// * checked directly, independently of the search: each slot is a slot start of the schedule for the
//   visit's length (explainSlotStart), inside the request's range, not started, inside the rules
//   window and the booking horizon; its rooms are distinct, each has its capability and is free
//   (SQL); the visit's blocked time overlaps no active appointment of the provider (SQL); with a
//   patient, that local day holds fewer of their visits of the type than allowed;
// * by booking (BookAppointment with visitTypeId and the slot's resourceIds): every slot of a fresh search books, and booking every slot of a stale
//   one in random order refuses only for time taken meanwhile; afterwards no provider or room holds
//   two overlapping active appointments (SQL).
// A failing case prints its seed; SEARCH_PROPERTY_SEED replays one.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { sql } from "kysely";
import { DayOfWeek } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { BookAppointmentRequestSchema, SchedulingService, SearchSlotsRequestSchema, SearchSlotsResponseSchema, SetAvailabilityRequestSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { countPatientVisitsOfType } from "../../services/scheduling/repositories/visit-type.repository.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { explainSlotStart, type Schedule } from "../../services/scheduling/slots.js";
import { localDayOf } from "../../services/scheduling/visit-plan.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { ALL_DAYS, createProviderIn, directSchedulingService } from "../helpers/scheduling.js";
import { seededRandom } from "../helpers/seeded-random.js";
import { insertCapableResource, insertVisitType } from "../helpers/visit-types.js";

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const m = SchedulingService.method;
const HORIZON_MS = 365 * DAY;
const database = await createModuleDatabase(t, [schedulingModule]);
const db = database.db;
const clock = createFakeClock(new Date("2026-01-01T00:00:00Z"));
const svc = directSchedulingService(t, { db, clock });

/** The DST changes (and a plain Istanbul date) the ranges lie around: local date of the change. */
const CHANGES: { zone: string; date: string }[] = [
  { zone: "America/New_York", date: "2026-03-08" },
  { zone: "America/New_York", date: "2026-11-01" },
  { zone: "Australia/Lord_Howe", date: "2026-04-05" },
  { zone: "Australia/Lord_Howe", date: "2026-10-04" },
  { zone: "Europe/Istanbul", date: "2026-03-29" },
];
const HOURS = [
  { start: "00:00", end: "24:00" },
  { start: "01:00", end: "05:00" },
  { start: "00:00", end: "03:00" },
  { start: "08:00", end: "17:00", break: { start: "12:00", end: "13:00" } },
];
const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));

interface Case {
  seed: number;
  zone: string;
  schedules: Map<string, Schedule>;
  vt: { id: string; durationMs: number; beforeMs: number; afterMs: number; minNoticeMs: number; horizonMs: number; caps: string[]; maxPerDay: number };
  patientId: string | undefined;
  range: { start: number; end: number };
  /** now is the case's time (the fake clock). */
  now: number;
}

/** setUp writes one random case: providers, rooms, the visit type and appointments already booked. */
async function setUp(seed: number): Promise<Case> {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const change = pick(CHANGES);
  const changeAt = Date.parse(`${change.date}T00:00:00Z`);
  clock.set(new Date(changeAt - DAY - Math.floor(rnd() * 36) * 60 * MIN));
  const p = `c${seed}`;
  const schedules = new Map<string, Schedule>();
  for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) {
    const providerId = `${p}-p${i}`;
    const hours = pick(HOURS);
    const slotMinutes = pick([10, 15, 20, 30]);
    const bufferMinutes = pick([0, 0, 5, 10]);
    await createProviderIn(svc, ctx, { providerId, timeZone: change.zone, start: hours.start, end: hours.end, slotMinutes });
    const breaks = hours.break && rnd() < 0.5 ? ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: hours.break!.start, endTime: hours.break!.end })) : [];
    await svc.setAvailability(
      create(SetAvailabilityRequestSchema, {
        providerId,
        weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: hours.start, endTime: hours.end })),
        breaks,
        slotDuration: { seconds: BigInt(slotMinutes * 60) },
        buffer: { seconds: BigInt(bufferMinutes * 60) },
      }),
      ctx(m.setAvailability),
    );
    const minuteIntervals = (xs: { dayOfWeek: DayOfWeek; startTime: string; endTime: string }[]) => xs.map((x) => ({ dayOfWeek: x.dayOfWeek, startMinute: minutesOf(x.startTime), endMinute: minutesOf(x.endTime) }));
    schedules.set(providerId, {
      timeZone: change.zone,
      weeklyHours: minuteIntervals(ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: hours.start, endTime: hours.end }))),
      breaks: minuteIntervals(breaks),
      exceptions: [],
      slotMs: slotMinutes * MIN,
      bufferMs: bufferMinutes * MIN,
    });
  }
  const caps = rnd() < 0.6 ? ["us"] : [];
  const rooms: string[] = [];
  if (caps.length > 0) {
    for (let r = 0; r < 1 + Math.floor(rnd() * 3); r++) {
      rooms.push(`${p}-r${r}`);
      await insertCapableResource(db, `${p}-r${r}`, r === 1 ? ["xray", "us"] : ["us"]);
    }
    await insertCapableResource(db, `${p}-rx`, ["xray"]);
  }
  const vt = {
    id: `${p}-vt`,
    durationMs: pick([15, 20, 25, 30, 45, 50, 60]) * MIN,
    beforeMs: pick([0, 0, 5, 15]) * MIN,
    afterMs: pick([0, 5, 10]) * MIN,
    minNoticeMs: pick([0, 60, 600, 1800]) * MIN,
    horizonMs: pick([0, 0, 1440, 2880]) * MIN,
    caps,
    maxPerDay: pick([0, 1, 2]),
  };
  await insertVisitType(db, {
    visitTypeId: vt.id,
    durationMinutes: vt.durationMs / MIN,
    bufferBeforeMinutes: vt.beforeMs / MIN,
    bufferAfterMinutes: vt.afterMs / MIN,
    providerIds: [...schedules.keys()],
    requiredCapabilities: caps,
    minNoticeMinutes: vt.minNoticeMs / MIN,
    horizonMinutes: vt.horizonMs / MIN,
    maxPerPatientPerDay: vt.maxPerDay,
  });
  const range = { start: changeAt - DAY, end: changeAt + 3 * DAY };
  // Appointments already booked (one slot each, some with a room), a few of the patient's of the type.
  const patientId = rnd() < 0.5 ? `${p}-pat` : undefined;
  const now = clock.now().getTime();
  for (const [providerId, schedule] of schedules) {
    for (let k = 0; k < 12; k++) {
      const start = Math.ceil((range.start + rnd() * (range.end - range.start)) / schedule.slotMs) * schedule.slotMs;
      if (start < now || explainSlotStart(schedule, start, schedule.slotMs).kind !== "SLOT") continue;
      const mine = patientId !== undefined && rnd() < 0.3;
      const resourceIds = rooms.length > 0 && rnd() < 0.5 ? [pick(rooms)] : [];
      const request = create(BookAppointmentRequestSchema, { requestId: `${p}-busy-${providerId}-${k}`, providerId, patientId: mine ? patientId : `${p}-other`, startTime: timestampFromDate(new Date(start)), resourceIds });
      const booked = await svc.bookAppointment(request, ctx(m.bookAppointment)).catch((err: unknown) => {
        if (err instanceof DomainError) return undefined; // taken already: a random pick may clash
        throw err;
      });
      if (booked && mine) await sql`update scheduling.appointments set visit_type_id = ${vt.id} where appointment_id = ${booked.appointment!.appointmentId}`.execute(db);
    }
  }
  return { seed, zone: change.zone, schedules, vt, patientId, range, now };
}

/** searchAll walks every page of the case's search (random page sizes). */
async function searchAll(c: Case, rnd: () => number) {
  const out: { start: number; end: number; providerId: string; resourceIds: string[] }[] = [];
  let pageToken = "";
  for (let pages = 0; pages < 500; pages++) {
    const r = create(
      SearchSlotsResponseSchema,
      await svc.searchSlots(
        create(SearchSlotsRequestSchema, { visitTypeId: c.vt.id, startTime: timestampFromDate(new Date(c.range.start)), endTime: timestampFromDate(new Date(c.range.end)), patientId: c.patientId ?? "", pageSize: 5 + Math.floor(rnd() * 60), pageToken }),
        ctx(m.searchSlots),
      ),
    );
    out.push(...r.slots.map((s) => ({ start: timestampDate(s.startTime!).getTime(), end: timestampDate(s.endTime!).getTime(), providerId: s.providerId, resourceIds: s.resourceIds })));
    pageToken = r.nextPageToken;
    if (pageToken === "") return out;
  }
  throw new Error("more than 500 pages");
}

/** refusal is why booking the slot would be refused, checked without the search's code; undefined when it would not. */
async function refusal(c: Case, s: { start: number; end: number; providerId: string; resourceIds: string[] }): Promise<string | undefined> {
  const schedule = c.schedules.get(s.providerId);
  const now = clock.now().getTime();
  if (!schedule) return "a provider not offering the visit type";
  if (s.end - s.start !== c.vt.durationMs) return "not the visit type's length";
  if (s.start < c.range.start || s.end > c.range.end) return "outside the range asked for";
  const verdict = explainSlotStart(schedule, s.start, c.vt.durationMs);
  if (verdict.kind !== "SLOT") return `not a slot start: ${verdict.kind}`;
  if (s.start < now) return "started";
  if (s.end > now + HORIZON_MS) return "beyond the booking horizon";
  if (s.start < now + c.vt.minNoticeMs) return "inside the minimum notice";
  if (c.vt.horizonMs > 0 && s.start > now + c.vt.horizonMs) return "beyond the visit type's horizon";
  if (s.resourceIds.length !== c.vt.caps.length || new Set(s.resourceIds).size !== s.resourceIds.length) return "not one room per capability";
  for (const [i, resourceId] of s.resourceIds.entries()) {
    const { rows } = await sql<{ ok: boolean }>`select ${c.vt.caps[i]} = any(capabilities) and not exists (select 1 from scheduling.appointment_resources r
        where r.resource_id = ${resourceId} and r.active and r.during && tstzrange(${new Date(s.start)}, ${new Date(s.end)}, '[)')) as ok
      from scheduling.resources where resource_id = ${resourceId}`.execute(db);
    if (!rows[0]?.ok) return `room ${resourceId} lacks the capability or is booked`;
  }
  const blockedEnd = s.end + Math.max(c.vt.afterMs, schedule.bufferMs);
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from scheduling.appointments where provider_id = ${s.providerId}
      and status in ('PROPOSED', 'BOOKED', 'CHECKED_IN') and blocked && tstzrange(${new Date(s.start - c.vt.beforeMs)}, ${new Date(blockedEnd)}, '[)')`.execute(db);
  if (rows[0].n > 0) return "overlaps the provider's other appointments (with buffers)";
  if (c.patientId !== undefined && c.vt.maxPerDay > 0) {
    const day = localDayOf(s.start, c.zone);
    if ((await countPatientVisitsOfType(db, { patientId: c.patientId, visitTypeId: c.vt.id, from: day.from, to: day.to, now: clock.now() })) >= c.vt.maxPerDay) return "the patient's maximum that day";
  }
  return undefined;
}

async function overlaps(): Promise<{ providers: number; rooms: number }> {
  const { rows: p } = await sql<{ n: number }>`select count(*)::int as n from scheduling.appointments a join scheduling.appointments b
      on a.provider_id = b.provider_id and a.appointment_id < b.appointment_id and a.blocked && b.blocked
    where a.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN') and b.status in ('PROPOSED', 'BOOKED', 'CHECKED_IN')`.execute(db);
  const { rows: r } = await sql<{ n: number }>`select count(*)::int as n from scheduling.appointment_resources a join scheduling.appointment_resources b
      on a.resource_id = b.resource_id and a.appointment_id < b.appointment_id and a.during && b.during where a.active and b.active`.execute(db);
  return { providers: p[0].n, rooms: r[0].n };
}

const seeds = process.env.SEARCH_PROPERTY_SEED ? [Number(process.env.SEARCH_PROPERTY_SEED)] : Array.from({ length: 24 }, (_, i) => 2000 + i);
const cases: Case[] = [];

t.test("every slot answered passes booking's checks, done independently", async (t) => {
  let answered = 0;
  for (const seed of seeds) {
    const c = await setUp(seed);
    cases.push(c);
    const slots = await searchAll(c, seededRandom(seed + 1));
    answered += slots.length;
    const sorted = slots.every((s, i) => i === 0 || slots[i - 1].start < s.start || (slots[i - 1].start === s.start && slots[i - 1].providerId < s.providerId));
    t.ok(sorted, `seed ${seed}: in time order, ties by provider, no repeats`);
    const bad: string[] = [];
    for (const s of slots) {
      const why = await refusal(c, s);
      if (why) bad.push(`${new Date(s.start).toISOString()} ${s.providerId}: ${why}`);
    }
    t.same(bad.slice(0, 5), [], `seed ${seed} (${c.zone}, ${slots.length} slots): none booking would refuse`);
  }
  t.ok(answered > 100, `${answered} slots checked`);
});

t.test(
  "booking the slots answered: a fresh search's slot always books, a stale one is refused only as taken; no overlap of provider or room",
  async (t) => {
    for (const c of cases) {
      clock.set(new Date(c.now));
      const rnd = seededRandom(c.seed + 2);
      const stale = await searchAll(c, rnd);
      for (let k = 0; k < 6; k++) {
        const fresh = await searchAll(c, rnd);
        if (fresh.length === 0) break;
        const s = fresh[Math.floor(rnd() * fresh.length)];
        const got = await book(c, s, `fresh-${k}`);
        t.equal(got, "OK", `seed ${c.seed}: the fresh slot ${new Date(s.start).toISOString()} with ${s.providerId} books`);
      }
      const order = stale.map((s) => ({ s, key: rnd() })).sort((a, b) => a.key - b.key);
      for (const [i, { s }] of order.entries()) {
        const got = await book(c, s, `stale-${i}`);
        t.ok(["OK", "SLOT_TAKEN", "RESOURCE_TAKEN", "MAX_PER_PATIENT_PER_DAY"].includes(got), `seed ${c.seed}: booking a stale slot: ${got}`);
      }
      t.same(await overlaps(), { providers: 0, rooms: 0 }, `seed ${c.seed}: no overlap`);
    }
  },
);

/** book books a slot as the search answered it (visit type, rooms); "OK" or the refusal's reason. */
async function book(c: Case, s: { start: number; providerId: string; resourceIds: string[] }, key: string): Promise<string> {
  const request = create(BookAppointmentRequestSchema, {
    requestId: `c${c.seed}-${key}`,
    providerId: s.providerId,
    patientId: c.patientId ?? `c${c.seed}-${key}`,
    startTime: timestampFromDate(new Date(s.start)),
    visitTypeId: c.vt.id,
    resourceIds: s.resourceIds,
  });
  return svc.bookAppointment(request, ctx(m.bookAppointment)).then(
    () => "OK",
    (err: unknown) => (err instanceof DomainError ? err.reason : Promise.reject(err)),
  );
}
