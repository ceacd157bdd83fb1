// Giving and moving an appointment's time: book (none -> BOOKED), cancel (-> CANCELLED) and
// reschedule (BOOKED -> CANCELLED plus a new BOOKED, in one transaction). Each runs under the
// provider's lock (provider-lock.ts) with its requestId claimed and fencing token checked first; the
// exclusion constraints of the appointments and their rooms are the guarantee. Freed time goes to
// the waitlist afterwards (waitlist-offers.ts). A visit type adds its length, buffers, rooms and rules
// (visit-booking.ts); a plain booking keeps its one-statement path (bookAtomically).
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  BookAppointmentResponseSchema,
  CancelAppointmentResponseSchema,
  RescheduleAppointmentResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditBase } from "../runtime/audit.js";
import { callerOf } from "../runtime/caller.js";
import { databaseDomainError } from "../runtime/errors.js";
import { requestHash, RequestInProgressError, type RequestKey } from "../runtime/idempotency.js";
import { audit } from "./appointment-access.js";
import type { Role } from "../runtime/auth/role-table.js";
import { checkBookable, checkDuration, checkSlot, explainTaken, insertOrTaken, slotTaken, type SlotContext } from "./booking-rules.js";
import { ACTIVE_STATUSES, type AppointmentStatusName } from "./db/appointment.table.js";
import { toAppointment, toSchedule } from "./mappers/scheduling.mapper.js";
import { patientSelfLimit } from "./patient-rules.js";
import { changeAppointmentIf, countUpcoming, findAppointment, lockPatientBookings } from "./repositories/appointment.repository.js";
import { newAppointmentRow, TimeTakenError, type NewAppointment } from "./repositories/appointment.sql.js";
import { AUDIT_LOG, withOverride } from "./repositories/audit.repository.js";
import { bookAtomically, readBookingContext, type AtomicBookingResult } from "./repositories/booking.repository.js";
import { appendChange } from "./repositories/change.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { setWaitlistStatus } from "./repositories/waitlist.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { locationAt } from "./slots.js";
import { noAvailabilityError, patientBookingLimitError, providerNotFoundError, resourceNotFoundError } from "./scheduling.errors.js";
import { bookingOutcomeOf, schedulingBookings } from "./scheduling.metrics.js";
import type { ValidAppointmentCommand, ValidBookAppointment } from "./scheduling.validation.js";
import type { AppointmentLifecycle } from "./appointment-lifecycle.js";
import { checkMayBook, checkPatientCutoff } from "./visit-plan.js";
import { checkPerDay, checkVisitCutoff, planVisit, requireVisitType } from "./visit-booking.js";
import type { WaitlistOffers } from "./waitlist-offers.js";

/** Booking books, cancels and reschedules appointments (see the file comment). */
export class Booking {
  constructor(
    private readonly c: SchedulingContext,
    private readonly offers: WaitlistOffers,
    private readonly lifecycle: AppointmentLifecycle,
  ) {}

  /**
   * bookAppointment books a slot (none -> BOOKED): checks it against the availability, then under the
   * provider's lock, in one transaction: requestId claim, checkFence, the insert (provider and rooms;
   * the exclusion constraints decide), audit row and change event. With a visit type, planVisit
   * decides its length, buffers, rooms and rules first; its maximum per day and the patient's own
   * limit are decided under the patient's transaction lock.
   */
  async bookAppointment(v: ValidBookAppointment, ctx: HandlerContext) {
    try {
      const { response, booked } = await this.book(v, ctx);
      schedulingBookings.inc({ outcome: booked ? "booked" : "replayed" });
      if (booked && response.appointment) await this.offers.passOnUntakeableOffers(response.appointment.patientId);
      return response;
    } catch (err) {
      schedulingBookings.inc({ outcome: bookingOutcomeOf(databaseDomainError(err) ?? err) });
      throw err;
    }
  }

