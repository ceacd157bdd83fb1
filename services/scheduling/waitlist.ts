// The waitlist's RPCs: joining it (at most one active entry per provider and overlapping window, the
// table's exclusion constraint deciding) and accepting an offer made from it (PROPOSED -> BOOKED).
// Making and passing on offers is waitlist-offers.ts.
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { AcceptOfferResponseSchema, JoinWaitlistResponseSchema } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditBase } from "../runtime/audit.js";
import { callerOf } from "../runtime/caller.js";
import { FailedPreconditionError } from "../runtime/errors.js";
import { requestHash, type RequestKey } from "../runtime/idempotency.js";
import { checkDuration, checkUpcomingLimit } from "./booking-rules.js";
import type { Db } from "./db/database.js";
import type { ProviderRow } from "./db/provider.table.js";
import { toAppointment, toSchedule, toWaitlistEntry } from "./mappers/scheduling.mapper.js";
import { patientSelfLimit } from "./patient-rules.js";
import { changeAppointmentIf, countUpcoming, findAppointment, lockPatientBookings } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { findAvailability } from "./repositories/provider.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { countActiveEntries, findOverlappingEntry, insertWaitlistEntry, setWaitlistStatus } from "./repositories/waitlist.repository.js";
import { notAnOfferError } from "./hold.errors.js";
import type { SchedulingContext } from "./scheduling-context.js";
import {
  alreadyOnWaitlistError,
  beyondHorizonError,
  offerExpiredError,
  offerTimePassedError,
  patientWaitlistLimitError,
  waitlistConflictError,
  waitlistWindowPastError,
} from "./scheduling.errors.js";
import type { ValidAppointmentCommand, ValidJoinWaitlist } from "./scheduling.validation.js";
import type { WaitlistOffers } from "./waitlist-offers.js";

/** Waitlist serves JoinWaitlist and AcceptOffer (see the file comment). */
export class Waitlist {
  constructor(
    private readonly c: SchedulingContext,
    private readonly offers: WaitlistOffers,
  ) {}

