// Recurring series (issue 20): BookSeries books up to 52 occurrences of a visit type with one
// provider, all or nothing, and CancelSeries cancels "this and following".
//
// * Each occurrence is `stepDays` local dates after the one before, at the first occurrence's local
//   wall-clock time in the provider's zone, across DST changes: a repeated local time (fall back)
//   takes its first instant, as the slot engine does; a local time that does not exist that day
//   (spring forward) fails the whole series (NONEXISTENT_LOCAL_TIME) unless skipNonexistent, when the
//   date is listed in skippedDates and not booked. Skipped occurrences count toward `count` and keep
//   their place: series_index is the occurrence's place in the recurrence, so it has a gap there.
// * Every occurrence passes what BookAppointment checks with a visit type (not past, horizon, a slot
//   of free working time, the visit type's rules unless staff override them, offered by the
//   provider, patients only for patient-bookable types, rooms chosen by capability when none are
//   named); a refusal of any occurrence fails the series with that occurrence named and its own
//   reason kept (occurrenceRefusedError). All are written in ONE transaction under the provider's
//   lock with the fencing token and the requestId claim, so the exclusion constraints decide and a
//   refusal rolls every occurrence back.
// * A patient booking themselves may hold at most SCHEDULING_MAX_UPCOMING_PER_PATIENT upcoming
//   appointments, the series' occurrences counted one by one (a longer series is booked by staff).
// * CancelSeries cancels the named occurrence and every later one by series_index that is BOOKED and
//   has not started (a rescheduled occurrence's successor keeps its index; ended, checked-in and
//   cancelled ones are left alone), in one transaction under the provider's lock; a patient, only
//   for their own series and only while the soonest of them is before the visit type's patient
//   cutoff (else the whole request is refused). Each freed time is offered to the waitlist.
import { checkVisitsPerDay } from "./visit-booking.js";
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { BookSeriesResponseSchema, CancelSeriesResponseSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditBase } from "../runtime/audit.js";
import type { Role } from "../runtime/auth/role-table.js";
import { callerOf } from "../runtime/caller.js";
import { FailedPreconditionError } from "../runtime/errors.js";
import { requestHash, type RequestKey } from "../runtime/idempotency.js";
import { audit } from "./appointment-access.js";
import { checkBookable, checkSlot, explainTaken, insertOrTaken, type SlotContext } from "./booking-rules.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import type { ProviderRow } from "./db/provider.table.js";
import type { VisitTypeRow } from "./db/visit-type.table.js";
import { toAppointment } from "./mappers/scheduling.mapper.js";
import { patientSelfLimit } from "./patient-rules.js";
import { changeAppointmentIf, countUpcoming, lockPatientBookings } from "./repositories/appointment.repository.js";
import { FRESH_BOOKING } from "./repositories/appointment.sql.js";
import { AUDIT_LOG, withOverride } from "./repositories/audit.repository.js";
import { appendChange } from "./repositories/change.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { patientHasSeries, resourceBookings, seriesOccurrencesFrom } from "./repositories/series.repository.js";
import { findVisitType, resourcesWithCapabilities } from "./repositories/visit-type.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { localMoment } from "./scheduling.errors.js";
import { nonexistentLocalTimeError, notInSeriesError, occurrenceRefusedError, seriesBookingLimitError, seriesNotFoundError, seriesTooLongError, untilBeforeStartError, type Occurrence } from "./series.errors.js";
import { MAX_OCCURRENCES, type ValidBookSeries, type ValidCancelSeries, type ValidRecurrence } from "./series.validation.js";
import { checkAtLocation, checkMayBook, checkOffered, checkPatientCutoff, checkRules, chooseResources, visitPlanOf, type VisitPlan } from "./visit-plan.js";
import { noResourceError, visitTypeNotFoundError } from "./visit-type.errors.js";
import type { WaitlistOffers } from "./waitlist-offers.js";
import { addDays, instantOfWall, localDateOf, wallOf, wallOfDate } from "./zone-time.js";

/** PlannedOccurrence is an occurrence as the recurrence makes it: start undefined when its local time does not exist that day. */
export interface PlannedOccurrence extends Occurrence {
  /** start is the occurrence's start (ms), or undefined when its local time does not exist on its date. */
  start: number | undefined;
}