  private async book(v: ValidBookAppointment, ctx: HandlerContext) {
    const { db, clock, options, lock, writes } = this.c;
    const caller = callerOf(ctx);
    checkMayBook(undefined, caller.role as Role, v.overrideReason);
    const resourceIds = [...v.resourceIds].sort();
    const key: RequestKey = { caller: caller.subject, rpc: "BookAppointment", requestId: v.requestId };
    // The visit type fields join the hash only when sent: a plain booking hashes as it always did.
    const visitFields = v.visitTypeId || v.holdId || v.overrideReason ? [v.visitTypeId ?? "", v.holdId ?? "", v.overrideReason] : [];
    const hash = requestHash([v.providerId, v.patientId, v.start.toISOString(), v.durationMs ?? 0, resourceIds, v.reason, ...visitFields]);
    const vt = v.visitTypeId === undefined ? undefined : await requireVisitType(db, v.visitTypeId, caller, v.overrideReason);
    const hintMs = vt ? vt.duration_minutes * 60_000 : v.durationMs;
    // One read, one snapshot: the requestId, the provider, its availability, the rooms, and whether
    // committed appointments already hold the time (only a hint: the exclusion constraints decide).
    const now = clock.now();
    const found = await readBookingContext(db, { key, providerId: v.providerId, resourceIds, start: v.start, durationMs: hintMs, now });
    if (found.requestKey) return { response: this.c.reasons.replay(BookAppointmentResponseSchema, key, hash, found.requestKey), booked: false };
    const provider = found.provider;
    if (!provider) throw providerNotFoundError(v.providerId);
    const missing = resourceIds.find((id) => !found.foundResourceIds.includes(id));
    if (missing !== undefined) throw resourceNotFoundError(missing);
    checkBookable(provider, v.start, now, options.bookingHorizonMs);
    if (!found.availability) throw noAvailabilityError(provider);
    const schedule = toSchedule(provider, found.availability, found.locations);
    const visit = vt && (await planVisit(db, { vt, provider, schedule, start: v.start, now, caller, patientId: v.patientId, overrideReason: v.overrideReason, resourceIds }));
    const durationMs = visit ? visit.plan.durationMs : checkDuration(schedule, v.durationMs);
    if (!visit) checkSlot(provider, schedule, v.start, durationMs);
    const bufferMs = visit ? visit.plan.bufferAfterMs : schedule.bufferMs;
    // Time already taken by a committed appointment is refused before queueing for the lock. The
    // requestId was read in the same snapshot: the time is not held by this very request.
    const at: SlotContext = { provider, start: v.start, blockedEnd: new Date(v.start.getTime() + durationMs + bufferMs) };
    if (found.providerBusy || found.resourceBusy) throw await explainTaken(db, slotTaken(found.providerBusy ? "provider" : "resource", at), at);
    // A patient booking themselves holds at most maxUpcomingPerPatient appointments that have not
    // ended: refused here when already reached, decided under the patient lock below (as is a
    // visit type's maximum per patient per day).
    const limited = patientSelfLimit(caller.role, options.maxUpcomingPerPatient);
    if (limited !== undefined && (await countUpcoming(db, v.patientId, now)) >= limited) throw patientBookingLimitError(limited);
    const perPatient = limited !== undefined || visit?.perDayLimit !== undefined;
    const end = new Date(v.start.getTime() + durationMs);
    let booked = false;
    const response = await lock.under(ctx, provider.provider_id, async (token) => {
      const appointmentId = `a-${randomUUID()}`;
      const appointment: NewAppointment = {
        appointmentId,
        providerId: provider.provider_id,
        patientId: v.patientId,
        start: v.start,
        end,
        bufferMs,
        status: "BOOKED",
        resourceIds: visit ? visit.resourceIds : resourceIds,
        reason: this.c.reasons.seal(appointmentId, "reason", v.reason),
        offerExpiresAt: null,
        waitlistEntryId: null,
        fencingToken: token ?? 0n,
        rescheduledFromId: null,
        at: now,
        ...(vt && visit ? { visitTypeId: vt.visit_type_id, bufferBeforeMs: visit.plan.bufferBeforeMs } : {}),
        locationId: locationAt(schedule, v.start.getTime()),
      };
      // The response is known before the write (every column comes from here), so it is stored with
      // the requestId claim in the same statement.
      const response = create(BookAppointmentResponseSchema, { appointment: toAppointment(newAppointmentRow(appointment), this.c.reasons) });
      const atomic = {
        appointment,
        key,
        hash,
        response: this.c.reasons.sealResponse(key, toBinary(BookAppointmentResponseSchema, response)),
        fence: lock.fence(provider.provider_id, token),
        audit: auditBase(caller, "BookAppointment", now),
        lockTimeoutMs: lock.lockTimeoutMs(),
        overrideReason: visit?.overrideReason ? this.c.reasons.sealOverride(visit.overrideReason) : undefined,
      };
      const result = await writes
        .run(async (after) => {
          const r: AtomicBookingResult = !perPatient
            ? await bookAtomically(db, atomic)
            : // The patient's own bookings of every provider take turns here: the counts, statements
              // after the lock, see each one committed before, so concurrent ones cannot all pass.
              await writes.transaction(async (trx): Promise<AtomicBookingResult> => {
                await lockPatientBookings(trx, v.patientId);
                if (await REQUEST_KEYS.find(trx, key)) return { outcome: "claimed" };
                if (limited !== undefined && (await countUpcoming(trx, v.patientId, now)) >= limited) throw patientBookingLimitError(limited);
                if (vt && visit) await checkPerDay(trx, visit, { vt, provider, start: v.start, patientId: v.patientId, now });
                return bookAtomically(trx, atomic);
              });
          if (r.outcome === "booked") after.changed(provider.provider_id, "BOOKED");
          return r;
        })
        .catch(async (err: unknown) => {
          throw err instanceof TimeTakenError ? await explainTaken(db, slotTaken(err.taken, at), at) : err;
        });
      if (result.outcome === "fenced") throw lock.fencedOut(provider.provider_id, token);
      if (result.outcome === "claimed") {
        // A concurrent call with this requestId committed first: answer as it did.
        const existing = await REQUEST_KEYS.find(db, key);
        if (!existing) throw new RequestInProgressError();
        return this.c.reasons.replay(BookAppointmentResponseSchema, key, hash, existing);
      }
      booked = true;
      return response;
    });
    return { response, booked };
  }

