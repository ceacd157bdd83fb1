// What BookSeries and CancelSeries accept, checked before anything is read: ids, the first start,
// the recurrence (DAILY or WEEKLY, interval 1-52, exactly one of count 1-52 or an until date), rooms
// and free text. How many occurrences an until date makes depends on the provider's zone: series.ts
// counts them (at most MAX_OCCURRENCES).
import { RecurrenceFrequency, RecurrenceFrequencySchema } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type { BookSeriesRequest, CancelSeriesRequest } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { validate } from "../runtime/request/validation.js";
import { visitSlot } from "./hold.validation.js";
import { freeText, MAX_REASON, type ValidBookAppointment } from "./scheduling.validation.js";

/** MAX_OCCURRENCES is the most occurrences one series has (skipped ones included). */
export const MAX_OCCURRENCES = 52;
/** MAX_INTERVAL is the largest interval between occurrences, in days or weeks. */
const MAX_INTERVAL = 52;

/** ValidRecurrence is a validated Recurrence: every `stepDays` days, `count` times or until a local date. */
export interface ValidRecurrence {
  /** stepDays is the days between occurrences (interval x 1 or 7). */
  stepDays: number;
  /** count of occurrences (1-52), or undefined when `until` is set. */
  count: number | undefined;
  /** until is the last local date "YYYY-MM-DD" an occurrence may fall on, or undefined when `count` is set. */
  until: string | undefined;
}

/** ValidBookSeries is a validated BookSeriesRequest: BookAppointment's ids, rooms and reason, and the series' own fields. */
export interface ValidBookSeries extends Pick<ValidBookAppointment, "requestId" | "providerId" | "patientId" | "resourceIds" | "reason"> {
  /** visitTypeId is what every occurrence is. */
  visitTypeId: string;
  /** firstStart is the first occurrence's start: its local time in the provider's zone is kept. */
  firstStart: Date;
  /** recurrence says which dates. */
  recurrence: ValidRecurrence;
  /** skipNonexistent skips (rather than refuses) an occurrence whose local time does not exist. */
  skipNonexistent: boolean;
  /** overrideReason, trimmed: staff book although a visit type rule refuses. */
  overrideReason: string;
}

/** validateBookSeries checks a BookSeriesRequest (the slots are checked later, against the provider). */
export function validateBookSeries(req: BookSeriesRequest): ValidBookSeries {
  return validate((v) => {
    const firstStart = visitSlot(v, req, "firstStartTime", req.firstStartTime);
    freeText(v, "reason", req.reason, MAX_REASON);
    freeText(v, "overrideReason", req.overrideReason, MAX_REASON);
    const r = req.recurrence;
    let recurrence: ValidRecurrence = { stepDays: 1, count: 1, until: undefined };
    if (!r) {
      v.add("recurrence", "is required: a frequency (DAILY or WEEKLY) with a count or an until date", "REQUIRED");
    } else {
      v.enumValue("recurrence.frequency", r.frequency, RecurrenceFrequencySchema);
      if (r.interval < 0 || r.interval > MAX_INTERVAL) v.add("recurrence.interval", `must be between 1 and ${MAX_INTERVAL} (0 means 1)`, "OUT_OF_RANGE");
      if (r.until !== "") v.localDate("recurrence.until", r.until);
      if (r.count !== 0 && r.until !== "") v.add("recurrence.until", "set either count or until, not both", "CONFLICTING_FIELDS");
      else if (r.count === 0 && r.until === "") v.add("recurrence.count", `is required (1-${MAX_OCCURRENCES}) unless until is set`, "REQUIRED");
      else if (r.count < 0 || r.count > MAX_OCCURRENCES) v.add("recurrence.count", `must be between 1 and ${MAX_OCCURRENCES} (got ${r.count})`, "OUT_OF_RANGE");
      const days = r.frequency === RecurrenceFrequency.WEEKLY ? 7 : 1;
      recurrence = { stepDays: Math.max(r.interval, 1) * days, count: r.count === 0 ? undefined : r.count, until: r.until === "" ? undefined : r.until };
    }
    return {
      requestId: req.requestId,
      visitTypeId: req.visitTypeId,
      providerId: req.providerId,
      patientId: req.patientId,
      firstStart,
      recurrence,
      skipNonexistent: req.skipNonexistent,
      resourceIds: [...req.resourceIds],
      reason: req.reason.trim(),
      overrideReason: req.overrideReason.trim(),
    };
  });
}

/** ValidCancelSeries is a validated CancelSeriesRequest (its reason trimmed). */
export type ValidCancelSeries = Pick<CancelSeriesRequest, "requestId" | "seriesId" | "fromAppointmentId" | "reason">;

/** validateCancelSeries checks a CancelSeriesRequest. */
export function validateCancelSeries(req: CancelSeriesRequest): ValidCancelSeries {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("seriesId", req.seriesId);
    v.id("fromAppointmentId", req.fromAppointmentId);
    freeText(v, "reason", req.reason, MAX_REASON);
    return { requestId: req.requestId, seriesId: req.seriesId, fromAppointmentId: req.fromAppointmentId, reason: req.reason.trim() };
  });
}
