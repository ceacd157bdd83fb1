// BookSeries and CancelSeries over gRPC in a running system, with the provider's lock and its
// fencing token: racing series of different patients over overlapping times leave no overlap, every
// series all or nothing (each refused one naming its occurrence in ErrorInfo); a patient cancels
// their own series and cannot reach another's.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { sql } from "kysely";
import { RecurrenceFrequency } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { rpcErrorInfoOf, type RpcErrorInfo } from "../helpers/call-outcome.js";
import { schedulingClient, setUpProvider, systemDb } from "../helpers/scheduling.js";
import { seededRandom as prng } from "../helpers/seeded-random.js";
import { startTestSystem } from "../helpers/system.js";

const MIN = 60_000;
const DAY_MS = 24 * 60 * MIN;
/** MONDAY is 09:00 UTC on a Monday at least a week ahead. */
const MONDAY = (() => {
  const d = Math.floor(Date.now() / DAY_MS) * DAY_MS + 7 * DAY_MS;
  return d + ((8 - new Date(d).getUTCDay()) % 7) * DAY_MS + 9 * 60 * MIN;
})();
const SERIES = 40;

const sys = await startTestSystem(t);
const client = await schedulingClient(sys, "receptionist", "rec-1");
const db = await systemDb(sys);
const providerId = await setUpProvider(client, { start: "09:00", end: "14:00", slotMinutes: 15 });
await db
  .insertInto("scheduling.visit_types")
  .values({ visit_type_id: "vt-race", location_id: "default", display_name: "Physio", duration_minutes: 30, provider_ids: [providerId], patient_bookable: true, created_at: new Date(), updated_at: new Date() })
  .execute();

/** bookSeries sends one weekly series of 4, retrying ABORTED and UNAVAILABLE as clients do. */
async function bookSeries(c: Client<typeof SchedulingService>, requestId: string, patientId: string, start: number): Promise<RpcErrorInfo & { seriesId?: string }> {
  for (let tries = 0; ; tries++) {
    let seriesId: string | undefined;
    const got = await rpcErrorInfoOf(
      c.bookSeries({ requestId, visitTypeId: "vt-race", providerId, patientId, firstStartTime: timestampFromDate(new Date(start)), recurrence: { frequency: RecurrenceFrequency.WEEKLY, count: 4 } }).then((r) => {
        seriesId = r.series?.seriesId;
      }),
    );
    if ((got.code === Code.Aborted || got.code === Code.Unavailable) && tries < 100) {
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 90));
      continue;
    }
    return { ...got, seriesId };
  }
}

t.test(`${SERIES} racing series over overlapping times: no overlap, each all or nothing`, async (t) => {
  const rnd = prng(20);
  const results = await Promise.all(
    Array.from({ length: SERIES }, (_, i) => bookSeries(client, `race-${i}`, `pat-race-${i}`, MONDAY + Math.floor(rnd() * 8) * 15 * MIN)),
  );
  const ok = results.filter((r) => r.code === "OK");
  const refused = results.filter((r) => r.code !== "OK");
  t.ok(ok.length > 0 && refused.length > 0, `${ok.length} series booked, ${refused.length} refused`);
  t.same(refused.filter((r) => r.code !== Code.FailedPrecondition || r.metadata?.occurrence === undefined).map((r) => r.message), [], "every refusal is FAILED_PRECONDITION naming its occurrence");
  const { rows: overlaps } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments a join scheduling.appointments b
    on a.provider_id = b.provider_id and a.appointment_id < b.appointment_id and a.blocked && b.blocked
    where a.provider_id = ${providerId} and a.status = 'BOOKED' and b.status = 'BOOKED'`.execute(db);
  t.equal(Number(overlaps[0].n), 0, "no two booked appointments overlap");
  const { rows } = await sql<{ series_id: string; n: string }>`select series_id, count(*) as n from scheduling.appointments
    where provider_id = ${providerId} and series_id is not null group by series_id`.execute(db);
  t.equal(rows.length, ok.length, "one series per success, none for a refusal");
  t.same(rows.filter((r) => Number(r.n) !== 4), [], "every series has all 4 occurrences");
  t.same(new Set(rows.map((r) => r.series_id)), new Set(ok.map((r) => r.seriesId)));
});

t.test("a patient cancels their own series over gRPC, and cannot reach another's", async (t) => {
  const start = MONDAY + 3 * 60 * MIN; // 12:00
  const mine = await client.bookSeries({ requestId: "own-1", visitTypeId: "vt-race", providerId, patientId: "pat-own", firstStartTime: timestampFromDate(new Date(start)), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 3 } });
  const other = await client.bookSeries({ requestId: "own-2", visitTypeId: "vt-race", providerId, patientId: "pat-else", firstStartTime: timestampFromDate(new Date(start + 60 * MIN)), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 3 } });
  const patient = await schedulingClient(sys, "patient", "pat-own");
  const denied = await rpcErrorInfoOf(patient.cancelSeries({ requestId: "own-c1", seriesId: other.series!.seriesId, fromAppointmentId: other.series!.appointments[0].appointmentId }));
  t.equal(denied.code, Code.NotFound, "another patient's series is not found");
  const r = await patient.cancelSeries({ requestId: "own-c2", seriesId: mine.series!.seriesId, fromAppointmentId: mine.series!.appointments[1].appointmentId, reason: "feeling better" });
  t.same(r.cancelled, mine.series!.appointments.slice(1).map((a) => a.appointmentId));
  const booked = await patient.bookSeries({ requestId: "own-3", visitTypeId: "vt-race", providerId, patientId: "pat-own", firstStartTime: timestampFromDate(new Date(start + 30 * MIN)), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 2 } });
  t.equal(booked.series!.appointments.length, 2, "a patient books a short series for themselves");
  const forOther = await rpcErrorInfoOf(patient.bookSeries({ requestId: "own-4", visitTypeId: "vt-race", providerId, patientId: "pat-else", firstStartTime: timestampFromDate(new Date(start + 30 * MIN)), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 2 } }));
  t.equal(forOther.code, Code.PermissionDenied, "but not for another patient");
});
