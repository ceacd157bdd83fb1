// What booking or moving an appointment of a visit type adds to a plain booking (booking.ts), on top
// of the shared visit plan (visit-plan.ts): the visit type read and the caller allowed to book it,
// the provider offering it, its rules (staff may override minimum notice, horizon and the maximum
// per day with a reason, which the audit entry keeps; SCHEDULING_BOOKING_HORIZON and overlaps are
// never overridden), its length and buffers on the provider's grid, and its rooms and devices.
//
// * Location: a visit type belongs to a location and names the providers who offer it; naming a
//   provider is what makes them offer it there, so a provider of another location (or one whose
//   weekly hours name it) books it as well: the booking takes the visit type's location.
// * Rooms and devices: named ones must cover the required capabilities together (one distinct
//   resource per required entry), else MISSING_CAPABILITY; none named, they are chosen among the
//   visit type's location's resources free at the visit's time (NO_RESOURCE_AVAILABLE when no
//   choice exists). The choice is read before the write: a room taken meanwhile by a concurrent
//   booking makes the exclusion constraint refuse it (RESOURCE_TAKEN, retry).
// * Moving (RescheduleAppointment): the visit type as it is now applies at the new time (length,
//   buffers, rules, rooms: those it had are kept when they still fit, else chosen again), and a
//   patient moves or cancels it only until its patientCancelCutoff before the start.
// * Maximum per patient per day: the patient's active visits of the type on the start's local date
//   in the provider's zone, counted before the lock (a hint) and again under the patient's
//   transaction lock (lockPatientBookings) right before the write, so concurrent bookings cannot all
//   slip under it.
import type { Role } from "../runtime/auth/role-table.js";
import type { Caller } from "../runtime/caller.js";
import type { AppointmentAccess } from "./appointment-access.js";
import type { AppointmentRow } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import type { ProviderRow } from "./db/provider.table.js";
import type { VisitTypeRow } from "./db/visit-type.table.js";
import { checkSlot } from "./booking-rules.js";
import { findResources } from "./repositories/provider.repository.js";
import { busyResources, countPatientVisitsOfType, findVisitType, resourcesWithCapabilities, type CapableResource } from "./repositories/visit-type.repository.js";
import type { Schedule } from "./slots.js";
import { checkAtLocation, checkMayBook, checkOffered, checkPatientCutoff, checkRules, chooseResources, localDayOf, visitPlanOf, type VisitPlan } from "./visit-plan.js";
import { maxPerDayError, missingCapabilityError, noResourceError, visitTypeNotFoundError } from "./visit-type.errors.js";

/** VisitBooking is how one booking (or move) of a visit type is made. */
export interface VisitBooking {
  /** plan is the visit's length and buffers with this provider. */
  plan: VisitPlan;
  /** resourceIds are the rooms and devices to book (named, or chosen), sorted. */
  resourceIds: string[];
  /** overrideReason is staff's reason, kept in the audit log ("" for none). */
  overrideReason: string;
  /** perDayLimit is the maximum per patient per day to decide under the patient's lock (undefined: none, or overridden). */
  perDayLimit: number | undefined;
}

/** requireVisitType reads the visit type of a booking (NOT_FOUND VISIT_TYPE_NOT_FOUND) and refuses what the caller may not book (checkMayBook). */
export async function requireVisitType(db: Db, visitTypeId: string, caller: Caller, overrideReason: string): Promise<VisitTypeRow> {
  const vt = await findVisitType(db, visitTypeId);
  if (!vt) throw visitTypeNotFoundError(visitTypeId);
  checkMayBook(vt, caller.role as Role, overrideReason);
  return vt;
}

/** checkVisitCutoff refuses a patient changing their visit of a type later than its patientCancelCutoff before the start (PATIENT_CANCEL_CUTOFF); staff may still. */
export async function checkVisitCutoff(db: Db, access: AppointmentAccess, caller: Caller, row: AppointmentRow, now: Date): Promise<void> {
  if (caller.role !== "patient" || row.visit_type_id === null) return;
  const vt = await findVisitType(db, row.visit_type_id);
  if (vt && vt.patient_cancel_cutoff_minutes > 0) checkPatientCutoff(vt, await access.requireProvider(db, row.provider_id), "patient", row.start_at.getTime(), now.getTime());
}

