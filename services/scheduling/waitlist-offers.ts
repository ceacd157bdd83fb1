// Offering freed time to the waitlist, a background job rather than an RPC: when an appointment's
// time is freed (a cancellation, a reschedule, an offer withdrawn or lapsed) it is offered to the
// first waiting patient who could take it, as a PROPOSED appointment held for offerHoldMs; a timer
// passes on the offers whose hold lapsed, and offers a patient can no longer take are passed on at
// once. All of it best effort: a failure is logged, and what freed the time stands.
import { randomUUID } from "node:crypto";
import type { HandlerContext } from "@connectrpc/connect";
import { callerOf } from "../runtime/caller.js";
import type { FailedPreconditionError } from "../runtime/errors.js";
import { audit } from "./appointment-access.js";
import { insertOrTaken } from "./booking-rules.js";
import { expireLapsedHoldsNow } from "./holds.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import { toSchedule } from "./mappers/scheduling.mapper.js";
import { findScheduleLocations } from "./repositories/location.repository.js";
import { patientCouldTake } from "./patient-rules.js";
import { expiredOffers, openOffersOf, patientCommitments, providerBusy, updateAppointmentIf } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { appendChange } from "./repositories/change.repository.js";
import { findAvailability, findProvider } from "./repositories/provider.repository.js";
import { hasWaitingEntries, setWaitlistStatus, waitingEntries } from "./repositories/waitlist.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { patientBookingLimitError } from "./scheduling.errors.js";
import { listSlots, locationAt, type Interval } from "./slots.js";

/** BUSY_MARGIN_MS is how far around freed time busy time is read: the longest appointment and its buffer reach no further. */
export const BUSY_MARGIN_MS = 9 * 3_600_000;

