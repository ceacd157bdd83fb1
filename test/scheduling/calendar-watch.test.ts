// WatchAppointments by location and by room or device (issue 20 item 6), two instances of the class
// against real Postgres with a fake clock: the location's own sequence (numbered after the commit,
// location-changes.ts), changes from every provider there and none from elsewhere, the location's
// local day, resume and resumeFailed, a room's stream, who may watch. Locations are rows of
// scheduling.locations written here directly (CreateLocation is built elsewhere), and appointments
// are moved to their location with an UPDATE after booking (booking does not place them yet).
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { AppointmentStatus, ResourceKind, type Appointment } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import {
  BookAppointmentRequestSchema,
  CancelAppointmentRequestSchema,
  CreateResourceRequestSchema,
  SchedulingService,
  WatchAppointmentsRequestSchema,
  type WatchAppointmentsResponse,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { decide } from "../../services/runtime/auth/auth-interceptor.js";
import { ROLE_TABLE } from "../../services/runtime/auth/role-table.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { DomainError } from "../../services/runtime/errors.js";
import { SchedulingServiceImpl } from "../../services/scheduling/scheduling-service.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { callerContext as ctx } from "../helpers/handler-context.js";
import { createModuleDatabase, openAnotherPool } from "../helpers/module-database.js";
import { createProviderIn } from "../helpers/scheduling.js";
import { StreamReader } from "../helpers/stream-reader.js";

const m = SchedulingService.method;
const database = await createModuleDatabase(t, [schedulingModule]);
const db = database.db;
const clock = createFakeClock(new Date("2026-12-01T08:00:00Z"));
function instance(): SchedulingServiceImpl {
  const svc = new SchedulingServiceImpl({ db, clock, config: { databaseUrl: database.databaseUrl } }, { useLock: false, offerSweepIntervalMs: 0, pollIntervalMs: 200 });
  t.teardown(() => svc.close());
  return svc;
}
const svc = instance();
const other = instance();

const ts = (iso: string) => timestampFromDate(new Date(iso));

await sql`insert into scheduling.locations (location_id, display_name, time_zone, created_at) values
  ('loc-ny', 'New York', 'America/New_York', now()), ('loc-ist', 'Istanbul', 'Europe/Istanbul', now())`.execute(db);
for (const [providerId, locationId] of [["p-ny1", "loc-ny"], ["p-ny2", "loc-ny"], ["p-ist", "loc-ist"]]) {
  // The providers' own zone is UTC: a location's day is the location's.
  await createProviderIn(svc, ctx, { providerId, timeZone: "UTC", slotMinutes: 30 });
  await sql`update scheduling.providers set location_id = ${locationId} where provider_id = ${providerId}`.execute(db);
}
await svc.createResource(create(CreateResourceRequestSchema, { resourceId: "room-ny", displayName: "Room NY", kind: ResourceKind.ROOM }), ctx(m.createResource));
await sql`update scheduling.resources set location_id = 'loc-ny' where resource_id = 'room-ny'`.execute(db);

let n = 0;
/** book books 30 minutes through `via` and moves the appointment to its provider's location. */
async function book(providerId: string, iso: string, opts: { patientId?: string; resourceIds?: string[]; via?: SchedulingServiceImpl } = {}): Promise<Appointment> {
  const r = await (opts.via ?? svc).bookAppointment(
    create(BookAppointmentRequestSchema, { requestId: `b-${++n}`, providerId, patientId: opts.patientId ?? `pat-${n}`, startTime: ts(iso), duration: { seconds: 1800n }, resourceIds: opts.resourceIds ?? [] }),
    ctx(m.bookAppointment),
  );
  await sql`update scheduling.appointments a set location_id = p.location_id from scheduling.providers p
    where a.appointment_id = ${r.appointment!.appointmentId} and p.provider_id = a.provider_id`.execute(db);
  // The move is numbered now, not by the next sweep: a snapshot taken next then already counts it.
  await svc.stampLocationChanges();
  return r.appointment!;
}

async function cancel(a: Appointment, via = svc): Promise<void> {
  await via.cancelAppointment(create(CancelAppointmentRequestSchema, { appointmentId: a.appointmentId, requestId: `c-${++n}`, reason: "ill" }), ctx(m.cancelAppointment));
}

/** watch opens WatchAppointments on `via` as `role`. */
function watch(req: { locationId?: string; resourceId?: string; providerId?: string; date?: string; afterSequence?: bigint }, opts: { via?: SchedulingServiceImpl; role?: Role; subject?: string } = {}) {
  return new StreamReader<WatchAppointmentsResponse>(
    (signal) => (opts.via ?? svc).watchAppointments(create(WatchAppointmentsRequestSchema, req), ctx(m.watchAppointments, opts.role ?? "receptionist", opts.subject ?? "rec-1", signal)) as AsyncIterable<WatchAppointmentsResponse>,
  );
}

const ids = (msg: WatchAppointmentsResponse) => msg.appointments.map((a) => a.appointmentId).sort();

// 2026-12-02 in New York (EST, UTC-5) is [05:00Z on the 2nd, 05:00Z on the 3rd).
const DAY = "2026-12-02";

t.test("a location's stream: its local day, then every change there in its own sequence, none from elsewhere; resumable", async (t) => {
  const early = await book("p-ny1", "2026-12-02T03:00:00Z"); // 22:00 on the 1st in New York
  const late = await book("p-ny2", "2026-12-03T04:00:00Z"); // 23:00 on the 2nd
  const morning = await book("p-ny1", "2026-12-02T14:00:00Z");
  await book("p-ist", "2026-12-02T10:00:00Z");
  const w = watch({ locationId: "loc-ny", date: DAY });
  const snap = await w.next("the snapshot");
  t.ok(snap.snapshot, "first a snapshot");
  t.same(ids(snap), [late.appointmentId, morning.appointmentId].sort(), "of the location's local day, both providers, not the day before in New York");
  t.notOk(ids(snap).includes(early.appointmentId));

  // Changes elsewhere first, then at the location through the other instance (its stamp and NOTIFY).
  await cancel(await book("p-ist", "2026-12-02T11:00:00Z"));
  await cancel(morning, other);
  const c1 = await w.next("the cancellation");
  t.same(ids(c1), [morning.appointmentId], "the next message is the location's change, nothing from Istanbul before it");
  t.equal(c1.appointments[0].status, AppointmentStatus.CANCELLED);
  t.equal(c1.sequence, snap.sequence + 1n, "the location's next sequence");
  const b2 = await book("p-ny2", "2026-12-02T15:00:00Z", { via: other });
  const c2 = await w.until((msg) => ids(msg).includes(b2.appointmentId), "the second provider's booking");
  t.ok(c2.match.sequence > c1.sequence, "sequences increase across providers of the location");
  t.ok(c2.read.every((msg) => !msg.snapshot && msg.appointments.every((a) => a.providerId !== "p-ist")), "nothing from another location");
  const seen = c2.match.sequence;
  w.close();

  // Changes while nobody watches, then a resume on the other instance after the last sequence seen.
  await cancel(b2);
  const b3 = await book("p-ny1", "2026-12-02T16:00:00Z");
  const r = watch({ locationId: "loc-ny", date: DAY, afterSequence: seen }, { via: other });
  const missed = await r.until((msg) => ids(msg).includes(b3.appointmentId), "the missed changes");
  t.notOk(missed.read.some((msg) => msg.snapshot), "resumed without a snapshot");
  t.ok(missed.read.some((msg) => ids(msg).includes(b2.appointmentId) && msg.appointments[0].status === AppointmentStatus.CANCELLED), "the cancellation missed");
  t.same(
    missed.read.map((msg) => msg.sequence),
    missed.read.map((_, i) => seen + 1n + BigInt(i)),
    "every sequence after the one seen, in order",
  );
  r.close();

  // A sequence never handed out, and one no longer retained: a fresh snapshot that says so.
  const never = watch({ locationId: "loc-ny", date: DAY, afterSequence: 999_999n });
  const fresh = await never.next("the fresh snapshot");
  t.ok(fresh.snapshot && fresh.resumeFailed, "resumeFailed snapshot");
  never.close();
  clock.advance(2 * 3_600_000);
  t.ok((await svc.pruneRetained()).changes > 0, "old changes pruned");
  const pruned = watch({ locationId: "loc-ny", date: DAY, afterSequence: seen });
  const again = await pruned.next("the snapshot after pruning");
  t.ok(again.snapshot && again.resumeFailed, "resuming past the retention: resumeFailed snapshot");
  t.ok(again.sequence > seen);
  pruned.close();
});

t.test("a room's stream: its location's day and sequence, only the appointments that take the room", async (t) => {
  const withRoom = await book("p-ny1", "2026-12-02T18:00:00Z", { resourceIds: ["room-ny"] });
  await book("p-ny2", "2026-12-02T18:00:00Z");
  const w = watch({ resourceId: "room-ny", date: DAY });
  const snap = await w.next("the snapshot");
  t.same(ids(snap), [withRoom.appointmentId], "only the appointment with the room");
  const loc = watch({ locationId: "loc-ny", date: DAY });
  const locSnap = await loc.next("the location's snapshot");
  t.equal(snap.sequence, locSnap.sequence, "the room follows its location's sequence");
  loc.close();
  const without = await book("p-ny2", "2026-12-02T19:00:00Z");
  const withRoom2 = await book("p-ny1", "2026-12-02T20:00:00Z", { resourceIds: ["room-ny"] });
  const next = await w.next("the next booking of the room");
  t.same(ids(next), [withRoom2.appointmentId], "the booking without the room was skipped");
  t.notSame(ids(next), [without.appointmentId]);
  t.ok(next.sequence > snap.sequence + 1n, "the skipped change still moved the sequence");
  w.close();
});

t.test("who may watch a location or a room", async (t) => {
  const procedure = `${SchedulingService.typeName}/${m.watchAppointments.name}`;
  const rule = ROLE_TABLE.get(procedure);
  t.notOk(decide(rule, procedure, "p-ny1", ["doctor"], { locationId: "loc-ny" }).allowed, "the interceptor refuses a doctor a location");
  t.notOk(decide(rule, procedure, "p-ny1", ["doctor"], { resourceId: "room-ny" }).allowed, "and a room");
  t.ok(decide(rule, procedure, "rec-1", ["receptionist"], { locationId: "loc-ny" }).allowed, "a receptionist may");
  t.ok(decide(rule, procedure, "svc", ["service"], { resourceId: "room-ny" }).allowed, "the services may");
  for (const [role, req] of [
    ["patient", { locationId: "loc-ny" }],
    ["patient", { resourceId: "room-ny" }],
    ["doctor", { locationId: "loc-ny" }],
  ] as const) {
    const w = watch(req, { role, subject: role === "doctor" ? "p-ny1" : "pat-1" });
    const err = await w.ending(`${role} refused`);
    t.ok(err instanceof DomainError && err.code === Code.PermissionDenied, `the service itself refuses a ${role} ${Object.keys(req)[0]}`);
    t.equal(w.messages.length, 0, "and shows nothing");
  }
  for (const req of [{ locationId: "loc-nowhere" }, { resourceId: "room-nowhere" }]) {
    const err = await watch(req).ending("not found");
    t.ok(err instanceof DomainError && err.code === Code.NotFound, `${Object.values(req)[0]}: NOT_FOUND`);
  }
});

t.test("a provider's stream keeps the provider's own sequence", async (t) => {
  const w = watch({ providerId: "p-ist", date: DAY });
  const snap = await w.next("the provider's snapshot");
  const b = await book("p-ist", "2026-12-02T12:00:00Z");
  const next = await w.next("the provider's change");
  t.same(ids(next), [b.appointmentId]);
  t.equal(next.sequence, snap.sequence + 1n, "the provider's next sequence (location changes do not count there)");
  w.close();
});

t.test("a change whose writer never numbered it (a process gone after its commit) reaches the stream by the sweep", async (t) => {
  const a = await book("p-ny2", "2026-12-02T21:00:00Z");
  const w = watch({ locationId: "loc-ny", date: DAY }, { via: other });
  const snap = await w.next("the snapshot");
  // Written as a dying process would leave it: committed, its location change pending.
  await sql`update scheduling.appointments set reason = 'moved by hand' where appointment_id = ${a.appointmentId}`.execute(db);
  const next = await w.next("the change, numbered by a sweep");
  t.same(ids(next), [a.appointmentId]);
  t.equal(next.appointments[0].reason, "moved by hand");
  t.equal(next.sequence, snap.sequence + 1n);
  w.close();
});

t.test("two instances on two pools booking at once at one location: every change numbered once, no gaps, and a watcher sees them in order", async (t) => {
  const pool2 = await openAnotherPool(t, database);
  const third = new SchedulingServiceImpl({ db: pool2.db, clock, config: { databaseUrl: database.databaseUrl } }, { useLock: false, offerSweepIntervalMs: 0, pollIntervalMs: 200 });
  t.teardown(() => third.close());
  for (const providerId of ["p-race1", "p-race2"]) await createProviderIn(svc, ctx, { providerId, timeZone: "UTC", slotMinutes: 30 });
  // Everything booked lands in the location `default` (booking does not place appointments yet).
  const w = watch({ locationId: "default", date: "2026-12-10" });
  const snap = await w.next("the snapshot");
  const N = 20;
  const booked = await Promise.all(
    Array.from({ length: 2 * N }, (_, i) =>
      (i % 2 === 0 ? svc : third).bookAppointment(
        create(BookAppointmentRequestSchema, {
          requestId: `race-${i}`,
          providerId: i % 2 === 0 ? "p-race1" : "p-race2",
          patientId: `pat-race-${i}`,
          startTime: ts(new Date(Date.parse("2026-12-10T00:00:00Z") + Math.floor(i / 2) * 1_800_000).toISOString()),
          duration: { seconds: 1800n },
        }),
        ctx(m.bookAppointment),
      ),
    ),
  );
  await Promise.all([svc.stampLocationChanges(), third.stampLocationChanges()]);
  const seen = new Set<string>();
  let last = snap.sequence;
  while (seen.size < booked.length) {
    const msg = await w.next("the bookings");
    t.equal(msg.sequence, last + 1n, "the next sequence, without a gap");
    last = msg.sequence;
    for (const a of msg.appointments) seen.add(a.appointmentId);
  }
  t.same([...seen].sort(), booked.map((b) => b.appointment!.appointmentId).sort(), "every booking reached the watcher");
  const log = await sql<{ s: string; n: string; pending: string; last: string }>`
    select max(c.sequence)::text as s, count(c.sequence)::text as n, count(*) filter (where c.sequence is null)::text as pending,
      (select l.last_sequence::text from scheduling.locations l where l.location_id = 'default') as last
    from scheduling.location_changes c where c.location_id = 'default'`.execute(db);
  const r = log.rows[0];
  t.equal(r.pending, "0", "nothing left unnumbered");
  t.equal(r.s, r.last, "the location's last sequence is the highest numbered");
  const distinct = await sql<{ d: string }>`select count(distinct sequence)::text as d from scheduling.location_changes where location_id = 'default'`.execute(db);
  t.equal(distinct.rows[0].d, r.n, "no sequence handed out twice");
  w.close();
});
