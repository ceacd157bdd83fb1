// What booking a visit type means for one provider and start, for every way a visit gets a time
// (BookAppointment with a visit type, SearchSlots, HoldSlot, BookSeries): its length and buffers on
// the provider's grid, the rooms and devices it needs, and its booking rules. Pure functions: the
// callers read the visit type, the patient's visits and the free resources.
//
// * A visit starts on the provider's grid (its slot starts) and lasts the visit type's duration,
//   which need not be a multiple of the slot length: it takes the cells it covers.
// * Its blocked time is [start - bufferBefore, end + bufferAfter), bufferAfter being the larger of
//   the visit type's and the provider's buffer: no other active appointment of the provider may
//   overlap it (the exclusion constraint on `blocked` decides).
// * Rules: minimum notice and the visit type's horizon (never beyond SCHEDULING_BOOKING_HORIZON,
//   checked by checkBookable for every booking) refuse a start; staff may override them with a reason,
//   patients never. The maximum per patient per day counts the patient's active visits of the type
//   on the start's local date in the provider's zone. Patients may change a visit only until
//   patientCancelCutoff before its start.
import type { Role } from "../runtime/auth/role-table.js";
import type { ProviderRow } from "./db/provider.table.js";
import type { VisitTypeRow } from "./db/visit-type.table.js";
import type { CapableResource } from "./repositories/visit-type.repository.js";
import { locationAt, type Schedule } from "./slots.js";
import { minNoticeError, notAtLocationError, notOfferedError, overrideNotAllowedError, patientCancelCutoffError, staffOnlyVisitTypeError, visitTypeHorizonError } from "./visit-type.errors.js";
import { addDays, firstInstantAtOrAfterWall, localDateOf, wallOfDate } from "./zone-time.js";

const MINUTE_MS = 60_000;

/** VisitPlan is how a visit type is booked with one provider. */
export interface VisitPlan {
  /** visitType is the visit type. */
  visitType: VisitTypeRow;
  /** durationMs is the visit's length (real elapsed time). */
  durationMs: number;
  /** bufferBeforeMs is kept free before the visit. */
  bufferBeforeMs: number;
  /** bufferAfterMs is kept free after it: the larger of the visit type's and the provider's buffer. */
  bufferAfterMs: number;
}

/** visitPlanOf is the plan of a visit type with a provider whose schedule is `schedule`. */
export function visitPlanOf(vt: VisitTypeRow, schedule: Schedule): VisitPlan {
  return {
    visitType: vt,
    durationMs: vt.duration_minutes * MINUTE_MS,
    bufferBeforeMs: vt.buffer_before_minutes * MINUTE_MS,
    bufferAfterMs: Math.max(vt.buffer_after_minutes * MINUTE_MS, schedule.bufferMs),
  };
}

/**
 * checkAtLocation refuses a visit starting while the provider works at another location than the
 * visit type's (NOT_AT_VISIT_TYPE_LOCATION): the visit takes place where the provider's hours are
 * (locationAt), and the visit type, its rooms and devices belong to its own location.
 */
export function checkAtLocation(vt: VisitTypeRow, provider: ProviderRow, schedule: Schedule, start: number): void {
  const at = locationAt(schedule, start);
  if (at === vt.location_id) return;
  const name = (id: string | undefined) => (id === undefined ? undefined : (schedule.locations?.[id]?.displayName ?? "another location"));
  throw notAtLocationError(vt, provider, start, name(vt.location_id) ?? "another location", name(at));
}

/** checkOffered refuses a provider who does not offer the visit type (NOT_OFFERED_BY_PROVIDER). */
export function checkOffered(vt: VisitTypeRow, provider: ProviderRow): void {
  if (!vt.provider_ids.includes(provider.provider_id)) throw notOfferedError(vt, provider);
}

/**
 * checkMayBook refuses a patient booking a visit type that is not patient_bookable
 * (VISIT_TYPE_STAFF_ONLY) and a patient sending an override reason (OVERRIDE_NOT_ALLOWED).
 */