/** WaitlistOffers makes, withdraws and sweeps waitlist offers (see the file comment). */
export class WaitlistOffers {
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly c: SchedulingContext) {
    if (c.options.offerSweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => void this.expireOffers().catch(() => undefined), c.options.offerSweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** close stops the sweep and waits for one under way. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping?.catch(() => undefined);
  }

  /**
   * expireOffers passes on every offer whose hold lapsed: PROPOSED -> CANCELLED, the entry EXPIRED,
   * and the time offered to the next waiting patient. It first expires the lapsed holds (HoldSlot;
   * holds.ts), which touches no waitlist. Runs on a timer and on demand; returns how many offers lapsed.
   */
  async expireOffers(): Promise<number> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      await expireLapsedHoldsNow(this.c).catch((err: unknown) => this.c.logger?.warn({ err }, "scheduling: expiring lapsed holds failed; retrying at the next sweep"));
      let count = 0;
      const now = this.c.clock.now();
      for (const offer of await expiredOffers(this.c.db, now, 100)) {
        const lapsed = await this.withdrawOffer(undefined, offer, now, { cancelReason: "offer expired", entry: "EXPIRED", action: "ExpireOffer" }).catch((err: unknown) => {
          this.c.logger?.warn({ err, appointmentId: offer.appointment_id }, "scheduling: passing on a lapsed offer failed; retrying at the next sweep");
          return undefined;
        });
        if (!lapsed) continue;
        count++;
        await this.offerFreedTime(lapsed.provider_id, { start: lapsed.start_at.getTime(), end: lapsed.end_at.getTime() });
      }
      return count;
    })();
    try {
      return await this.sweeping;
    } finally {
      this.sweeping = undefined;
    }
  }

  /**
   * passOnRefusedOffer hands on an offer its patient cannot accept (at the booking limit): withdrawn
   * now, its entry WAITING again (the patient keeps their place for later openings), the time offered
   * to the next patient. Returns the error for the patient (the offer stands if it could not be withdrawn).
   */
  async passOnRefusedOffer(ctx: HandlerContext, offer: AppointmentRow, now: Date, limit: number): Promise<FailedPreconditionError> {
    const withdrawn = await this.withdrawOffer(ctx, offer, now, { cancelReason: "offer passed on: the patient has the most upcoming appointments allowed", entry: "WAITING", action: "PassOnOffer" }).catch(
      (err: unknown) => {
        this.c.logger?.warn({ err, appointmentId: offer.appointment_id }, "scheduling: passing on a refused offer failed; it lapses at the end of its hold");
        return undefined;
      },
    );
    if (withdrawn) await this.offerFreedTime(withdrawn.provider_id, { start: withdrawn.start_at.getTime(), end: withdrawn.end_at.getTime() });
    return patientBookingLimitError(limit, withdrawn !== undefined);
  }

  /**
   * passOnUntakeableOffers hands on, after a booking of the patient (by anyone), each offer held for
   * them that they could no longer accept themselves (patientCouldTake against their appointments:
   * at the upcoming limit, or booked at an overlapping time): withdrawn at once, their entry WAITING
   * again, the time offered to the next patient, rather than held until it lapses. Best effort: a
   * failure is logged, and the offer then lapses at the end of its hold.
   */
  async passOnUntakeableOffers(patientId: string): Promise<void> {
    try {
      const now = this.c.clock.now();
      const offers = await openOffersOf(this.c.db, patientId, now);
      if (offers.length === 0) return;
      const booked = await patientCommitments(this.c.db, patientId, now, { offers: false });
      for (const offer of offers) {
        if (patientCouldTake(booked, { start: offer.start_at.getTime(), end: offer.end_at.getTime() }, this.c.options.maxUpcomingPerPatient)) continue;
        const withdrawn = await this.withdrawOffer(undefined, offer, now, { cancelReason: "offer passed on: the patient can no longer take it", entry: "WAITING", action: "PassOnOffer" });
        if (withdrawn) await this.offerFreedTime(withdrawn.provider_id, { start: withdrawn.start_at.getTime(), end: withdrawn.end_at.getTime() });
      }
    } catch (err) {
      this.c.logger?.warn({ err }, "scheduling: passing on offers a patient can no longer take failed; they lapse at the end of their hold");
    }
  }

  /**
   * withdrawOffer ends an open waitlist offer under the provider's lock: PROPOSED -> CANCELLED, its
   * entry `entry` (EXPIRED when the hold lapsed; WAITING, keeping its place, when the patient could not
   * take it), audited as `action`. undefined when it was no longer open. The caller then offers the
   * time to the next patient (offerFreedTime).
   */
  private async withdrawOffer(
    ctx: HandlerContext | undefined,
    offer: AppointmentRow,
    now: Date,
    why: { cancelReason: string; entry: "EXPIRED" | "WAITING"; action: string },
  ): Promise<AppointmentRow | undefined> {
    return this.c.lock.under(ctx, offer.provider_id, (token) =>
      this.c.writes.transaction(async (trx, after) => {
        await this.c.lock.checkFence(trx, offer.provider_id, token);
        const row = await updateAppointmentIf(trx, offer.appointment_id, ["PROPOSED"], { status: "CANCELLED", at: now, cancelReason: this.c.reasons.seal(offer.appointment_id, "cancel_reason", why.cancelReason), fencingToken: token });
        if (!row) return undefined;
        if (row.waitlist_entry_id) await setWaitlistStatus(trx, row.waitlist_entry_id, why.entry, why.entry === "WAITING" ? null : row.appointment_id, now);
        await AUDIT_LOG.append(trx, audit(callerOf(undefined), why.action, [row], now));
        await appendChange(trx, { providerId: row.provider_id, appointmentId: row.appointment_id, at: now });
        after.changed(row.provider_id, "CANCELLED");
        return row;
      }),
    );
  }

  /**
   * offerFreedTime offers freed time of a provider to the first waiting patient (join order) who
   * could take it: a slot inside both the freed time and their window is free, they are below the
   * upcoming-appointments limit counting the offers held for them (they could accept it themselves),
   * and it overlaps none of their appointments or offers; the others are passed over, keeping their
   * place. The offer is a PROPOSED appointment held for offerHoldMs. Best effort: a failure is logged,
   * the cancellation that freed the time stands.
   */
  async offerFreedTime(providerId: string, freed: Interval): Promise<void> {
    const { db, clock, options, lock, writes, logger } = this.c;
    try {
      // Nobody waiting (the usual case): no lock, no transaction. An entry committed after this read
      // would equally have been missed by the transaction's own read a moment later.
      if (!(await hasWaitingEntries(db, providerId))) return;
      const provider = await findProvider(db, providerId);
      const availability = provider && (await findAvailability(db, providerId));
      if (!provider || !availability) return;
      const schedule = toSchedule(provider, availability, await findScheduleLocations(db, providerId));
      const now = clock.now();
      // Never offer time that has passed or that lies beyond the booking horizon.
      const offerable: Interval = { start: Math.max(freed.start, now.getTime()), end: Math.min(freed.end, now.getTime() + options.bookingHorizonMs) };
      if (offerable.end <= offerable.start) return;
      const limit = options.maxUpcomingPerPatient;
      const offered = await lock.under(undefined, providerId, (token) =>
        writes.transaction(async (trx, after) => {
          const entries = await waitingEntries(trx, providerId, { start: new Date(offerable.start), end: new Date(offerable.end) }, 100);
          if (entries.length === 0) return undefined;
          const around: Interval = { start: freed.start - BUSY_MARGIN_MS, end: freed.end + BUSY_MARGIN_MS };
          const busy = await providerBusy(trx, providerId, around, now);
          for (const entry of entries) {
            const range: Interval = { start: Math.max(offerable.start, entry.window_start.getTime()), end: Math.min(offerable.end, entry.window_end.getTime()) };
            if (range.end <= range.start) continue;
            const durationMs = entry.duration_minutes ? entry.duration_minutes * 60_000 : schedule.slotMs;
            const slots = listSlots(schedule, { range, durationMs, providerBusy: busy });
            if (slots.length === 0) continue;
            // Only to a patient who could accept it: below the limit, and free then.
            const committed = await patientCommitments(trx, entry.patient_id, now);
            const slot = slots.find((s) => patientCouldTake(committed, s, limit));
            if (!slot) continue;
            await lock.checkFence(trx, providerId, token);
            const appointmentId = `a-${randomUUID()}`;
            const row = await insertOrTaken(trx, { provider, start: new Date(slot.start), blockedEnd: new Date(slot.end + schedule.bufferMs) }, {
              appointmentId,
              providerId,
              patientId: entry.patient_id,
              start: new Date(slot.start),
              end: new Date(slot.end),
              bufferMs: schedule.bufferMs,
              status: "PROPOSED",
              resourceIds: [],
              reason: this.c.reasons.seal(appointmentId, "reason", "waitlist offer"),
              // The hold ends when the offered time starts, if that comes first.
              offerExpiresAt: new Date(Math.min(now.getTime() + options.offerHoldMs, slot.start)),
              waitlistEntryId: entry.entry_id,
              fencingToken: token ?? 0n,
              rescheduledFromId: null,
              at: now,
              locationId: locationAt(schedule, slot.start),
            });
            await setWaitlistStatus(trx, entry.entry_id, "OFFERED", row.appointment_id, now);
            await AUDIT_LOG.append(trx, audit(callerOf(undefined), "OfferSlot", [row], now));
            await appendChange(trx, { providerId, appointmentId: row.appointment_id, at: now });
            after.changed(providerId, "PROPOSED");
            return row;
          }
          return undefined;
        }),
      );
      if (offered) logger?.info({ appointmentId: offered.appointment_id, providerId }, "scheduling: freed time offered to the waitlist");
    } catch (err) {
      logger?.warn({ err, providerId }, "scheduling: offering freed time to the waitlist failed");
    }
  }
}
