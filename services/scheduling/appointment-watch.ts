// WatchAppointments: a provider's appointments of one local day, as a snapshot and then each change,
// through the change feed (runtime/change-feed.ts, whose watchStream holds the resume protocol). Every
// appointment a watcher is shown is audited. Writers wake the watchers once committed (changed).
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { WatchAppointmentsResponseSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { inScope, scopeOf } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import { ChangeFeed, watchStream, type FeedItem } from "../runtime/change-feed.js";
import type { Logger } from "../runtime/observability/logger.js";
import { createNotifier, type Notifier } from "../runtime/db/notifier.js";
import { audit } from "./appointment-access.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { ChangeRow } from "./db/change.table.js";
import { toAppointment } from "./mappers/scheduling.mapper.js";
import { findAppointments, listAppointments } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { changesAfter, oldestChange, SCHEDULING_CHANGES_CHANNEL } from "./repositories/change.repository.js";
import { findProvider, findProviders } from "./repositories/provider.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import type { Interval } from "./slots.js";
import { addDays, firstInstantAtOrAfterWall, localDateOf, wallOfDate } from "./zone-time.js";

const MAX_SNAPSHOT = 5_000;
const WATCH_MAX_LAG = 1_000;

type WatchResponse = MessageInitShape<typeof WatchAppointmentsResponseSchema>;

/** AppointmentWatch serves WatchAppointments and wakes its watchers after a commit (see the file comment). */
export class AppointmentWatch {
  private readonly feed: ChangeFeed<AppointmentRow | undefined, ChangeRow>;
  private readonly notifier: Notifier;

  constructor(
    private readonly c: Omit<SchedulingContext, "writes" | "lock">,
    deps: { logger?: Logger; listenUrl?: string },
  ) {
    this.feed = new ChangeFeed<AppointmentRow | undefined, ChangeRow>({
      name: "scheduling",
      channel: SCHEDULING_CHANGES_CHANNEL,
      changesAfter: (providerId, after, limit) => changesAfter(c.db, providerId, after, limit),
      latestSequences: async (ids) => new Map((await findProviders(c.db, ids)).map((p) => [p.provider_id, BigInt(p.last_sequence)])),
      load: (providerId, rows) => this.loadChanges(providerId, rows),
      logger: deps.logger,
      listenUrl: c.options.listen ? deps.listenUrl : undefined,
      pollIntervalMs: c.options.pollIntervalMs,
    });
    this.notifier = createNotifier(c.db, SCHEDULING_CHANGES_CHANNEL, deps.logger);
  }

  /** changed wakes this process's watchers of a provider and, by NOTIFY, the other replicas'. */
  changed(providerId: string): void {
    this.feed.poke(providerId);
    this.notifier.notify(providerId);
  }

  /** close sends the pending notifications and stops the feed's listener. */
  async close(): Promise<void> {
    await this.notifier.flush();
    await this.feed.close();
  }

  /**
   * watchAppointments streams a provider's appointments of one local day: a snapshot, then each change
   * touching that day, every message with the provider's sequence. With afterSequence it resumes from
   * the change log; when that point is no longer retained it sends a fresh snapshot with resumeFailed.
   * Patients see only their own appointments, location-scoped staff only those at their locations.
   */
  async *watchAppointments(v: { providerId: string; date: string | undefined; afterSequence: bigint }, ctx: HandlerContext): AsyncGenerator<WatchResponse> {
    const { db, clock, access } = this.c;
    const caller = callerOf(ctx);
    const scope = scopeOf(ctx);
    const provider = await access.requireProvider(db, v.providerId);
    const date = v.date ?? localDateOf(clock.now().getTime(), provider.time_zone);
    const day: Interval = {
      start: firstInstantAtOrAfterWall(wallOfDate(date), provider.time_zone),
      end: firstInstantAtOrAfterWall(wallOfDate(addDays(date, 1)), provider.time_zone),
    };
    const visible = (r: AppointmentRow) =>
      r.start_at.getTime() < day.end && r.end_at.getTime() > day.start && (caller.role !== "patient" || r.patient_id === caller.subject) && inScope(scope, r.location_id);
    yield* watchStream<AppointmentRow | undefined, WatchResponse>({
      feed: this.feed,
      key: provider.provider_id,
      afterSequence: v.afterSequence,
      maxLag: WATCH_MAX_LAG,
      signal: ctx.signal,
      retains: (after) => this.retains(provider.provider_id, after),
      snapshot: async (resumeFailed) => {
        const snap = await db
          .transaction()
          .setIsolationLevel("repeatable read")
          .execute(async (trx) => {
            const p = await access.requireProvider(trx, provider.provider_id);
            const rows = await listAppointments(trx, { providerId: p.provider_id, start: new Date(day.start), end: new Date(day.end), limit: MAX_SNAPSHOT });
            return { sequence: BigInt(p.last_sequence), rows: rows.filter(visible) };
          });
        await AUDIT_LOG.append(db, audit(caller, "WatchAppointments", snap.rows, clock.now()));
        return { sequence: snap.sequence, message: { sequence: snap.sequence, snapshot: true, resumeFailed, appointments: snap.rows.map(toAppointment) } };
      },
      change: async (item) => {
        const row = item.value;
        if (!row || !visible(row)) return undefined;
        await AUDIT_LOG.append(db, audit(caller, "WatchAppointments", [row], clock.now()));
        return { sequence: item.sequence, snapshot: false, appointments: [toAppointment(row)] };
      },
    });
  }

  /** retains tells whether the change log still holds every change of the provider after `after`. */
  private async retains(providerId: string, after: bigint): Promise<boolean> {
    const p = await findProvider(this.c.db, providerId);
    if (!p) return false;
    const last = BigInt(p.last_sequence);
    if (after > last) return false;
    if (after === last) return true;
    const oldest = await oldestChange(this.c.db, providerId);
    return oldest !== undefined && oldest <= after + 1n;
  }

  /** loadChanges turns change-log rows into feed items with the appointments as they are now. */
  private async loadChanges(_providerId: string, rows: { sequence: string; appointment_id: string }[]): Promise<FeedItem<AppointmentRow | undefined>[]> {
    const byId = new Map((await findAppointments(this.c.db, [...new Set(rows.map((r) => r.appointment_id))])).map((a) => [a.appointment_id, a]));
    return rows.map((r) => ({ sequence: BigInt(r.sequence), value: byId.get(r.appointment_id) }));
  }
}