  /**
   * cancelAppointment frees an appointment's time: PROPOSED, BOOKED or CHECKED_IN -> CANCELLED. A
   * checked-in patient's ticket is withdrawn from the queue first (refused when the patient was
   * already seen); a patient may cancel only until patientChangeClosesAt (and, for a visit type,
   * its patientCancelCutoff before the start). The freed time is then
   * offered to the first waiting patient whose window fits.
   */
  async cancelAppointment(v: ValidAppointmentCommand & { reason: string }, ctx: HandlerContext) {
    const { db, clock, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "CancelAppointment", requestId: v.requestId };
    const hash = requestHash([v.appointmentId, v.reason]);
    const read = await access.readCommand(key, hash, CancelAppointmentResponseSchema, v.appointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const current = read.current;
    const from: AppointmentStatusName[] = [...ACTIVE_STATUSES];
    if (!from.includes(current.status)) throw await access.refusal(db, current, "CANCEL", from);
    const now = clock.now();
    await access.checkPatientMayChange(caller, current, "CANCEL", now);
    await checkVisitCutoff(db, access, caller, current, now);
    const ticketId = await this.lifecycle.settleTicket(ctx, caller, current, "CANCEL");
    const response = await lock.under(ctx, current.provider_id, (token) =>
      writes.transaction(async (trx, after) => {
        const replayed = await lock.claim(trx, key, hash, now, CancelAppointmentResponseSchema, { providerId: current.provider_id, token });
        if (replayed) return replayed;
        const row = await changeAppointmentIf(
          trx,
          v.appointmentId,
          [current.status],
          { status: "CANCELLED", at: now, cancelReason: this.c.reasons.seal(v.appointmentId, "cancel_reason", v.reason), fencingToken: token, ticketId },
          auditBase(caller, "CancelAppointment", now),
          { ticketId: current.ticket_id },
        );
        if (!row) throw await access.changedMeanwhile(trx, current, "CANCEL", from);
        if (current.status === "PROPOSED" && row.waitlist_entry_id) await setWaitlistStatus(trx, row.waitlist_entry_id, "EXPIRED", row.appointment_id, now);
        const res = create(CancelAppointmentResponseSchema, { appointment: toAppointment(row, this.c.reasons) });
        await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(CancelAppointmentResponseSchema, res)));
        after.changed(row.provider_id, "CANCELLED");
        return res;
      }, { claims: true }),
    );
    await this.offers.offerFreedTime(current.provider_id, { start: current.start_at.getTime(), end: current.end_at.getTime() });
    return response;
  }

  /**
   * rescheduleAppointment moves a BOOKED appointment in one transaction under the provider's lock:
   * the old one becomes CANCELLED and a new BOOKED one takes the new slot; if the new slot cannot be
   * taken the transaction rolls back and nothing changes. Nobody else can take the old time in between.
   * A patient may move their appointment only until patientChangeClosesAt (and a visit type's
   * patientCancelCutoff). A visit type applies at the new time as when booking; the new appointment
   * keeps the old one's location, visit type, series and place in the series.
   */
  async rescheduleAppointment(v: ValidAppointmentCommand & { newStart: Date; overrideReason: string }, ctx: HandlerContext) {
    const { db, clock, options, lock, writes, access } = this.c;
    const caller = callerOf(ctx);
    checkMayBook(undefined, caller.role as Role, v.overrideReason);
    const key: RequestKey = { caller: caller.subject, rpc: "RescheduleAppointment", requestId: v.requestId };
    const hash = requestHash([v.appointmentId, v.newStart.toISOString(), ...(v.overrideReason ? [v.overrideReason] : [])]);
    const read = await access.readCommand(key, hash, RescheduleAppointmentResponseSchema, v.appointmentId, caller, "patient");
    if (!read.current) return read.replayed;
    const current = read.current;
    if (current.status !== "BOOKED") throw await access.refusal(db, current, "RESCHEDULE", ["BOOKED"]);
    const provider = await access.requireProvider(db, current.provider_id);
    const now = clock.now();
    await access.checkPatientMayChange(caller, current, "RESCHEDULE", now);
    const vt = current.visit_type_id === null ? undefined : await requireVisitType(db, current.visit_type_id, caller, v.overrideReason);
    if (vt) checkPatientCutoff(vt, provider, caller.role as Role, current.start_at.getTime(), now.getTime());
    checkBookable(provider, v.newStart, now, options.bookingHorizonMs);
    const schedule = await access.requireSchedule(provider);
    // A visit of a type moves as the type books now (its length, buffers, rooms and rules); a plain one keeps its length.
    const moving = { appointmentId: current.appointment_id, resourceIds: current.resource_ids };
    const visit =
      vt && (await planVisit(db, { vt, provider, schedule, start: v.newStart, now, caller, patientId: current.patient_id, overrideReason: v.overrideReason, resourceIds: vt.required_capabilities.length === 0 ? current.resource_ids : undefined, moving }));
    const durationMs = visit ? visit.plan.durationMs : current.end_at.getTime() - current.start_at.getTime();
    if (!visit) checkSlot(provider, schedule, v.newStart, durationMs);
    const bufferMs = visit ? visit.plan.bufferAfterMs : schedule.bufferMs;
    const at: SlotContext = { provider, start: v.newStart, blockedEnd: new Date(v.newStart.getTime() + durationMs + bufferMs), moving: current.appointment_id };
    const response = await lock
      .under(ctx, provider.provider_id, (token) =>
        writes.transaction(async (trx, after) => {
          const replayed = await lock.claim(trx, key, hash, now, RescheduleAppointmentResponseSchema, { providerId: provider.provider_id, token });
          if (replayed) return replayed;
          if (vt && visit?.perDayLimit !== undefined) {
            await lockPatientBookings(trx, current.patient_id);
            await checkPerDay(trx, visit, { vt, provider, start: v.newStart, patientId: current.patient_id, moving, now });
          }
          const previous = await changeAppointmentIf(
            trx,
            v.appointmentId,
            ["BOOKED"],
            { status: "CANCELLED", at: now, cancelReason: this.c.reasons.seal(v.appointmentId, "cancel_reason", "rescheduled"), fencingToken: token },
            auditBase(caller, "RescheduleAppointment", now),
          );
          if (!previous) throw await access.refusal(trx, (await findAppointment(trx, v.appointmentId)) ?? current, "RESCHEDULE", ["BOOKED"]);
          const nextId = `a-${randomUUID()}`;
          const next = await insertOrTaken(trx, at, {
            appointmentId: nextId,
            providerId: previous.provider_id,
            patientId: previous.patient_id,
            start: v.newStart,
            end: new Date(v.newStart.getTime() + durationMs),
            bufferMs,
            bufferBeforeMs: visit?.plan.bufferBeforeMs,
            status: "BOOKED",
            resourceIds: visit ? visit.resourceIds : previous.resource_ids,
            reason: this.c.reasons.seal(nextId, "reason", this.c.reasons.reasonOf(previous)),
            offerExpiresAt: null,
            waitlistEntryId: null,
            fencingToken: token ?? 0n,
            rescheduledFromId: previous.appointment_id,
            at: now,
            // A moved occurrence keeps its place: its visit type, series and place in the series; the
            // location is where the provider works at the new time.
            locationId: locationAt(schedule, v.newStart.getTime()),
            visitTypeId: previous.visit_type_id,
            seriesId: previous.series_id,
            seriesIndex: previous.series_index,
          });
          await AUDIT_LOG.append(trx, withOverride(audit(caller, "RescheduleAppointment", [next], now), visit?.overrideReason ?? "", this.c.reasons));
          await appendChange(trx, { providerId: next.provider_id, appointmentId: next.appointment_id, at: now });
          const res = create(RescheduleAppointmentResponseSchema, { appointment: toAppointment(next, this.c.reasons), previousAppointment: toAppointment(previous, this.c.reasons) });
          await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(RescheduleAppointmentResponseSchema, res)));
          after.changed(previous.provider_id, "CANCELLED", "BOOKED");
          return res;
        }, { claims: true }),
      )
      .catch(async (err: unknown) => {
        throw await explainTaken(db, err, at);
      });
    await this.offers.offerFreedTime(current.provider_id, { start: current.start_at.getTime(), end: current.end_at.getTime() });
    // Moved onto the time of one of the patient's offers: that one passes on.
    await this.offers.passOnUntakeableOffers(current.patient_id);
    return response;
  }
}
