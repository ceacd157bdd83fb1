// WatchAppointments: the appointments of one local day of a provider, a location or a room or device,
// as a snapshot and then each change, through the change feeds (runtime/change-feed.ts, whose
// watchStream holds the resume protocol). A provider's stream follows the provider's sequence
// (scheduling.changes, numbered in the writer's transaction); a location's and a room's follow the
// location's own sequence (scheduling.location_changes, numbered after the commit:
// location-changes.ts), a room's filtered to the appointments that take it. Every appointment a
// watcher is shown is audited. Writers wake the watchers once committed (changed, stampLocations).
import { locationNotFoundError } from "./location.errors.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { WatchAppointmentsResponseSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { inScope, scopeOf } from "../runtime/auth/location-scope.js";
import { OWN_RECORDS_ONLY } from "../runtime/auth/auth-interceptor.js";
import { callerOf, type Caller } from "../runtime/caller.js";
import { ChangeFeed, watchStream, type FeedItem } from "../runtime/change-feed.js";
import { NotFoundError, PermissionDeniedError } from "../runtime/errors.js";
import type { Logger } from "../runtime/observability/logger.js";
import { createNotifier, type Notifier } from "../runtime/db/notifier.js";
import { audit } from "./appointment-access.js";
import type { ValidWatchAppointments } from "./calendar.validation.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import type { LocationRow } from "./db/location.table.js";
import { LocationStamper } from "./location-changes.js";
import { toAppointment } from "./mappers/scheduling.mapper.js";
import { findAppointments, listAppointments, type AppointmentFilter } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { changesAfter, oldestChange, SCHEDULING_CHANGES_CHANNEL } from "./repositories/change.repository.js";
import { findLocationsById, LOCATION_CHANGE_LOG, LOCATION_CHANGES_CHANNEL } from "./repositories/location-change.repository.js";
import { findProviders, findResources } from "./repositories/provider.repository.js";
import { providerNotFoundError, resourceNotFoundError } from "./scheduling.errors.js";
import type { SchedulingContext } from "./scheduling-context.js";
import type { Interval } from "./slots.js";
import { addDays, firstInstantAtOrAfterWall, localDateOf, wallOfDate } from "./zone-time.js";

const MAX_SNAPSHOT = 5_000;
const WATCH_MAX_LAG = 1_000;

type WatchResponse = MessageInitShape<typeof WatchAppointmentsResponseSchema>;
/** LoggedChange is a row of either change log, as far as a feed needs it. */
type LoggedChange = { sequence: string | null; appointment_id: string };
type Feed = ChangeFeed<AppointmentRow | undefined, LoggedChange>;

/** Stream is what one watch follows: a feed's key, the zone of its days, and how its day and sequence are read. */
interface Stream {
  feed: Feed;
  key: string;
  timeZone: string;
  /** filter selects the day's appointments (start and end are added). */
  filter: Omit<AppointmentFilter, "limit">;
  /** keeps tells whether a changed appointment belongs to the stream. */
  keeps: (row: AppointmentRow) => boolean;
  /** latest reads the key's last sequence (undefined: the key is gone). */
  latest: (db: Db) => Promise<bigint | undefined>;
  /** oldest reads the key's oldest retained sequence. */
  oldest: () => Promise<bigint | undefined>;
  /** gone is the error for a key that no longer exists. */
  gone: () => NotFoundError;
}

/** AppointmentWatch serves WatchAppointments and wakes its watchers after a commit (see the file comment). */
export class AppointmentWatch {
  private readonly feed: Feed;
  private readonly locationFeed: Feed;
  private readonly notifier: Notifier;
  private readonly locationNotifier: Notifier;
  private readonly stamper: LocationStamper;

