// Holds: HoldSlot keeps a visit type's time for a patient while they finish booking, as a PROPOSED
// appointment with a hold_id that occupies the provider and rooms exactly like a booking (the same
// exclusion constraints, written by the booking path's bookAtomically under the provider's lock and
// fencing token) until offer_expires_at: now + SCHEDULING_HOLD_TTL, or the visit's start if sooner.
// BookAppointment with the hold_id confirms it: the same appointment becomes BOOKED by a conditional
// UPDATE (still PROPOSED, hold not lapsed), so no race confirms an expired hold and no expiry frees a
// confirmed one. A lapsed hold blocks nobody: every insert expires the lapsed holds in its way first,
// reads leave them out, and the offer sweep expires the rest (repositories/hold.repository.ts). One
// patient has at most SCHEDULING_MAX_HOLDS_PER_PATIENT unexpired holds, counted under the patient's
// lock (the one their bookings take). Holds do not count toward PATIENT_BOOKING_LIMIT, but a patient
// at that limit cannot hold (they could not confirm), and confirming counts as booking.
import { checkVisitsPerDay } from "./visit-booking.js";
import { requireLocation } from "../runtime/auth/location-scope.js";
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { BookAppointmentResponseSchema, HoldSlotResponseSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Role } from "../runtime/auth/role-table.js";
import { auditBase } from "../runtime/audit.js";
import { callerOf, type Caller } from "../runtime/caller.js";
import { requestHash, RequestInProgressError, type RequestKey } from "../runtime/idempotency.js";
import { checkBookable, checkSlot, checkUpcomingLimit, explainTaken, slotTaken, type SlotContext } from "./booking-rules.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import type { ProviderRow } from "./db/provider.table.js";
import type { VisitTypeRow } from "./db/visit-type.table.js";
import { holdExpiredError, holdLimitError, holdMismatchError, holdNotFoundError, holdUsedError } from "./hold.errors.js";
import type { ValidConfirmHold, ValidHoldSlot } from "./hold.validation.js";
import { toAppointment, toSchedule } from "./mappers/scheduling.mapper.js";
import { patientSelfLimit } from "./patient-rules.js";
import { NO_TEXT } from "./reason-vault.js";
import { changeAppointmentIf, countUpcoming, findAppointment, findAppointmentAndKey, lockPatientBookings, slotHolders } from "./repositories/appointment.repository.js";
import { newAppointmentRow, TimeTakenError, type NewAppointment } from "./repositories/appointment.sql.js";
import { bookAtomically, readBookingContext, type AtomicBookingResult } from "./repositories/booking.repository.js";
import { busyResourceIds, countLiveHolds, expireLapsedHolds, HOLD_EXPIRED_REASON } from "./repositories/hold.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { findVisitType, resourcesWithCapabilities } from "./repositories/visit-type.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { noAvailabilityError, patientBookingLimitError, providerNotFoundError, resourceNotFoundError, type ProviderNaming } from "./scheduling.errors.js";
import { schedulingBookings } from "./scheduling.metrics.js";
import { checkAtLocation, checkMayBook, checkOffered, checkRules, chooseResources, visitPlanOf } from "./visit-plan.js";
import { noResourceError, visitTypeNotFoundError } from "./visit-type.errors.js";
import type { WaitlistOffers } from "./waitlist-offers.js";

/** SWEEP_BATCH is how many lapsed holds one sweep expires at most. */
const SWEEP_BATCH = 500;

/** expireLapsedHoldsNow expires the holds lapsed by now (the offer sweep runs it too); returns how many. */
export async function expireLapsedHoldsNow(c: SchedulingContext): Promise<number> {
  return c.writes.run(async (after) => {
    const expired = await expireLapsedHolds(c.db, c.clock.now(), SWEEP_BATCH);
    for (const e of expired) after.changed(e.provider_id, "CANCELLED");
    return expired.length;
  });
}

/** Holds takes and confirms holds (see the file comment). */
export class Holds {
  constructor(
    private readonly c: SchedulingContext,
    private readonly offers: WaitlistOffers,
  ) {}