export function checkMayBook(vt: VisitTypeRow | undefined, role: Role, overrideReason: string): void {
  if (role !== "patient") return;
  if (overrideReason !== "") throw overrideNotAllowedError();
  if (vt && !vt.patient_bookable) throw staffOnlyVisitTypeError(vt);
}

/** RuleWindow is the span of starts a visit type's rules allow now: [earliest, latest]. */
export interface RuleWindow {
  /** earliest start allowed (now + minimum notice). */
  earliest: number;
  /** latest start allowed (now + the visit type's horizon, or +Infinity without one). */
  latest: number;
}

/** ruleWindow is the span of starts the visit type's minimum notice and horizon allow at `now`. */
export function ruleWindow(vt: VisitTypeRow, now: number): RuleWindow {
  return {
    earliest: now + vt.min_notice_minutes * MINUTE_MS,
    latest: vt.horizon_minutes > 0 ? now + vt.horizon_minutes * MINUTE_MS : Number.POSITIVE_INFINITY,
  };
}

/**
 * checkRules refuses a start inside the minimum notice (MIN_NOTICE) or beyond the visit type's
 * horizon (VISIT_TYPE_HORIZON), unless `overridden` (staff with a reason; the caller audits it).
 */
export function checkRules(vt: VisitTypeRow, provider: ProviderRow, start: number, now: number, overridden: boolean): void {
  if (overridden) return;
  const w = ruleWindow(vt, now);
  if (start < w.earliest) throw minNoticeError(vt, provider, start, now, vt.min_notice_minutes * MINUTE_MS);
  if (start > w.latest) throw visitTypeHorizonError(vt, provider, start, now, vt.horizon_minutes * MINUTE_MS);
}

/** checkPatientCutoff refuses a patient changing a visit later than patientCancelCutoff before its start (PATIENT_CANCEL_CUTOFF). */
export function checkPatientCutoff(vt: VisitTypeRow, provider: ProviderRow, role: Role, start: number, now: number): void {
  const cutoffMs = vt.patient_cancel_cutoff_minutes * MINUTE_MS;
  if (role === "patient" && cutoffMs > 0 && now > start - cutoffMs) throw patientCancelCutoffError(vt, provider, start, cutoffMs);
}

/** localDayOf is the local date of `start` in `timeZone` as the instants [from, to) it spans (23 or 25 hours across a DST change). */
export function localDayOf(start: number, timeZone: string): { date: string; from: Date; to: Date } {
  const date = localDateOf(start, timeZone);
  return {
    date,
    from: new Date(firstInstantAtOrAfterWall(wallOfDate(date), timeZone)),
    to: new Date(firstInstantAtOrAfterWall(wallOfDate(addDays(date, 1)), timeZone)),
  };
}

/**
 * chooseResources picks one distinct room or device per required capability among `candidates`
 * (each free at the visit's time when `isFree` says so), or undefined when no such choice exists: a
 * bipartite matching (a device with two capabilities can serve either, never both), preferring
 * candidates in the order given so that the choice is stable.
 */
export function chooseResources(required: readonly string[], candidates: readonly CapableResource[], isFree: (resourceId: string) => boolean): string[] | undefined {
  const free = candidates.filter((c) => isFree(c.resource_id));
  const holder = new Map<string, number>(); // resource id -> index of the capability it serves
  const tryAssign = (cap: number, seen: Set<string>): boolean => {
    for (const r of free) {
      if (!r.capabilities.includes(required[cap]) || seen.has(r.resource_id)) continue;
      seen.add(r.resource_id);
      const other = holder.get(r.resource_id);
      if (other === undefined || tryAssign(other, seen)) {
        holder.set(r.resource_id, cap);
        return true;
      }
    }
    return false;
  };
  for (let cap = 0; cap < required.length; cap++) if (!tryAssign(cap, new Set())) return undefined;
  const chosen: string[] = new Array(required.length);
  for (const [id, cap] of holder) chosen[cap] = id;
  return chosen;
}