  constructor(
    private readonly c: Omit<SchedulingContext, "writes" | "lock">,
    deps: { logger?: Logger; listenUrl?: string },
  ) {
    const feed = (name: string, channel: string, after: (key: string, after: bigint, limit: number) => Promise<LoggedChange[]>, latest: (ids: string[]) => Promise<Map<string, bigint>>): Feed =>
      new ChangeFeed({
        name,
        channel,
        changesAfter: after,
        latestSequences: latest,
        load: (_key, rows) => this.loadChanges(rows),
        logger: deps.logger,
        listenUrl: c.options.listen ? deps.listenUrl : undefined,
        pollIntervalMs: c.options.pollIntervalMs,
      });
    this.feed = feed("scheduling", SCHEDULING_CHANGES_CHANNEL, (id, after, limit) => changesAfter(c.db, id, after, limit), async (ids) =>
      new Map((await findProviders(c.db, ids)).map((p) => [p.provider_id, BigInt(p.last_sequence)])),
    );
    this.locationFeed = feed("scheduling-locations", LOCATION_CHANGES_CHANNEL, (id, after, limit) => LOCATION_CHANGE_LOG.after(c.db, id, after, limit), async (ids) =>
      new Map((await findLocationsById(c.db, ids)).map((l) => [l.location_id, BigInt(l.last_sequence)])),
    );
    this.notifier = createNotifier(c.db, SCHEDULING_CHANGES_CHANNEL, deps.logger);
    this.locationNotifier = createNotifier(c.db, LOCATION_CHANGES_CHANNEL, deps.logger);
    this.stamper = new LocationStamper(
      c.db,
      (locationId) => {
        this.locationFeed.poke(locationId);
        this.locationNotifier.notify(locationId);
      },
      { sweepIntervalMs: c.options.pollIntervalMs, logger: deps.logger },
    );
  }

  /** changed wakes this process's watchers of a provider and, by NOTIFY, the other replicas'. */
  changed(providerId: string): void {
    this.feed.poke(providerId);
    this.notifier.notify(providerId);
  }

  /** stampLocations numbers the committed changes of locations, then wakes their watchers here and, by NOTIFY, elsewhere. */
  stampLocations(): Promise<void> {
    return this.stamper.stamp();
  }

  /** close stops the stamps, sends the pending notifications and stops the feeds' listeners. */
  async close(): Promise<void> {
    await this.stamper.close();
    await Promise.all([this.notifier.flush(), this.locationNotifier.flush()]);
    await Promise.all([this.feed.close(), this.locationFeed.close()]);
  }

  /**
   * watchAppointments streams the appointments of one local day of a provider, a location or a room
   * or device: a snapshot, then each change touching that day, every message with the stream's
   * sequence (the provider's, or the location's). With afterSequence it resumes from the change log;
   * when that point is no longer retained it sends a fresh snapshot with resumeFailed. Patients see
   * only their own appointments, location-scoped staff only those at their locations; a location's
   * or a room's calendar is for staff.
   */
  async *watchAppointments(v: ValidWatchAppointments, ctx: HandlerContext): AsyncGenerator<WatchResponse> {
    const { db, clock } = this.c;
    const caller = callerOf(ctx);
    const scope = scopeOf(ctx);
    const stream = await this.streamOf(v, caller);
    const date = v.date ?? localDateOf(clock.now().getTime(), stream.timeZone);
    const day: Interval = {
      start: firstInstantAtOrAfterWall(wallOfDate(date), stream.timeZone),
      end: firstInstantAtOrAfterWall(wallOfDate(addDays(date, 1)), stream.timeZone),
    };
    const visible = (r: AppointmentRow) =>
      r.start_at.getTime() < day.end && r.end_at.getTime() > day.start && stream.keeps(r) && (caller.role !== "patient" || r.patient_id === caller.subject) && inScope(scope, r.location_id);
    yield* watchStream<AppointmentRow | undefined, WatchResponse>({
      feed: stream.feed,
      key: stream.key,
      afterSequence: v.afterSequence,
      maxLag: WATCH_MAX_LAG,
      signal: ctx.signal,
      retains: (after) => this.retains(stream, after),
      snapshot: async (resumeFailed) => {
        const snap = await db
          .transaction()
          .setIsolationLevel("repeatable read")
          .execute(async (trx) => {
            const sequence = await stream.latest(trx);
            if (sequence === undefined) throw stream.gone();
            const rows = await listAppointments(trx, { ...stream.filter, start: new Date(day.start), end: new Date(day.end), limit: MAX_SNAPSHOT });
            return { sequence, rows: rows.filter(visible) };
          });
        await AUDIT_LOG.append(db, audit(caller, "WatchAppointments", snap.rows, clock.now()));
        return { sequence: snap.sequence, message: { sequence: snap.sequence, snapshot: true, resumeFailed, appointments: snap.rows.map((r) => toAppointment(r, this.c.reasons)) } };
      },
      change: async (item) => {
        const row = item.value;
        if (!row || !visible(row)) return undefined;
        await AUDIT_LOG.append(db, audit(caller, "WatchAppointments", [row], clock.now()));
        return { sequence: item.sequence, snapshot: false, appointments: [toAppointment(row, this.c.reasons)] };
      },
    });
  }

