// The class against real Postgres with a fake clock (the provider lock off: the lock is proven in
// booking-concurrency.test.ts): the waitlist's offer, accept and expiry passing the offer on, and
// WatchAppointments' snapshot, changes and resumption across two instances (LISTEN/NOTIFY).
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { AppointmentStatus, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  AcceptOfferRequestSchema,
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  JoinWaitlistRequestSchema,
  ListAppointmentsRequestSchema,
  SchedulingService,
  WatchAppointmentsRequestSchema,
  type WatchAppointmentsResponse,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createProviderIn } from "../helpers/scheduling.js";
import { domainCodeOf as code } from "../helpers/call-outcome.js";
import { createModuleDatabase } from "../helpers/module-database.js";

const MIN = 60_000;
const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);
const databaseUrl = database.databaseUrl;

const clock = createFakeClock(new Date("2026-12-01T08:00:00Z"));
const HOLD = 10 * MIN;
function instance(): SchedulingServiceImpl {
  const svc = new SchedulingServiceImpl({ db: database.db, clock, config: { databaseUrl } }, { useLock: false, offerHoldMs: HOLD, offerSweepIntervalMs: 0, pollIntervalMs: 200 });
  t.teardown(() => svc.close());
  return svc;
}
const svc = instance();

const ts = (iso: string) => timestampFromDate(new Date(iso));
const dur = (minutes: number) => ({ seconds: BigInt(minutes * 60) });

const provider = (providerId: string) => createProviderIn(svc, ctx, { providerId, displayName: "Dr. W", timeZone: "Europe/Istanbul", start: "09:00", end: "17:00", slotMinutes: 30 });

async function book(providerId: string, requestId: string, iso: string, patientId: string) {
  const r = await svc.bookAppointment(create(BookAppointmentRequestSchema, { requestId, providerId, patientId, startTime: ts(iso), duration: dur(30) }), ctx(m.bookAppointment));
  return r.appointment!;
}

async function proposedFor(patientId: string) {
  const r = await svc.listAppointments(create(ListAppointmentsRequestSchema, { patientId, statuses: [AppointmentStatus.PROPOSED] }), ctx(m.listAppointments));
  return (r.appointments ?? []) as Appointment[];
}

t.test("waitlist: a freed slot is offered to the first fitting patient, held, accepted", async (t) => {
  await provider("prov-wl");
  // 2026-12-02 10:00 Istanbul = 07:00Z.
  const a = await book("prov-wl", "wl-b1", "2026-12-02T07:00:00Z", "pat-booked");
  const join = (requestId: string, patientId: string, from: string, to: string) =>
    svc.joinWaitlist(create(JoinWaitlistRequestSchema, { requestId, providerId: "prov-wl", patientId, windowStartTime: ts(from), windowEndTime: ts(to) }), ctx(m.joinWaitlist));
  // First in line wants another day: skipped. Second and third fit.
  await join("wl-j0", "pat-otherday", "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z");
  const e1 = await join("wl-j1", "pat-first", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z");
  await join("wl-j2", "pat-second", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z");
  t.equal((await join("wl-j1", "pat-first", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z")).entry?.waitlistEntryId, e1.entry?.waitlistEntryId, "joining is idempotent");
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: "wl-c1", reason: "travel" }), ctx(m.cancelAppointment));
  const [offer] = await proposedFor("pat-first");
  t.ok(offer, "the first fitting patient got an offer");
  t.equal(offer.startTime?.seconds, ts("2026-12-02T07:00:00Z").seconds, "for the freed slot");
  t.equal(Number(offer.offerExpireTime!.seconds) * 1000, clock.now().getTime() + HOLD, "held for the configured time");
  t.same(await proposedFor("pat-otherday"), [], "the patient wanting another day got nothing");
  t.equal(await code(book("prov-wl", "wl-b2", "2026-12-02T07:00:00Z", "pat-sneaky")), Code.FailedPrecondition, "the offered time is held");
  t.equal(
    await code(svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId: offer.appointmentId, requestId: "wl-a0" }), ctx(m.acceptOffer, "patient", "pat-second"))),
    Code.NotFound,
    "only the offered patient may accept (another's offer answers as a missing one)",
  );
  clock.advance(HOLD - MIN);
  const accepted = await svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId: offer.appointmentId, requestId: "wl-a1" }), ctx(m.acceptOffer, "patient", "pat-first"));
  t.equal(accepted.appointment?.status, AppointmentStatus.BOOKED, "accepted within the hold: BOOKED");
  t.equal((await svc.waitlistEntry(e1.entry!.waitlistEntryId))?.status, "BOOKED");
});