  /**
   * holdSlot holds a visit type's slot for a patient (none -> PROPOSED with a hold_id): the checks of
   * BookAppointment with that visit type, the rooms or devices chosen by required capability when
   * none are named, then under the provider's lock, in one transaction under the patient's lock: the
   * limits (HOLD_LIMIT, PATIENT_BOOKING_LIMIT for a patient themselves, the visit type's maximum per
   * day) and the fenced insert with the requestId claim and audit row.
   */
  async holdSlot(v: ValidHoldSlot, ctx: HandlerContext) {
    const { db, clock, options, lock, writes } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "HoldSlot", requestId: v.requestId };
    const asked = [...v.resourceIds].sort();
    const hash = requestHash([v.visitTypeId, v.providerId, v.patientId, v.start.toISOString(), asked]);
    const now = clock.now();
    const vt = await findVisitType(db, v.visitTypeId);
    const durationMs = vt && vt.duration_minutes * 60_000;
    const found = await readBookingContext(db, { key, providerId: v.providerId, resourceIds: asked, start: v.start, durationMs, now });
    if (found.requestKey) return this.c.reasons.replay(HoldSlotResponseSchema, key, hash, found.requestKey);
    if (!vt) throw visitTypeNotFoundError(v.visitTypeId);
    const provider = found.provider;
    if (!provider) throw providerNotFoundError(v.providerId);
    const missing = asked.find((id) => !found.foundResourceIds.includes(id));
    if (missing !== undefined) throw resourceNotFoundError(missing);
    checkMayBook(vt, caller.role as Role, "");
    checkOffered(vt, provider);
    checkBookable(provider, v.start, now, options.bookingHorizonMs);
    checkRules(vt, provider, v.start.getTime(), now.getTime(), false);
    if (!found.availability) throw noAvailabilityError(provider);
    const schedule = toSchedule(provider, found.availability, found.locations);
    const plan = visitPlanOf(vt, schedule);
    checkSlot(provider, schedule, v.start, plan.durationMs);
    checkAtLocation(vt, provider, schedule, v.start.getTime());
    const end = new Date(v.start.getTime() + plan.durationMs);
    const at: SlotContext = { provider, start: v.start, blockedEnd: new Date(end.getTime() + plan.bufferAfterMs) };
    if (found.providerBusy || found.resourceBusy) throw await explainTaken(db, slotTaken(found.providerBusy ? "provider" : "resource", at), at);
    const resourceIds = await this.resourcesFor(vt, provider, asked, { start: v.start, end }, now);
    const limits = { patientId: v.patientId, now, upcoming: patientSelfLimit(caller.role, options.maxUpcomingPerPatient), vt, provider, start: v.start };
    // Refused here when already reached; decided under the patient's lock below.
    await this.checkLimits(db, limits);
    const holdId = `h-${randomUUID()}`;
    const expiresAt = new Date(Math.min(now.getTime() + options.holdTtlMs, v.start.getTime()));
    return lock.under(ctx, provider.provider_id, async (token) => {
      // Held exactly as a booking would be, but PROPOSED until expiresAt and named by its holdId.
      const held = { status: "PROPOSED" as const, holdId, offerExpiresAt: expiresAt, visitTypeId: vt.visit_type_id, locationId: vt.location_id };
      const who = { appointmentId: `a-${randomUUID()}`, providerId: provider.provider_id, patientId: v.patientId, fencingToken: token ?? 0n };
      const when = { start: v.start, end, bufferBeforeMs: plan.bufferBeforeMs, bufferMs: plan.bufferAfterMs, at: now };
      const appointment: NewAppointment = { ...held, ...who, ...when, resourceIds, reason: NO_TEXT, waitlistEntryId: null, rescheduledFromId: null };
      const response = create(HoldSlotResponseSchema, { hold: { holdId, expiresAt: timestampFromDate(expiresAt), appointment: toAppointment(newAppointmentRow(appointment), this.c.reasons) } });
      const written = { key, hash, appointment, response: this.c.reasons.sealResponse(key, toBinary(HoldSlotResponseSchema, response)), fence: lock.fence(provider.provider_id, token) };
      const result = await writes
        .transaction(async (trx, after): Promise<AtomicBookingResult> => {
          await lockPatientBookings(trx, v.patientId);
          if (await REQUEST_KEYS.find(trx, key)) return { outcome: "claimed" };
          await this.checkLimits(trx, limits);
          const r = await bookAtomically(trx, { ...written, audit: auditBase(caller, "HoldSlot", now), lockTimeoutMs: lock.lockTimeoutMs() });
          if (r.outcome === "booked") after.changed(provider.provider_id, "PROPOSED");
          return r;
        })
        .catch(async (err: unknown) => {
          throw err instanceof TimeTakenError ? await explainTaken(db, slotTaken(err.taken, at), at) : err;
        });
      if (result.outcome === "booked") return response;
      if (result.outcome === "fenced") throw lock.fencedOut(provider.provider_id, token);
      // A concurrent call with this requestId committed first: its answer is ours.
      const first = await REQUEST_KEYS.find(db, key);
      if (first) return this.c.reasons.replay(HoldSlotResponseSchema, key, hash, first);
      throw new RequestInProgressError();
    });
  }

  /**
   * confirm is BookAppointment with a hold_id: the held appointment becomes BOOKED (the same
   * appointment id) if the hold is still unexpired and the request names nothing else than the hold
   * (empty fields are taken from it). Another patient's hold is NOT_FOUND to a patient; a lapsed one
   * HOLD_EXPIRED (saying whether the time is still free), and nothing is booked then.
   */
  async confirm(v: ValidConfirmHold, ctx: HandlerContext) {
    const { db, clock, options, lock, writes } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "BookAppointment", requestId: v.requestId };
    const hash = requestHash(["hold", v.holdId, v.providerId, v.patientId, v.start?.toISOString(), v.durationMs, v.visitTypeId, v.resourceIds, v.reason]);
    const read = await findAppointmentAndKey(db, v.holdId, key, "hold_id");
    if (read.requestKey) return this.c.reasons.replay(BookAppointmentResponseSchema, key, hash, read.requestKey);
    const held = read.appointment;
    if (!held || !mayConfirm(caller, held)) throw holdNotFoundError(v.holdId);
    // A location-scoped caller confirms only holds at their locations.
    requireLocation(ctx, held.location_id, "this hold");
    const provider = await this.c.access.providerNaming(held.provider_id);
    const mismatch = mismatchOf(v, held);
    if (mismatch) throw holdMismatchError(provider, held.start_at.getTime(), mismatch);
    const now = clock.now();
    if (held.status !== "PROPOSED" || held.offer_expires_at!.getTime() <= now.getTime()) throw await this.refusal(db, held, provider, now);
    const limited = patientSelfLimit(caller.role, options.maxUpcomingPerPatient);
    if (limited !== undefined && (await countUpcoming(db, held.patient_id, now)) >= limited) throw patientBookingLimitError(limited);
    const response = await lock.under(ctx, held.provider_id, (token) =>
      writes.transaction(async (trx, after) => {
        const replayed = await lock.claim(trx, key, hash, now, BookAppointmentResponseSchema, { providerId: held.provider_id, token });
        if (replayed) return replayed;
        await checkUpcomingLimit(trx, held.patient_id, now, limited);
        // Only while still PROPOSED and not lapsed: a hold that lapsed meanwhile is never booked.
        const change = { status: "BOOKED" as const, at: now, fencingToken: token, holdLiveAt: now, reason: v.reason === "" ? undefined : this.c.reasons.seal(held.appointment_id, "reason", v.reason) };
        const row = await changeAppointmentIf(trx, held.appointment_id, ["PROPOSED"], change, auditBase(caller, "ConfirmHold", now));
        if (!row) throw await this.refusal(trx, (await findAppointment(trx, held.appointment_id)) ?? held, provider, now);
        const res = create(BookAppointmentResponseSchema, { appointment: toAppointment(row, this.c.reasons) });
        await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(BookAppointmentResponseSchema, res)));
        after.changed(row.provider_id, "BOOKED");
        return res;
      }, { claims: true }),
    );
    schedulingBookings.inc({ outcome: "booked" });
    // Booked: the patient's waitlist offers may now be beyond their limit.
    await this.offers.passOnUntakeableOffers(held.patient_id);
    return response;
  }

  /** refusal is why a hold cannot be confirmed: HOLD_EXPIRED (lapsed, swept or not) or HOLD_ALREADY_USED. */
  private async refusal(db: Db, held: AppointmentRow, provider: ProviderNaming, now: Date) {
    const start = held.start_at.getTime();
    const lapsed = held.status === "PROPOSED" ? held.offer_expires_at!.getTime() <= now.getTime() : this.c.reasons.cancelReasonOf(held) === HOLD_EXPIRED_REASON;
    if (!lapsed) return holdUsedError(provider, start, held.status);
    const others = await slotHolders(db, held.provider_id, { start, end: held.end_at.getTime() }, held.appointment_id);
    const stillFree = others.every((h) => h.hold_id !== null && h.status === "PROPOSED" && h.offer_expires_at!.getTime() <= now.getTime());
    return holdExpiredError(provider, start, held.offer_expires_at!.getTime(), stillFree);
  }

  /**
   * checkLimits refuses a hold beyond the patient's limits at `now`: HOLD_LIMIT (whoever holds for
   * them), PATIENT_BOOKING_LIMIT (`upcoming`: a patient holding for themselves) and the visit type's
   * maximum per local day (MAX_PER_PATIENT_PER_DAY, holds counted).
   */
  private async checkLimits(
    db: Db,
    l: { patientId: string; now: Date; upcoming: number | undefined; vt: VisitTypeRow; provider: ProviderRow; start: Date },
  ): Promise<void> {
    const max = this.c.options.maxHoldsPerPatient;
    if (max > 0 && (await countLiveHolds(db, l.patientId, l.now)) >= max) throw holdLimitError(max);
    if (l.upcoming !== undefined && (await countUpcoming(db, l.patientId, l.now)) >= l.upcoming) throw patientBookingLimitError(l.upcoming);
    await checkVisitsPerDay(db, { ...l, start: l.start.getTime(), limit: l.vt.max_per_patient_per_day });
  }

  /**
   * resourcesFor is the rooms and devices a hold takes: those named (which must cover the visit
   * type's required capabilities), or one free room or device of the visit type's location per
   * required capability (NO_RESOURCE_AVAILABLE when there is no such choice).
   */
  private async resourcesFor(vt: VisitTypeRow, provider: ProviderRow, asked: string[], during: { start: Date; end: Date }, now: Date): Promise<string[]> {
    const required = vt.required_capabilities;
    if (required.length === 0) return asked;
    const candidates = await resourcesWithCapabilities(this.c.db, vt.location_id, required);
    let chosen: string[] | undefined;
    if (asked.length > 0) {
      chosen = chooseResources(required, candidates.filter((r) => asked.includes(r.resource_id)), () => true) && asked;
    } else {
      const busy = await busyResourceIds(this.c.db, candidates.map((r) => r.resource_id), during, now);
      chosen = chooseResources(required, candidates, (id) => !busy.has(id));
    }
    if (!chosen) throw noResourceError(vt, provider, during.start.getTime(), required);
    return chosen;
  }
}

/**
 * mayConfirm tells whether a caller may confirm a hold: a patient only their own (whatever patientId
 * they sent, which the role table holds to their own id), so another patient's hold does not exist for them.
 */
function mayConfirm(caller: Caller, held: AppointmentRow): boolean {
  return caller.role !== "patient" || held.patient_id === caller.subject;
}

/** mismatchOf names what a confirmation gives that differs from the hold (undefined: nothing). */
function mismatchOf(v: ValidConfirmHold, held: AppointmentRow): string | undefined {
  if (v.providerId !== undefined && v.providerId !== held.provider_id) return "provider";
  if (v.patientId !== undefined && v.patientId !== held.patient_id) return "patient";
  if (v.start !== undefined && v.start.getTime() !== held.start_at.getTime()) return "time";
  if (v.durationMs !== undefined && v.durationMs !== held.end_at.getTime() - held.start_at.getTime()) return "length";
  if (v.visitTypeId !== undefined && v.visitTypeId !== held.visit_type_id) return "visit type";
  if (v.resourceIds !== undefined && v.resourceIds.join(",") !== [...held.resource_ids].sort().join(",")) return "room or device";
  return undefined;
}