/** DatedOccurrence is an occurrence that has a start. */
type DatedOccurrence = Occurrence & { start: number };

/**
 * occurrencesOf expands a recurrence from `first` in `timeZone` (see the file comment): `first`
 * itself, then every `stepDays` local dates at its local time, `count` of them or every one up to
 * `until`, stopping after MAX_OCCURRENCES + 1 (more than allowed: the caller refuses).
 */
export function occurrencesOf(first: number, r: ValidRecurrence, timeZone: string): PlannedOccurrence[] {
  const firstDate = localDateOf(first, timeZone);
  const timeOfDay = wallOf(first, timeZone) - wallOfDate(firstDate);
  const out: PlannedOccurrence[] = [];
  for (let i = 0; out.length <= MAX_OCCURRENCES && (r.count === undefined || i < r.count); i++) {
    const localDate = addDays(firstDate, i * r.stepDays);
    if (r.until !== undefined && localDate > r.until) break;
    out.push({ index: i + 1, localDate, start: i === 0 ? first : instantOfWall(wallOfDate(localDate) + timeOfDay, timeZone) });
  }
  return out;
}

/** RefusedOccurrence carries, out of the series' transaction, the refusal of one occurrence. */
class RefusedOccurrence extends Error {
  constructor(
    readonly occurrence: DatedOccurrence,
    readonly refusal: unknown,
  ) {
    super("an occurrence of the series was refused");
  }
}

/** refusedAs runs the checks of one occurrence, naming it in their refusal. */
function refusedAs(o: DatedOccurrence, check: () => void): void {
  try {
    check();
  } catch (err) {
    throw new RefusedOccurrence(o, err);
  }
}

/** SeriesBooking books and cancels recurring series (see the file comment). */
export class SeriesBooking {
  constructor(
    private readonly c: SchedulingContext,
    private readonly offers: WaitlistOffers,
  ) {}

