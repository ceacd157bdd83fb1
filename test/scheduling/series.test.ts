// Recurring series (issue 20, item 5) against real Postgres (and PGlite once) under a fake clock:
// BookSeries keeps the local wall-clock time across the DST changes of America/New_York, books all
// or nothing (a clash of the 3rd occurrence books none and names it), refuses or skips a local time
// that does not exist, counts and until dates, idempotent; CancelSeries cancels exactly "this and
// following" of one series, offers each freed time to the waitlist; a rescheduled occurrence keeps
// its place, so the series keeps exactly N active occurrences.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { sql, type Kysely } from "kysely";
import { AppointmentStatus, RecurrenceFrequency, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  BookSeriesRequestSchema,
  CancelSeriesRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  RescheduleAppointmentRequestSchema,
  SchedulingService,
  type BookSeriesRequest,
  type BookSeriesResponse,
  type CancelSeriesResponse,
  type RescheduleAppointmentResponse,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createFakeClock } from "../../services/runtime/clock.js";
import type { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { localDateOf, wallOf, wallOfDate } from "../../services/scheduling/zone-time.js";
import { domainFailure as failure, violatedFields } from "../helpers/call-outcome.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createModuleDatabase } from "../helpers/module-database.js";
import { createProviderIn, directSchedulingService, testReasonVault } from "../helpers/scheduling.js";

const m = SchedulingService.method;
const NY = "America/New_York";
const database = await createModuleDatabase(t, [schedulingModule]);
const clock = createFakeClock(new Date("2027-01-15T12:00:00Z"));
const svc = directSchedulingService(t, { db: database.db, clock });

/** insertVisitType adds a visit type directly (until visit types can be created over the API). */
async function insertVisitType(db: Kysely<any>, visitTypeId: string, providerIds: string[], extra: Record<string, unknown> = {}) {
  const now = new Date();
  await db
    .insertInto("scheduling.visit_types")
    .values({ visit_type_id: visitTypeId, location_id: "default", display_name: `Visit ${visitTypeId}`, duration_minutes: 30, provider_ids: providerIds, patient_bookable: true, created_at: now, updated_at: now, ...extra })
    .execute();
}

type SeriesInit = MessageInitShape<typeof BookSeriesRequestSchema>;

/** series books a series on the direct service as `role`. */
async function series(s: SchedulingServiceImpl, init: SeriesInit, role: "receptionist" | "patient" = "receptionist", subject = "rec-1"): Promise<BookSeriesResponse> {
  return (await s.bookSeries(create(BookSeriesRequestSchema, init), ctx(m.bookSeries, role, subject))) as BookSeriesResponse;
}

function weekly(count: number, interval = 0): BookSeriesRequest["recurrence"] {
  return { frequency: RecurrenceFrequency.WEEKLY, interval, count, until: "" } as BookSeriesRequest["recurrence"];
}

const at = (iso: string) => timestampFromDate(new Date(iso));
const localTimeOf = (a: Appointment) => {
  const ms = timestampDate(a.startTime!).getTime();
  const date = localDateOf(ms, NY);
  return { date, time: new Date(wallOf(ms, NY) - wallOfDate(date)).toISOString().slice(11, 16) };
};

/** active lists the active (BOOKED) appointments of a series, by series_index. */
async function activeOf(seriesId: string): Promise<{ appointment_id: string; series_index: number; status: string }[]> {
  return database.db
    .selectFrom("scheduling.appointments")
    .select(["appointment_id", "series_index", "status"])
    .where("series_id", "=", seriesId)
    .where("status", "in", ["BOOKED", "CHECKED_IN", "PROPOSED"])
    .orderBy("series_index")
    .execute();
}

await createProviderIn(svc, ctx, { providerId: "ny", displayName: "Dr. New York", timeZone: NY, start: "08:00", end: "18:00", slotMinutes: 30 });
await createProviderIn(svc, ctx, { providerId: "ny-night", displayName: "Dr. Night", timeZone: NY, start: "00:00", end: "24:00", slotMinutes: 30 });
await insertVisitType(database.db, "vt-30", ["ny", "ny-night"]);

t.test("a weekly series across the March and November DST changes keeps 09:00 local on every occurrence", async (t) => {
  // Monday 1 February 2027 09:00 EST (14:00Z), 45 weeks: to Monday 6 December 2027, across 14 March and 7 November.
  const r = await series(svc, { requestId: "dst-1", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-dst", firstStartTime: at("2027-02-01T14:00:00Z"), recurrence: weekly(45) });
  const s = r.series!;
  t.match(s.seriesId, /^s-[0-9a-f-]{36}$/);
  t.equal(s.appointments.length, 45);
  t.same(s.skippedDates, []);
  for (const [i, a] of s.appointments.entries()) {
    const local = localTimeOf(a);
    t.equal(local.time, "09:00", `occurrence ${i + 1} on ${local.date} at 09:00 local`);
    t.equal(new Date(`${local.date}T00:00:00Z`).getUTCDay(), 1, "on a Monday");
    t.equal(a.seriesId, s.seriesId);
    t.equal(a.seriesIndex, i + 1);
    t.equal(a.visitTypeId, "vt-30");
    t.equal(a.status, AppointmentStatus.BOOKED);
  }
  const utc = (i: number) => timestampDate(s.appointments[i].startTime!).toISOString();
  t.equal(utc(0), "2027-02-01T14:00:00.000Z", "EST before 14 March");
  t.equal(utc(6), "2027-03-15T13:00:00.000Z", "EDT after 14 March");
  t.equal(utc(39), "2027-11-01T13:00:00.000Z", "still EDT on 1 November");
  t.equal(utc(40), "2027-11-08T14:00:00.000Z", "EST after 7 November");
  t.equal((await activeOf(s.seriesId)).length, 45, "45 active rows share the series id");
  // Replay: the same answer, nothing new.
  const again = await series(svc, { requestId: "dst-1", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-dst", firstStartTime: at("2027-02-01T14:00:00Z"), recurrence: weekly(45) });
  t.equal(again.series!.seriesId, s.seriesId, "a replay answers the same series");
  t.same(again.series!.appointments.map((a) => a.appointmentId), s.appointments.map((a) => a.appointmentId));
  t.equal((await activeOf(s.seriesId)).length, 45, "and books nothing more");
  const reused = await failure(series(svc, { requestId: "dst-1", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-dst", firstStartTime: at("2027-02-01T14:00:00Z"), recurrence: weekly(44) }));
  t.equal(reused.reason, "REQUEST_ID_REUSED", "the requestId with other details");
});

t.test("daily, every 2 days, and until a date", async (t) => {
  const daily = await series(svc, {
    requestId: "daily-1",
    visitTypeId: "vt-30",
    providerId: "ny",
    patientId: "pat-daily",
    firstStartTime: at("2027-04-05T14:30:00Z"), // 10:30 EDT
    recurrence: { frequency: RecurrenceFrequency.DAILY, count: 5 },
  });
  t.same(daily.series!.appointments.map((a) => localTimeOf(a)), ["05", "06", "07", "08", "09"].map((d) => ({ date: `2027-04-${d}`, time: "10:30" })));
  const every2 = await series(svc, {
    requestId: "daily-2",
    visitTypeId: "vt-30",
    providerId: "ny",
    patientId: "pat-daily",
    firstStartTime: at("2027-04-05T15:00:00Z"),
    recurrence: { frequency: RecurrenceFrequency.DAILY, interval: 2, count: 3 },
  });
  t.same(every2.series!.appointments.map((a) => localTimeOf(a).date), ["2027-04-05", "2027-04-07", "2027-04-09"]);
  const weeks2 = await series(svc, { requestId: "daily-3", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-daily", firstStartTime: at("2027-04-05T16:00:00Z"), recurrence: weekly(3, 2) });
  t.same(weeks2.series!.appointments.map((a) => localTimeOf(a).date), ["2027-04-05", "2027-04-19", "2027-05-03"], "every 2 weeks");
  const until = await series(svc, {
    requestId: "daily-4",
    visitTypeId: "vt-30",
    providerId: "ny",
    patientId: "pat-daily",
    firstStartTime: at("2027-04-05T17:00:00Z"),
    recurrence: { frequency: RecurrenceFrequency.DAILY, interval: 3, until: "2027-04-14" },
  });
  t.same(until.series!.appointments.map((a) => localTimeOf(a).date), ["2027-04-05", "2027-04-08", "2027-04-11", "2027-04-14"], "until a date, inclusive");
});

t.test("more than 52 occurrences, or a bad recurrence, is refused", async (t) => {
  const base: SeriesInit = { requestId: "long-1", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-long", firstStartTime: at("2027-02-02T13:00:00Z") };
  t.same(await violatedFields(series(svc, { ...base, recurrence: weekly(53) })), ["recurrence.count"], "count 53");
  t.same(await violatedFields(series(svc, { ...base, recurrence: { frequency: RecurrenceFrequency.DAILY, until: "2027-03-26" } })), ["recurrence.until"], "until making 53 daily occurrences");
  t.same(await violatedFields(series(svc, { ...base, recurrence: { frequency: RecurrenceFrequency.DAILY, count: 2, until: "2027-03-01" } })), ["recurrence.until"], "count and until");
  t.same(await violatedFields(series(svc, { ...base, recurrence: { frequency: RecurrenceFrequency.DAILY } })), ["recurrence.count"], "neither");
  t.same(await violatedFields(series(svc, { ...base, recurrence: { count: 2 } })), ["recurrence.frequency"], "no frequency");
  t.same(await violatedFields(series(svc, { ...base, recurrence: { frequency: RecurrenceFrequency.DAILY, count: 2, interval: 53 } })), ["recurrence.interval"], "interval 53");
  t.same(await violatedFields(series(svc, { ...base, recurrence: { frequency: RecurrenceFrequency.DAILY, until: "2027-02-01" } })), ["recurrence.until"], "until before the first");
  const ok = await series(svc, { ...base, recurrence: { frequency: RecurrenceFrequency.DAILY, until: "2027-03-25" } });
  t.equal(ok.series!.appointments.length, 52, "exactly 52 is fine");
});

t.test("a series whose 3rd occurrence clashes books nothing and names occurrence 3", async (t) => {
  await svc.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: "clash-0", providerId: "ny", patientId: "pat-other", startTime: at("2027-06-21T18:00:00Z"), duration: { seconds: 1800n } }),
    ctx(m.bookAppointment),
  );
  const e = await failure(series(svc, { requestId: "clash-1", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-clash", firstStartTime: at("2027-06-07T18:00:00Z"), recurrence: weekly(6) }));
  t.equal(e.reason, "SLOT_TAKEN", e.message);
  t.equal(e.metadata.occurrence, "3");
  t.equal(e.metadata.occurrenceLocalDate, "2027-06-21");
  t.match(e.message, /^occurrence 3 of 6 \(Monday 21 June 2027\) cannot be booked: .*nothing of the series was booked$/);
  const rows = await database.db.selectFrom("scheduling.appointments").select("appointment_id").where("patient_id", "=", "pat-clash").execute();
  t.same(rows, [], "no occurrence was booked");
  // 13:00 local every Monday from 27 December 2027: the 4th, 17 January 2028, is past the 365-day horizon.
  const far = await failure(series(svc, { requestId: "clash-2", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-clash", firstStartTime: at("2027-12-27T18:00:00Z"), recurrence: weekly(4) }));
  t.equal(far.reason, "BEYOND_HORIZON", far.message);
  t.equal(far.metadata.occurrence, "4");
  t.equal(far.metadata.occurrenceLocalDate, "2028-01-17");
});

t.test("a local time that does not exist fails the series, or is skipped and listed", async (t) => {
  // 02:30 daily from Friday 12 March 2027: Sunday 14 March has no 02:30 in New York.
  const base: SeriesInit = { visitTypeId: "vt-30", providerId: "ny-night", patientId: "pat-gap", firstStartTime: at("2027-03-12T07:30:00Z"), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 4 } };
  const e = await failure(series(svc, { ...base, requestId: "gap-1" }));
  t.equal(e.reason, "NONEXISTENT_LOCAL_TIME");
  t.equal(e.metadata.localDate, "2027-03-14");
  t.equal(e.metadata.localTime, "02:30");
  t.equal(e.metadata.occurrence, "3");
  t.match(e.message, /^02:30 does not exist on Sunday 14 March 2027 in America\/New_York/);
  t.same(await database.db.selectFrom("scheduling.appointments").select("appointment_id").where("patient_id", "=", "pat-gap").execute(), [], "nothing booked");
  const skipped = await series(svc, { ...base, requestId: "gap-2", skipNonexistent: true });
  t.same(skipped.series!.skippedDates, ["2027-03-14"]);
  t.same(skipped.series!.appointments.map((a) => [localTimeOf(a).date, localTimeOf(a).time, a.seriesIndex]), [
    ["2027-03-12", "02:30", 1],
    ["2027-03-13", "02:30", 2],
    ["2027-03-15", "02:30", 4],
  ], "skipped occurrences count toward count and keep their place");
  // 01:30 daily across Sunday 7 November 2027, when 01:30 happens twice: the first one (EDT).
  const back = await series(svc, { visitTypeId: "vt-30", providerId: "ny-night", patientId: "pat-gap", requestId: "gap-3", firstStartTime: at("2027-11-06T05:30:00Z"), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 3 } });
  t.same(back.series!.appointments.map((a) => timestampDate(a.startTime!).toISOString()), ["2027-11-06T05:30:00.000Z", "2027-11-07T05:30:00.000Z", "2027-11-08T06:30:00.000Z"]);
});

/** bookSix books a weekly series of `count` for `patientId` from `first`. */
async function bookWeekly(requestId: string, patientId: string, first: string, count: number) {
  return (await series(svc, { requestId, visitTypeId: "vt-30", providerId: "ny", patientId, firstStartTime: at(first), recurrence: weekly(count) })).series!;
}

async function cancelSeries(requestId: string, seriesId: string, fromAppointmentId: string, role: "receptionist" | "patient" = "receptionist", subject = "rec-1"): Promise<CancelSeriesResponse> {
  return (await svc.cancelSeries(create(CancelSeriesRequestSchema, { requestId, seriesId, fromAppointmentId, reason: "treatment finished" }), ctx(m.cancelSeries, role, subject))) as CancelSeriesResponse;
}

t.test('"this and following" cancels exactly those: no earlier one, none of another series', async (t) => {
  const a = await bookWeekly("tf-a", "pat-tf", "2027-08-02T15:00:00Z", 6);
  const b = await bookWeekly("tf-b", "pat-tf2", "2027-08-02T16:00:00Z", 6);
  const r = await cancelSeries("tf-c", a.seriesId, a.appointments[2].appointmentId);
  t.same(r.cancelled, a.appointments.slice(2).map((x) => x.appointmentId), "occurrences 3-6, in order");
  t.same((await activeOf(a.seriesId)).map((x) => x.series_index), [1, 2], "1 and 2 stay");
  t.equal((await activeOf(b.seriesId)).length, 6, "the other series is untouched");
  const again = await cancelSeries("tf-c", a.seriesId, a.appointments[2].appointmentId);
  t.same(again.cancelled, r.cancelled, "a replay answers the same");
  const none = await cancelSeries("tf-d", a.seriesId, a.appointments[3].appointmentId);
  t.same(none.cancelled, [], "nothing left to cancel from 4 on");
  const a2 = await bookWeekly("tf-a2", "pat-tf", "2027-08-02T17:00:00Z", 1);
  t.equal((await failure(cancelSeries("tf-e", a2.seriesId, a.appointments[0].appointmentId))).reason, "INVALID_ARGUMENT", "an appointment of the patient's other series");
  t.equal((await failure(cancelSeries("tf-e2", b.seriesId, a.appointments[0].appointmentId))).reason, "SERIES_NOT_FOUND", "another patient's series is not revealed");
  t.equal((await failure(cancelSeries("tf-f", "s-nope", a.appointments[0].appointmentId))).reason, "SERIES_NOT_FOUND");
  t.equal((await failure(cancelSeries("tf-g", b.seriesId, b.appointments[0].appointmentId, "patient", "pat-tf"))).reason, "APPOINTMENT_NOT_FOUND", "a patient, another's series");
  const own = await cancelSeries("tf-h", b.seriesId, b.appointments[4].appointmentId, "patient", "pat-tf2");
  t.same(own.cancelled, b.appointments.slice(4).map((x) => x.appointmentId), "a patient cancels their own");
  // Occurrences that have started or ended are left alone.
  clock.set(new Date("2027-08-09T15:10:00Z"));
  const started = await cancelSeries("tf-i", a.seriesId, a.appointments[0].appointmentId);
  t.same(started.cancelled, [], "1 has ended, 2 has started: neither is cancelled");
  clock.set(new Date("2027-01-15T12:00:00Z"));
});

t.test("after rescheduling one occurrence exactly N occurrences of the series are active", async (t) => {
  const s = await bookWeekly("rs-a", "pat-rs", "2027-09-06T14:00:00Z", 5);
  const moved = (await svc.rescheduleAppointment(
    create(RescheduleAppointmentRequestSchema, { requestId: "rs-m", appointmentId: s.appointments[1].appointmentId, newStartTime: at("2027-09-14T14:00:00Z") }),
    ctx(m.rescheduleAppointment),
  )) as RescheduleAppointmentResponse;
  t.equal(moved.appointment!.seriesId, s.seriesId, "the new appointment keeps the series");
  t.equal(moved.appointment!.seriesIndex, 2, "and its place");
  t.equal(moved.appointment!.visitTypeId, "vt-30");
  const active = await activeOf(s.seriesId);
  t.same(active.map((x) => x.series_index), [1, 2, 3, 4, 5], "exactly 5 active, one per place");
  const r = await cancelSeries("rs-c", s.seriesId, s.appointments[1].appointmentId);
  t.same(r.cancelled, [moved.appointment!.appointmentId, ...s.appointments.slice(2).map((x) => x.appointmentId)], "from the moved one's place: its successor and the later ones");
  t.same((await activeOf(s.seriesId)).map((x) => x.series_index), [1]);
});

t.test("CancelSeries offers each freed time to the waitlist", async (t) => {
  const s = await bookWeekly("wl-a", "pat-wl", "2027-10-04T14:00:00Z", 3);
  await svc.joinWaitlist(
    create(JoinWaitlistRequestSchema, { requestId: "wl-j", providerId: "ny", patientId: "pat-waiting", windowStartTime: at("2027-10-18T13:00:00Z"), windowEndTime: at("2027-10-18T15:00:00Z") }),
    ctx(m.joinWaitlist),
  );
  await cancelSeries("wl-c", s.seriesId, s.appointments[1].appointmentId);
  const offers = ((await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId: "pat-waiting", statuses: [AppointmentStatus.PROPOSED] }), ctx(m.listAppointments))).appointments ?? []) as Appointment[];
  t.equal(offers.length, 1, "the waiting patient is offered the freed time");
  t.equal(timestampDate(offers[0]!.startTime!).toISOString(), "2027-10-18T14:00:00.000Z", "occurrence 3's time");
});

t.test("a patient books a series only up to the upcoming limit, and never overrides a rule", async (t) => {
  const base: SeriesInit = { visitTypeId: "vt-30", providerId: "ny", patientId: "pat-self", firstStartTime: at("2027-05-03T17:00:00Z") };
  const e = await failure(series(svc, { ...base, requestId: "self-1", recurrence: weekly(6) }, "patient", "pat-self"));
  t.equal(e.reason, "PATIENT_BOOKING_LIMIT", e.message);
  t.equal(e.metadata.occurrences, "6");
  const ok = await series(svc, { ...base, requestId: "self-2", recurrence: weekly(5) }, "patient", "pat-self");
  t.equal(ok.series!.appointments.length, 5, "5 is within the limit");
  const o = await failure(series(svc, { ...base, requestId: "self-3", recurrence: weekly(1), overrideReason: "please" }, "patient", "pat-self"));
  t.equal(o.reason, "OVERRIDE_NOT_ALLOWED");
});

t.test("PGlite: a series is booked and cancelled the same way", async (t) => {
  const embedded = await createModuleDatabase(t, [schedulingModule], { embedded: true });
  const s2 = directSchedulingService(t, { db: embedded.db, clock });
  await createProviderIn(s2, ctx, { providerId: "ny", timeZone: NY, start: "08:00", end: "18:00", slotMinutes: 30 });
  await insertVisitType(embedded.db, "vt-30", ["ny"]);
  const r = await series(s2, { requestId: "pg-1", visitTypeId: "vt-30", providerId: "ny", patientId: "pat-pg", firstStartTime: at("2027-03-08T14:00:00Z"), recurrence: weekly(3) });
  t.same(r.series!.appointments.map((a) => localTimeOf(a).time), ["09:00", "09:00", "09:00"], "09:00 before and after 14 March");
  const c = (await s2.cancelSeries(create(CancelSeriesRequestSchema, { requestId: "pg-2", seriesId: r.series!.seriesId, fromAppointmentId: r.series!.appointments[1].appointmentId }), ctx(m.cancelSeries))) as CancelSeriesResponse;
  t.same(c.cancelled, r.series!.appointments.slice(1).map((a) => a.appointmentId));
});

t.test("visit type rules apply to every occurrence; staff override them with a reason, audited", async (t) => {
  // Two days' notice: a series starting tomorrow is refused at occurrence 1 unless staff override it.
  await insertVisitType(database.db, "vt-notice", ["ny"], { min_notice_minutes: 2 * 24 * 60 });
  const base: SeriesInit = { visitTypeId: "vt-notice", providerId: "ny", patientId: "pat-rule", firstStartTime: at("2027-01-16T19:00:00Z"), recurrence: weekly(2) };
  const e = await failure(series(svc, { ...base, requestId: "rule-1" }));
  t.equal(e.reason, "MIN_NOTICE", e.message);
  t.equal(e.metadata.occurrence, "1");
  const ok = await series(svc, { ...base, requestId: "rule-2", overrideReason: "urgent follow-up" });
  t.equal(ok.series!.appointments.length, 2, "staff override the rule");
  const { rows: audited } = await sql<{ action: string; override_reason: string; override_reason_key_id: string | null }>`select action, override_reason, override_reason_key_id from scheduling.audit_log
    where record_id = any(${ok.series!.appointments.map((a) => a.appointmentId)}::text[])`.execute(database.db);
  t.same(audited.map((a) => [a.action, testReasonVault().openOverride({ value: a.override_reason, keyId: a.override_reason_key_id })]), [["BookSeries", "urgent follow-up"], ["BookSeries", "urgent follow-up"]], "each occurrence audited with the override's reason");
  // At most one a day: a daily series on top of an existing visit that day names that occurrence.
  await insertVisitType(database.db, "vt-once", ["ny"], { max_per_patient_per_day: 1 });
  await series(svc, { requestId: "rule-3", visitTypeId: "vt-once", providerId: "ny", patientId: "pat-rule", firstStartTime: at("2027-07-07T19:00:00Z"), recurrence: weekly(1) });
  const day = await failure(series(svc, { requestId: "rule-4", visitTypeId: "vt-once", providerId: "ny", patientId: "pat-rule", firstStartTime: at("2027-07-05T20:00:00Z"), recurrence: { frequency: RecurrenceFrequency.DAILY, count: 4 } }));
  t.equal(day.reason, "MAX_PER_PATIENT_PER_DAY", day.message);
  t.equal(day.metadata.occurrence, "3");
  const offered = await failure(series(svc, { requestId: "rule-5", visitTypeId: "vt-once", providerId: "ny-night", patientId: "pat-rule", firstStartTime: at("2027-07-05T20:00:00Z"), recurrence: weekly(1) }));
  t.equal(offered.reason, "NOT_OFFERED_BY_PROVIDER");
});

t.test("a patient cancels a series only before the visit type's cutoff", async (t) => {
  await insertVisitType(database.db, "vt-cutoff", ["ny"], { patient_cancel_cutoff_minutes: 24 * 60 });
  const s = (await series(svc, { requestId: "cut-1", visitTypeId: "vt-cutoff", providerId: "ny", patientId: "pat-cut", firstStartTime: at("2027-02-03T19:00:00Z"), recurrence: weekly(3) })).series!;
  clock.set(new Date("2027-02-03T00:00:00Z")); // 19 hours before the first
  const e = await failure(cancelSeries("cut-c1", s.seriesId, s.appointments[0].appointmentId, "patient", "pat-cut"));
  t.equal(e.reason, "PATIENT_CANCEL_CUTOFF", e.message);
  t.equal((await activeOf(s.seriesId)).length, 3, "nothing cancelled");
  const later = await cancelSeries("cut-c2", s.seriesId, s.appointments[1].appointmentId, "patient", "pat-cut");
  t.equal(later.cancelled.length, 2, "from the next week on it is still open");
  const staff = await cancelSeries("cut-c3", s.seriesId, s.appointments[0].appointmentId);
  t.same(staff.cancelled, [s.appointments[0].appointmentId], "staff are not bound by the cutoff");
  clock.set(new Date("2027-01-15T12:00:00Z"));
});

t.test("rooms are chosen per occurrence by capability", async (t) => {
  const now = new Date();
  await database.db.insertInto("scheduling.resources").values([
    { resource_id: "us-1", display_name: "Ultrasound 1", kind: "DEVICE", capabilities: ["ultrasound"], created_at: now },
    { resource_id: "us-2", display_name: "Ultrasound 2", kind: "DEVICE", capabilities: ["ultrasound"], created_at: now },
  ]).execute();
  await insertVisitType(database.db, "vt-us", ["ny", "ny-night", "ny-3"], { required_capabilities: ["ultrasound"] });
  // us-1 is taken by another provider at occurrence 2's time: occurrence 2 gets us-2.
  await series(svc, { requestId: "us-0", visitTypeId: "vt-us", providerId: "ny-night", patientId: "pat-us0", firstStartTime: at("2027-05-11T15:00:00Z"), resourceIds: ["us-1"], recurrence: weekly(1) });
  const s = await series(svc, { requestId: "us-1", visitTypeId: "vt-us", providerId: "ny", patientId: "pat-us", firstStartTime: at("2027-05-04T15:00:00Z"), recurrence: weekly(3) });
  t.same(s.series!.appointments.map((a) => a.resourceIds), [["us-1"], ["us-2"], ["us-1"]]);
  await createProviderIn(svc, ctx, { providerId: "ny-3", timeZone: NY, start: "08:00", end: "18:00", slotMinutes: 30 });
  const none = await failure(series(svc, { requestId: "us-3", visitTypeId: "vt-us", providerId: "ny-3", patientId: "pat-us3", firstStartTime: at("2027-05-04T15:00:00Z"), recurrence: weekly(2) }));
  t.equal(none.reason, "NO_RESOURCE_AVAILABLE", none.message);
  t.equal(none.metadata.occurrence, "2", "both devices are taken at occurrence 2's time");
});