  /**
   * joinWaitlist puts a patient on a provider's waitlist for a window; ALREADY_ON_WAITLIST when the
   * patient already waits for the provider (or holds an offer from that entry) at an overlapping time.
   * A patient joining themselves holds at most maxWaitlistPerPatient active entries (all providers),
   * counted under the same patient lock as their bookings; staff adding a patient are not limited.
   */
  async joinWaitlist(v: ValidJoinWaitlist, ctx: HandlerContext) {
    const { db, clock, options, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "JoinWaitlist", requestId: v.requestId };
    const hash = requestHash([v.providerId, v.patientId, v.windowStart.toISOString(), v.windowEnd.toISOString(), v.durationMs ?? 0]);
    const replayed = await access.replay(db, key, hash, JoinWaitlistResponseSchema);
    if (replayed) return replayed;
    const provider = await access.requireProvider(db, v.providerId);
    const now = clock.now();
    // A window that has passed can never be offered anything; one starting past the horizon could
    // only be offered time that cannot be booked.
    if (v.windowEnd.getTime() <= now.getTime()) throw waitlistWindowPastError(provider, v.windowEnd.getTime());
    if (v.windowStart.getTime() > now.getTime() + options.bookingHorizonMs) {
      throw beyondHorizonError(provider, v.windowStart.getTime(), now.getTime(), options.bookingHorizonMs);
    }
    const availability = await findAvailability(db, provider.provider_id);
    if (availability && v.durationMs !== undefined) checkDuration(toSchedule(provider, availability), v.durationMs);
    const limited = patientSelfLimit(caller.role, options.maxWaitlistPerPatient);
    if (limited !== undefined && (await countActiveEntries(db, v.patientId, now)) >= limited) throw await this.waitlistRefusal(db, provider, v, limited);
    return writes.transaction(async (trx) => {
      const replayed = await lock.claim(trx, key, hash, now, JoinWaitlistResponseSchema, { providerId: provider.provider_id, token: undefined });
      if (replayed) return replayed;
      if (limited !== undefined) {
        // Concurrent joins of one patient take turns here, so they cannot all slip under the limit.
        await lockPatientBookings(trx, v.patientId);
        if ((await countActiveEntries(trx, v.patientId, now)) >= limited) throw await this.waitlistRefusal(trx, provider, v, limited);
      }
      const entry = await insertWaitlistEntry(trx, {
        entry_id: `w-${randomUUID()}`,
        provider_id: provider.provider_id,
        patient_id: v.patientId,
        window_start: v.windowStart,
        window_end: v.windowEnd,
        duration_minutes: v.durationMs === undefined ? null : v.durationMs / 60_000,
        created_at: now,
      });
      if (!entry) {
        // Already waiting for this provider at an overlapping time (rolled back, the requestId claim too).
        const existing = await findOverlappingEntry(trx, { providerId: provider.provider_id, patientId: v.patientId, start: v.windowStart, end: v.windowEnd });
        if (!existing) throw waitlistConflictError();
        throw alreadyOnWaitlistError(provider, existing);
      }
      await AUDIT_LOG.append(trx, [{ ...auditBase(caller, "JoinWaitlist", now), record_type: "waitlist", record_id: entry.entry_id }]);
      const res = create(JoinWaitlistResponseSchema, { entry: toWaitlistEntry(entry) });
      await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(JoinWaitlistResponseSchema, res)));
      return res;
    }, { claims: true });
  }

  /**
   * acceptOffer books a waitlist offer before its hold lapses: PROPOSED -> BOOKED. A patient accepting
   * for themselves is held to patientChangeClosesAt and to the upcoming-appointments limit, counted
   * under the same patient lock as their bookings; refused by the limit (they booked elsewhere since
   * the offer), the offer is passed on at once rather than held for the rest of its hold.
   */
  async acceptOffer(v: ValidAppointmentCommand, ctx: HandlerContext) {
    const { db, clock, options, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "AcceptOffer", requestId: v.requestId };
    const hash = requestHash([v.appointmentId]);
    const read = await access.readCommand(key, hash, AcceptOfferResponseSchema, v.appointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const current = read.current;
    if (current.status !== "PROPOSED") throw await access.refusal(db, current, "ACCEPT_OFFER", ["PROPOSED"]);
    if (current.hold_id !== null) throw notAnOfferError(await access.providerNaming(current.provider_id), current.start_at.getTime());
    const now = clock.now();
    const timePassed = current.start_at.getTime() <= now.getTime();
    if (timePassed || (current.offer_expires_at && current.offer_expires_at.getTime() <= now.getTime())) {
      // Pass the lapsed offer on now rather than at the next sweep.
      await this.offers.expireOffers().catch(() => undefined);
      const provider = await access.providerNaming(current.provider_id);
      throw timePassed ? offerTimePassedError(provider, current) : offerExpiredError(provider, current, current.offer_expires_at!);
    }
    await access.checkPatientMayChange(caller, current, "ACCEPT_OFFER", now);
    const limited = patientSelfLimit(caller.role, options.maxUpcomingPerPatient);
    if (limited !== undefined && (await countUpcoming(db, current.patient_id, now)) >= limited) throw await this.offers.passOnRefusedOffer(ctx, current, now, limited);
    const accepted = lock.under(ctx, current.provider_id, (token) =>
      writes.transaction(async (trx, after) => {
        const replayed = await lock.claim(trx, key, hash, now, AcceptOfferResponseSchema, { providerId: current.provider_id, token });
        if (replayed) return replayed;
        await checkUpcomingLimit(trx, current.patient_id, now, limited);
        const row = await changeAppointmentIf(trx, v.appointmentId, ["PROPOSED"], { status: "BOOKED", at: now, fencingToken: token }, auditBase(caller, "AcceptOffer", now));
        if (!row) throw await access.refusal(trx, (await findAppointment(trx, v.appointmentId)) ?? current, "ACCEPT_OFFER", ["PROPOSED"]);
        if (row.waitlist_entry_id) await setWaitlistStatus(trx, row.waitlist_entry_id, "BOOKED", row.appointment_id, now);
        const res = create(AcceptOfferResponseSchema, { appointment: toAppointment(row, this.c.reasons) });
        await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(AcceptOfferResponseSchema, res)));
        after.changed(row.provider_id, "BOOKED");
        return res;
      }, { claims: true }),
    );
    const res = await accepted.catch(async (err: unknown) => {
      // Refused under the patient lock (rolled back): pass the offer on, outside that transaction.
      if (limited !== undefined && err instanceof FailedPreconditionError && err.reason === "PATIENT_BOOKING_LIMIT") throw await this.offers.passOnRefusedOffer(ctx, current, now, limited);
      throw err;
    });
    // Booked: their other offers may now be beyond the limit.
    await this.offers.passOnUntakeableOffers(current.patient_id);
    return res;
  }

  /**
   * waitlistRefusal is the error for a join by a patient at their waitlist limit: ALREADY_ON_WAITLIST
   * when the window overlaps one of their entries for the provider (a repeat: the more useful answer),
   * else PATIENT_WAITLIST_LIMIT.
   */
  private async waitlistRefusal(db: Db, provider: ProviderRow, v: { patientId: string; windowStart: Date; windowEnd: Date }, limit: number): Promise<FailedPreconditionError> {
    const existing = await findOverlappingEntry(db, { providerId: provider.provider_id, patientId: v.patientId, start: v.windowStart, end: v.windowEnd });
    return existing ? alreadyOnWaitlistError(provider, existing) : patientWaitlistLimitError(limit);
  }
}