  /** streamOf resolves what a request watches: a provider's stream, or its location's (NOT_FOUND when missing; PERMISSION_DENIED for a patient or doctor asking for a location's or room's). */
  private async streamOf(v: ValidWatchAppointments, caller: Caller): Promise<Stream> {
    const { db, access } = this.c;
    if ("providerId" in v) {
      const p = await access.requireProvider(db, v.providerId);
      return {
        feed: this.feed,
        key: p.provider_id,
        timeZone: p.time_zone,
        filter: { providerId: p.provider_id },
        keeps: () => true,
        latest: async (d) => {
          const [row] = await findProviders(d, [p.provider_id]);
          return row && BigInt(row.last_sequence);
        },
        oldest: () => oldestChange(db, p.provider_id),
        gone: () => providerNotFoundError(p.provider_id),
      };
    }
    if (caller.role === "patient" || caller.role === "doctor") {
      const whose = caller.role === "patient" ? "their own appointments" : "their own appointments (set providerId to your own id)";
      throw new PermissionDeniedError(`a ${caller.role} may follow only ${whose}, not a location's or a room's calendar`, OWN_RECORDS_ONLY);
    }
    let locationId: string;
    let resourceId: string | undefined;
    if ("resourceId" in v) {
      const [resource] = await findResources(db, [v.resourceId]);
      if (!resource) throw resourceNotFoundError(v.resourceId);
      locationId = resource.location_id;
      resourceId = resource.resource_id;
    } else {
      locationId = v.locationId;
    }
    const location = await this.requireLocation(db, locationId);
    return {
      feed: this.locationFeed,
      key: location.location_id,
      timeZone: location.time_zone,
      filter: resourceId === undefined ? { locationId: location.location_id } : { resourceId },
      keeps: resourceId === undefined ? (r) => r.location_id === location.location_id : (r) => r.resource_ids.includes(resourceId),
      latest: async (d) => {
        const [row] = await findLocationsById(d, [location.location_id]);
        return row && BigInt(row.last_sequence);
      },
      oldest: () => LOCATION_CHANGE_LOG.oldest(db, location.location_id),
      gone: () => locationNotFoundError(location.location_id),
    };
  }

  /** requireLocation reads a location (NOT_FOUND LOCATION_NOT_FOUND). */
  private async requireLocation(db: Db, locationId: string): Promise<LocationRow> {
    const [row] = await findLocationsById(db, [locationId]);
    if (!row) throw locationNotFoundError(locationId);
    return row;
  }

  /** retains tells whether the change log still holds every change of the stream after `after`. */
  private async retains(stream: Stream, after: bigint): Promise<boolean> {
    const last = await stream.latest(this.c.db);
    if (last === undefined || after > last) return false;
    if (after === last) return true;
    const oldest = await stream.oldest();
    return oldest !== undefined && oldest <= after + 1n;
  }

  /** loadChanges turns change-log rows into feed items with the appointments as they are now. */
  private async loadChanges(rows: LoggedChange[]): Promise<FeedItem<AppointmentRow | undefined>[]> {
    const byId = new Map((await findAppointments(this.c.db, [...new Set(rows.map((r) => r.appointment_id))])).map((a) => [a.appointment_id, a]));
    return rows.map((r) => ({ sequence: BigInt(r.sequence ?? 0), value: byId.get(r.appointment_id) }));
  }
}