t.test("waitlist: an expired hold passes the offer to the next patient", async (t) => {
  await provider("prov-exp");
  const a = await book("prov-exp", "ex-b1", "2026-12-03T08:00:00Z", "pat-x");
  for (const [i, p] of ["pat-1", "pat-2"].entries()) {
    await svc.joinWaitlist(
      create(JoinWaitlistRequestSchema, { requestId: `ex-j${i}`, providerId: "prov-exp", patientId: p, windowStartTime: ts("2026-12-03T00:00:00Z"), windowEndTime: ts("2026-12-04T00:00:00Z") }),
      ctx(m.joinWaitlist),
    );
  }
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: "ex-c1" }), ctx(m.cancelAppointment));
  const [first] = await proposedFor("pat-1");
  t.ok(first, "pat-1 is offered the slot");
  clock.advance(HOLD - 1000);
  t.equal(await svc.expireOffers(), 0, "nothing lapses before the hold ends");
  clock.advance(1000);
  t.equal(await svc.expireOffers(), 1, "the hold lapsed");
  t.same(await proposedFor("pat-1"), [], "pat-1's offer is gone");
  const [second] = await proposedFor("pat-2");
  t.ok(second, "the next patient got the offer");
  t.equal(second.startTime?.seconds, first.startTime?.seconds, "for the same time");
  const late = await code(svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId: first.appointmentId, requestId: "ex-a1" }), ctx(m.acceptOffer, "patient", "pat-1")));
  t.equal(late, Code.FailedPrecondition, "accepting a lapsed offer fails");
  // AcceptOffer past the hold also passes it on, without waiting for the sweep.
  clock.advance(HOLD);
  t.equal(
    await code(svc.acceptOffer(create(AcceptOfferRequestSchema, { appointmentId: second.appointmentId, requestId: "ex-a2" }), ctx(m.acceptOffer, "patient", "pat-2"))),
    Code.FailedPrecondition,
  );
  t.same(await proposedFor("pat-2"), [], "the lapsed offer was cancelled on the spot");
});

/** collect reads a stream in the background into an array, until aborted. */
function collect(stream: AsyncIterable<WatchAppointmentsResponse>): { got: WatchAppointmentsResponse[]; done: Promise<void> } {
  const got: WatchAppointmentsResponse[] = [];
  const done = (async () => {
    try {
      for await (const msg of stream) got.push(msg as WatchAppointmentsResponse);
    } catch {
      // aborted
    }
  })();
  return { got, done };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test("WatchAppointments: snapshot, changes, resume on another instance", async (t) => {
  await provider("prov-watch");
  const other = instance();
  await book("prov-watch", "w-1", "2026-12-04T06:00:00Z", "pat-w1");
  await book("prov-watch", "w-other-day", "2026-12-05T06:00:00Z", "pat-w1");
  const abort1 = new AbortController();
  const req = (afterSequence = 0n) => create(WatchAppointmentsRequestSchema, { providerId: "prov-watch", date: "2026-12-04", afterSequence });
  const s1 = collect(svc.watchAppointments(req(), ctx(m.watchAppointments, "receptionist", "rec-1", abort1.signal)) as AsyncIterable<WatchAppointmentsResponse>);
  await until(() => s1.got.length === 1, "the snapshot");
  t.ok(s1.got[0].snapshot, "first a snapshot");
  t.equal(s1.got[0].appointments.length, 1, "of that local day only");
  // A change written through the other instance reaches this watcher (NOTIFY).
  const b = await other.bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: "w-2", providerId: "prov-watch", patientId: "pat-w2", startTime: ts("2026-12-04T07:00:00Z"), duration: dur(30) }),
    ctx(m.bookAppointment),
  );
  await until(() => s1.got.length === 2, "the change");
  t.notOk(s1.got[1].snapshot);
  t.equal(s1.got[1].appointments[0].appointmentId, b.appointment!.appointmentId);
  t.ok(s1.got[1].sequence > s1.got[0].sequence, "sequences increase");
  const seen = s1.got[1].sequence;
  abort1.abort();
  await s1.done;
  // Changes while nobody watches, then resume on the other instance after the last sequence seen.
  await svc.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: b.appointment!.appointmentId, requestId: "w-c" }), ctx(m.cancelAppointment));
  await book("prov-watch", "w-3", "2026-12-04T08:00:00Z", "pat-w3");
  const abort2 = new AbortController();
  const s2 = collect(other.watchAppointments(req(seen), ctx(m.watchAppointments, "receptionist", "rec-1", abort2.signal)) as AsyncIterable<WatchAppointmentsResponse>);
  await until(() => s2.got.length === 2, "the two missed changes");
  t.notOk(s2.got.some((x) => x.snapshot), "resumed without a snapshot");
  t.same(s2.got.map((x) => x.appointments[0].status), [AppointmentStatus.CANCELLED, AppointmentStatus.BOOKED]);
  abort2.abort();
  await s2.done;
  // A sequence the server never had: a fresh snapshot that says so.
  const abort3 = new AbortController();
  const s3 = collect(other.watchAppointments(req(999_999n), ctx(m.watchAppointments, "receptionist", "rec-1", abort3.signal)) as AsyncIterable<WatchAppointmentsResponse>);
  await until(() => s3.got.length === 1, "the fresh snapshot");
  t.ok(s3.got[0].snapshot && s3.got[0].resumeFailed, "resumeFailed snapshot");
  abort3.abort();
  await s3.done;
  // A patient watching the day sees only their own appointments.
  const abort4 = new AbortController();
  const s4 = collect(svc.watchAppointments(req(), ctx(m.watchAppointments, "patient", "pat-w3", abort4.signal)) as AsyncIterable<WatchAppointmentsResponse>);
  await until(() => s4.got.length === 1, "the patient's snapshot");
  t.same(s4.got[0].appointments.map((x) => x.patientId), ["pat-w3"]);
  abort4.abort();
  await s4.done;
});