  /** bookSeries books every occurrence of a series in one transaction under the provider's lock, or none (see the file comment). */
  async bookSeries(v: ValidBookSeries, ctx: HandlerContext) {
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "BookSeries", requestId: v.requestId };
    const { db, clock, options, lock, writes, access } = this.c;
    const resourceIds = [...v.resourceIds].sort();
    const r = v.recurrence;
    const hash = requestHash([v.visitTypeId, v.providerId, v.patientId, v.firstStart.toISOString(), r.stepDays, r.count ?? 0, r.until ?? "", v.skipNonexistent, resourceIds, v.reason, v.overrideReason]);
    const replayed = await access.replay(db, key, hash, BookSeriesResponseSchema);
    if (replayed) return replayed;
    const provider = await access.requireProvider(db, v.providerId);
    const vt = await findVisitType(db, v.visitTypeId);
    if (!vt) throw visitTypeNotFoundError(v.visitTypeId);
    checkMayBook(vt, caller.role as Role, v.overrideReason);
    checkOffered(vt, provider);
    await access.requireResources(resourceIds);
    const schedule = await access.requireSchedule(provider);
    const plan = visitPlanOf(vt, schedule);
    const planned = occurrencesOf(v.firstStart.getTime(), r, provider.time_zone);
    if (planned.length === 0) throw untilBeforeStartError(provider, v.firstStart.getTime());
    if (planned.length > MAX_OCCURRENCES) throw seriesTooLongError(provider, MAX_OCCURRENCES, planned[MAX_OCCURRENCES - 1].localDate);
    const total = planned.length;
    const skipped = planned.filter((o) => o.start === undefined);
    if (skipped.length > 0 && !v.skipNonexistent) throw nonexistentLocalTimeError(provider, skipped[0], localMoment(v.firstStart.getTime(), provider.time_zone).localTime);
    const dated = planned.filter((o): o is DatedOccurrence => o.start !== undefined);
    const now = clock.now();
    const overridden = caller.role !== "patient" && v.overrideReason !== "";
    const at = (o: DatedOccurrence): SlotContext => ({ provider, start: new Date(o.start), blockedEnd: new Date(o.start + plan.durationMs + plan.bufferAfterMs) });
    const limited = patientSelfLimit(caller.role, options.maxUpcomingPerPatient);
    const checkLimit = async (d: Db) => {
      const upcoming = limited === undefined ? 0 : await countUpcoming(d, v.patientId, now);
      if (limited !== undefined && upcoming + dated.length > limited) throw seriesBookingLimitError(limited, upcoming, dated.length);
    };
    const seriesId = `s-${randomUUID()}`;
    const response = await Promise.resolve()
      .then(async () => {
        for (const o of dated) {
          refusedAs(o, () => {
            checkBookable(provider, new Date(o.start), now, options.bookingHorizonMs);
            checkRules(vt, provider, o.start, now.getTime(), overridden);
            checkSlot(provider, schedule, new Date(o.start), plan.durationMs);
            checkAtLocation(vt, provider, schedule, o.start);
          });
        }
        await checkLimit(db);
        return lock.under(ctx, provider.provider_id, (token) =>
          writes.transaction(async (trx, after) => {
            const again = await lock.claim(trx, key, hash, now, BookSeriesResponseSchema, { providerId: provider.provider_id, token });
            if (again) return again;
            if (limited !== undefined) {
              // The patient's own bookings take turns (as BookAppointment's): the count sees every one committed before.
              await lockPatientBookings(trx, v.patientId);
              await checkLimit(trx);
            }
            const rooms = await this.roomsFor(trx, vt, provider, plan, dated, resourceIds);
            const rows: AppointmentRow[] = [];
            for (const [i, o] of dated.entries()) {
              if (!overridden) await this.checkPerDay(trx, vt, provider, v.patientId, o);
              const appointmentId = `a-${randomUUID()}`;
              const row = await insertOrTaken(trx, at(o), {
                appointmentId,
                providerId: provider.provider_id,
                patientId: v.patientId,
                start: new Date(o.start),
                end: new Date(o.start + plan.durationMs),
                bufferMs: plan.bufferAfterMs,
                bufferBeforeMs: plan.bufferBeforeMs,
                ...FRESH_BOOKING,
                resourceIds: rooms[i],
                reason: this.c.reasons.seal(appointmentId, "reason", v.reason),
                fencingToken: token ?? 0n,
                at: now,
                locationId: vt.location_id,
                visitTypeId: vt.visit_type_id,
                seriesId,
                seriesIndex: o.index,
              }).catch((err: unknown) => {
                // Time taken is this occurrence's refusal; a database failure (lock timeout, ...) stays
                // what it is, for WriteTransactions to answer (ABORTED, retry).
                throw err instanceof FailedPreconditionError ? new RefusedOccurrence(o, err) : err;
              });
              await appendChange(trx, { providerId: row.provider_id, appointmentId: row.appointment_id, at: now });
              rows.push(row);
            }
            // A rule overridden by staff: the reason is kept on each occurrence's audit entry.
            await AUDIT_LOG.append(trx, withOverride(audit(caller, "BookSeries", rows, now), overridden ? v.overrideReason : "", this.c.reasons));
            const res = create(BookSeriesResponseSchema, { series: { seriesId, appointments: rows.map((r) => toAppointment(r, this.c.reasons)), skippedDates: skipped.map((o) => o.localDate) } });
            await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(BookSeriesResponseSchema, res)));
            after.changed(provider.provider_id, ...rows.map(() => "BOOKED" as const));
            return res;
          }, { claims: true }),
        );
      })
      .catch(async (err: unknown) => {
        if (!(err instanceof RefusedOccurrence)) throw err;
        // After the rollback: time only held for a waitlist offer is told apart from time booked.
        throw occurrenceRefusedError(err.occurrence, total, await explainTaken(db, err.refusal, at(err.occurrence)));
      });
    await this.offers.passOnUntakeableOffers(v.patientId);
    return response;
  }

  /** checkPerDay refuses an occurrence on a local day the patient already has the visit type's most visits of (MAX_PER_PATIENT_PER_DAY). */
  private async checkPerDay(trx: Db, vt: VisitTypeRow, provider: ProviderRow, patientId: string, o: DatedOccurrence): Promise<void> {
    await checkVisitsPerDay(trx, { vt, provider, patientId, start: o.start, now: this.c.clock.now(), limit: vt.max_per_patient_per_day }).catch((err: unknown) => {
      throw err instanceof FailedPreconditionError ? new RefusedOccurrence(o, err) : err;
    });
  }

  /**
   * roomsFor is the rooms and devices of each occurrence: those named, or, when none are and the
   * visit type needs capabilities, one free room or device per capability chosen for each occurrence
   * (chooseResources; NO_RESOURCE_AVAILABLE naming the occurrence when there is none).
   */
  private async roomsFor(trx: Db, vt: VisitTypeRow, provider: ProviderRow, plan: VisitPlan, dated: DatedOccurrence[], named: string[]): Promise<string[][]> {
    const required = vt.required_capabilities;
    if (named.length > 0 || required.length === 0) return dated.map(() => named);
    const candidates = await resourcesWithCapabilities(trx, provider.location_id, required);
    const span = { start: dated[0].start, end: dated[dated.length - 1].start + plan.durationMs };
    const taken = await resourceBookings(trx, candidates.map((c) => c.resource_id), span);
    return dated.map((o) => {
      const end = o.start + plan.durationMs;
      const chosen = chooseResources(required, candidates, (id) => !taken.some((b) => b.resourceId === id && b.start < end && o.start < b.end));
      if (!chosen) throw new RefusedOccurrence(o, noResourceError(vt, provider, o.start, required));
      return chosen;
    });
  }

  /** cancelSeries cancels an occurrence and every later one that is BOOKED and has not started, in one transaction (see the file comment). */
  async cancelSeries(v: ValidCancelSeries, ctx: HandlerContext) {
    const { db, clock, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "CancelSeries", requestId: v.requestId };
    const hash = requestHash([v.seriesId, v.fromAppointmentId, v.reason]);
    const read = await access.readCommand(key, hash, CancelSeriesResponseSchema, v.fromAppointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const from = read.current;
    if (from.series_id !== v.seriesId || from.series_index === null) {
      if (!(await patientHasSeries(db, v.seriesId, from.patient_id))) throw seriesNotFoundError(v.seriesId);
      throw notInSeriesError();
    }
    const fromIndex = from.series_index;
    const now = clock.now();
    const pending = (rows: AppointmentRow[]) => rows.filter((a) => a.status === "BOOKED" && a.start_at.getTime() > now.getTime());
    const soonest = pending(await seriesOccurrencesFrom(db, v.seriesId, fromIndex)).sort((a, b) => a.start_at.getTime() - b.start_at.getTime())[0];
    if (caller.role === "patient" && soonest?.visit_type_id) {
      const vt = await findVisitType(db, soonest.visit_type_id);
      if (vt) checkPatientCutoff(vt, await access.requireProvider(db, soonest.provider_id), caller.role as Role, soonest.start_at.getTime(), now.getTime());
    }
    const { res, freed } = await lock.under(ctx, from.provider_id, (token) =>
      writes.transaction(async (trx, after) => {
        const again = await lock.claim(trx, key, hash, now, CancelSeriesResponseSchema, { providerId: from.provider_id, token });
        if (again) return { res: again, freed: [] };
        const cancelled: AppointmentRow[] = [];
        for (const a of pending(await seriesOccurrencesFrom(trx, v.seriesId, fromIndex))) {
          const set = { status: "CANCELLED" as const, at: now, cancelReason: this.c.reasons.seal(a.appointment_id, "cancel_reason", v.reason), fencingToken: token };
          const row = await changeAppointmentIf(trx, a.appointment_id, ["BOOKED"], set, auditBase(caller, "CancelSeries", now));
          if (!row) throw await access.changedMeanwhile(trx, a, "CANCEL", ["BOOKED"]);
          cancelled.push(row);
        }
        const res = create(CancelSeriesResponseSchema, { cancelled: cancelled.map((a) => a.appointment_id) });
        await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(CancelSeriesResponseSchema, res)));
        for (const a of cancelled) after.changed(a.provider_id, "CANCELLED");
        return { res, freed: cancelled };
      }, { claims: true }),
    );
    for (const a of freed) await this.offers.offerFreedTime(a.provider_id, { start: a.start_at.getTime(), end: a.end_at.getTime() });
    return res;
  }
}