/** VisitQuery is a booking or move of a visit type to plan. */
export interface VisitQuery {
  vt: VisitTypeRow;
  provider: ProviderRow;
  schedule: Schedule;
  start: Date;
  now: Date;
  caller: Caller;
  patientId: string;
  overrideReason: string;
  /** resourceIds named by the request (sorted), or undefined to choose them. */
  resourceIds: string[] | undefined;
  /** moving is the appointment a reschedule replaces: its own day count and rooms do not stand in its way. */
  moving?: { appointmentId: string; resourceIds: string[] };
}

/**
 * planVisit checks a booking of a visit type at `start` and says how it is made: offered by the
 * provider, within the rules (unless overridden by staff), a slot start where the whole visit fits
 * the provider's working time, below the maximum per day (counted here; decided under the lock by
 * checkPerDay), and its rooms and devices.
 */
export async function planVisit(db: Db, q: VisitQuery): Promise<VisitBooking> {
  const { vt, provider, start } = q;
  checkOffered(vt, provider);
  const overridden = q.caller.role !== "patient" && q.overrideReason !== "";
  checkRules(vt, provider, start.getTime(), q.now.getTime(), overridden);
  const plan = visitPlanOf(vt, q.schedule);
  checkSlot(provider, q.schedule, start, plan.durationMs);
  checkAtLocation(vt, provider, q.schedule, start.getTime());
  const perDayLimit = vt.max_per_patient_per_day > 0 && !overridden ? vt.max_per_patient_per_day : undefined;
  const booking: VisitBooking = { plan, resourceIds: [], overrideReason: overridden ? q.overrideReason : "", perDayLimit };
  await checkPerDay(db, booking, q);
  booking.resourceIds = await resourcesFor(db, q, plan);
  return booking;
}

/** checkPerDay refuses a visit that would exceed the maximum per patient per day (MAX_PER_PATIENT_PER_DAY); under lockPatientBookings it decides. */
export async function checkPerDay(db: Db, b: VisitBooking, q: Pick<VisitQuery, "vt" | "provider" | "start" | "patientId" | "moving" | "now">): Promise<void> {
  if (b.perDayLimit === undefined) return;
  await checkVisitsPerDay(db, { ...q, start: q.start.getTime(), limit: b.perDayLimit, excluding: q.moving?.appointmentId });
}

/**
 * checkVisitsPerDay refuses a visit of `vt` starting at `start` when the patient already has `limit`
 * active visits of it on that local day in the provider's zone (MAX_PER_PATIENT_PER_DAY), leaving out
 * `excluding` (a visit being moved) and holds lapsed at `now`; 0 is no limit. Booking, holds and
 * series all decide it here, each under the patient's lock.
 */
export async function checkVisitsPerDay(
  db: Db,
  q: { vt: VisitTypeRow; provider: ProviderRow; patientId: string; start: number; now: Date; limit: number; excluding?: string },
): Promise<void> {
  if (q.limit <= 0) return;
  const day = localDayOf(q.start, q.provider.time_zone);
  const count = await countPatientVisitsOfType(db, { patientId: q.patientId, visitTypeId: q.vt.visit_type_id, from: day.from, to: day.to, excluding: q.excluding, now: q.now });
  if (count >= q.limit) throw maxPerDayError(q.vt, q.provider, q.start, q.limit);
}

/** resourcesFor are the rooms and devices of the visit: the named ones checked against the required capabilities, or a free choice. */
async function resourcesFor(db: Db, q: VisitQuery, plan: VisitPlan): Promise<string[]> {
  const required = q.vt.required_capabilities;
  if (q.resourceIds !== undefined && q.resourceIds.length > 0) {
    if (required.length === 0) return q.resourceIds;
    const named: CapableResource[] = (await findResources(db, q.resourceIds)).map((r) => ({ resource_id: r.resource_id, capabilities: r.capabilities }));
    if (!chooseResources(required, named, () => true)) throw missingCapabilityError(q.vt, required);
    return q.resourceIds;
  }
  if (required.length === 0) return [];
  // A move prefers the rooms it had, when still free.
  const had = new Set(q.moving?.resourceIds ?? []);
  const candidates = (await resourcesWithCapabilities(db, q.vt.location_id, [...new Set(required)])).sort((a, b) => Number(had.has(b.resource_id)) - Number(had.has(a.resource_id)));
  const end = new Date(q.start.getTime() + plan.durationMs);
  const busy = await busyResources(db, candidates.map((c) => c.resource_id), q.start, end, q.moving?.appointmentId);
  const chosen = chooseResources(required, candidates, (id) => !busy.has(id));
  if (!chosen) throw noResourceError(q.vt, q.provider, q.start.getTime(), [...new Set(required)]);
  return [...chosen].sort();
}
