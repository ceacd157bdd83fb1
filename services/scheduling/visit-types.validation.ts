// What the visit type RPCs accept (CreateVisitType, GetVisitType, ListVisitTypes, UpdateVisitType)
// and the visit type fields of BookAppointment and RescheduleAppointment, checked before anything is
// read. Every string of a request is checked even when an update mask leaves it out (a NUL or a
// control character is refused wherever it is). Durations are whole minutes, as stored.
//
// Capabilities: lower case 1-40 of [a-z0-9_-], at most 10. A capability may be required twice: each
// entry takes its own room or device ("two ultrasound devices"), so duplicates are kept as sent.
import type { Duration, FieldMask } from "@bufbuild/protobuf/wkt";
import type { VisitType } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type {
  BookAppointmentRequest,
  CreateVisitTypeRequest,
  GetVisitTypeRequest,
  ListVisitTypesRequest,
  RescheduleAppointmentRequest,
  UpdateVisitTypeRequest,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { describeDuration, type DurationRule, maskFieldNames, type RequestValidator, validate } from "../runtime/request/validation.js";
// scheduling.validation.ts imports this file too: only functions are taken from it (no value used while loading).
import { validateCapabilities } from "./capabilities.validation.js";
import { freeText, MAX_REASON, page, type ValidPage } from "./scheduling.validation.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** A visit type's length: 5 minutes to 8 hours, whole minutes. */
const VISIT_DURATION: DurationRule = { required: true, minMs: 5 * MINUTE_MS, maxMs: 8 * HOUR_MS, multipleOfMs: MINUTE_MS };
/** A buffer before or after a visit: 0 to 2 hours, whole minutes. */
const BUFFER: DurationRule = { minMs: 0, maxMs: 2 * HOUR_MS, multipleOfMs: MINUTE_MS };
const COLOR = /^#[0-9A-Fa-f]{6}$/;
/** MAX_CAPABILITIES is the most rooms or devices one visit type needs. */
const MAX_CAPABILITIES = 10;
/** MAX_PROVIDERS is the most providers one visit type names. */
const MAX_PROVIDERS = 500;
/** MAX_PER_DAY bounds max_per_patient_per_day. */
const MAX_PER_DAY = 100;
/** CONTROL is a control character: never part of a name, an id or a tag. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** VISIT_TYPE_PATHS are the update_mask paths UpdateVisitType accepts. */
export const VISIT_TYPE_PATHS = [
  "display_name",
  "duration",
  "buffer_before",
  "buffer_after",
  "provider_ids",
  "required_capabilities",
  "patient_bookable",
  "rules",
  "rules.min_notice",
  "rules.horizon",
  "rules.patient_cancel_cutoff",
  "rules.max_per_patient_per_day",
  "color",
] as const;

/** VisitTypePath is one update_mask path. */
export type VisitTypePath = (typeof VISIT_TYPE_PATHS)[number];

/** VisitTypeValues are a visit type's values as stored (durations in minutes; 0: no rule). */
export interface VisitTypeValues {
  /** displayName, trimmed, 1-200 characters. */
  displayName: string;
  /** durationMinutes is 5-480. */
  durationMinutes: number;
  /** bufferBeforeMinutes is 0-120. */
  bufferBeforeMinutes: number;
  /** bufferAfterMinutes is 0-120. */
  bufferAfterMinutes: number;
  /** providerIds, distinct, at least one (existence is checked by the service). */
  providerIds: string[];
  /** requiredCapabilities, one room or device each. */
  requiredCapabilities: string[];
  /** patientBookable lets patients book it themselves. */
  patientBookable: boolean;
  /** minNoticeMinutes, horizonMinutes, patientCancelCutoffMinutes: the rules in minutes. */
  minNoticeMinutes: number;
  horizonMinutes: number;
  patientCancelCutoffMinutes: number;
  /** maxPerPatientPerDay is 0 (no limit) to 100. */
  maxPerPatientPerDay: number;
  /** color is "#RRGGBB" or empty, as sent. */
  color: string;
}

/** ValidCreateVisitType is a validated CreateVisitTypeRequest. */
export interface ValidCreateVisitType {
  /** requestId is the idempotency key. */
  requestId: string;
  /** visitTypeId is the client-chosen id, undefined to generate one. */
  visitTypeId: string | undefined;
  /** locationId is the location (`default` when empty). */
  locationId: string;
  /** values are the visit type's values. */
  values: VisitTypeValues;
}

/** ValidUpdateVisitType is a validated UpdateVisitTypeRequest. */
export interface ValidUpdateVisitType {
  /** requestId is the idempotency key. */
  requestId: string;
  /** visitTypeId is the visit type changed. */
  visitTypeId: string;
  /** paths are the distinct update_mask paths, as sent. */
  paths: VisitTypePath[];
  /** values hold the new values of the masked fields (the others are defaults, unused). */
  values: VisitTypeValues;
}

/** ValidListVisitTypes is a validated ListVisitTypesRequest. */
export interface ValidListVisitTypes extends ValidPage {
  /** locationId filters by location, undefined for all. */
  locationId: string | undefined;
  /** providerId filters by a provider offering it, undefined for all. */
  providerId: string | undefined;
}

/** ValidVisitTypeBooking are the visit type fields of a BookAppointmentRequest. */
export interface ValidVisitTypeBooking {
  /** visitTypeId is the visit type, undefined for a plain booking. */
  visitTypeId: string | undefined;
  /** holdId is the hold to confirm, undefined for none. */
  holdId: string | undefined;
  /** overrideReason, trimmed; "" for none. */
  overrideReason: string;
}

/** minutesOf is a validated whole-minute duration in minutes (0 when unset or bad). */
const minutesOf = (ms: number | undefined) => (ms === undefined ? 0 : ms / MINUTE_MS);

/** checkStrings refuses a control character in any string of a visit type, masked or not (once per field: after the other checks). */
function checkStrings(v: RequestValidator, vt: VisitType): void {
  const each = (field: string, value: string) => {
    if (CONTROL.test(value) && !v.violations.some((x) => x.field === field)) v.add(field, "must not contain control characters", "CONTROL_CHARACTERS");
  };
  each("visitType.visitTypeId", vt.visitTypeId);
  each("visitType.locationId", vt.locationId);
  each("visitType.displayName", vt.displayName);
  each("visitType.color", vt.color);
  vt.providerIds.forEach((id, i) => each(`visitType.providerIds[${i}]`, id));
  vt.requiredCapabilities.forEach((c, i) => each(`visitType.requiredCapabilities[${i}]`, c));
}

/** ruleDuration checks one rule duration: whole minutes, 0 (no rule) to `maxMs`. */
function ruleDuration(v: RequestValidator, name: string, d: Duration | undefined, maxMs: number): number {
  return minutesOf(v.duration(`visitType.rules.${name}`, d, { minMs: 0, maxMs, multipleOfMs: MINUTE_MS }));
}

/**
 * checkValues checks the fields of `vt` that `has` names and returns them as stored; `maxHorizonMs`
 * is SCHEDULING_BOOKING_HORIZON, beyond which no rule reaches.
 */
function checkValues(v: RequestValidator, vt: VisitType, has: (p: VisitTypePath) => boolean, maxHorizonMs: number): VisitTypeValues {
  const f = (name: string) => `visitType.${name}`;
  if (has("display_name")) v.string(f("displayName"), vt.displayName);
  const duration = has("duration") ? v.duration(f("duration"), vt.duration, VISIT_DURATION) : undefined;
  const before = has("buffer_before") ? v.duration(f("bufferBefore"), vt.bufferBefore, BUFFER) : undefined;
  const after = has("buffer_after") ? v.duration(f("bufferAfter"), vt.bufferAfter, BUFFER) : undefined;
  if (has("provider_ids")) {
    if (vt.providerIds.length === 0) v.add(f("providerIds"), "must name at least one provider who offers it", "REQUIRED");
    if (vt.providerIds.length > MAX_PROVIDERS) v.add(f("providerIds"), `must name at most ${MAX_PROVIDERS} providers (got ${vt.providerIds.length})`, "TOO_MANY");
    const seen = new Map<string, number>();
    vt.providerIds.forEach((id, i) => {
      v.id(`${f("providerIds")}[${i}]`, id);
      const first = seen.get(id);
      if (first !== undefined) v.add(`${f("providerIds")}[${i}]`, `duplicates providerIds[${first}]`, "DUPLICATE");
      else seen.set(id, i);
    });
  }
  if (has("required_capabilities")) {
    validateCapabilities(v, f("requiredCapabilities"), vt.requiredCapabilities, { max: MAX_CAPABILITIES, repeats: true });
  }
  const rules = vt.rules;
  const values: VisitTypeValues = {
    displayName: vt.displayName.trim(),
    durationMinutes: minutesOf(duration),
    bufferBeforeMinutes: minutesOf(before),
    bufferAfterMinutes: minutesOf(after),
    providerIds: [...vt.providerIds],
    requiredCapabilities: [...vt.requiredCapabilities],
    patientBookable: vt.patientBookable,
    minNoticeMinutes: has("rules.min_notice") ? ruleDuration(v, "minNotice", rules?.minNotice, maxHorizonMs) : 0,
    horizonMinutes: has("rules.horizon") ? ruleDuration(v, "horizon", rules?.horizon, maxHorizonMs) : 0,
    patientCancelCutoffMinutes: has("rules.patient_cancel_cutoff") ? ruleDuration(v, "patientCancelCutoff", rules?.patientCancelCutoff, maxHorizonMs) : 0,
    maxPerPatientPerDay: rules?.maxPerPatientPerDay ?? 0,
    color: vt.color,
  };
  if (has("rules.max_per_patient_per_day") && (values.maxPerPatientPerDay < 0 || values.maxPerPatientPerDay > MAX_PER_DAY)) {
    v.add(f("rules.maxPerPatientPerDay"), `must be between 0 (no limit) and ${MAX_PER_DAY}`, "OUT_OF_RANGE");
  }
  if (has("color") && vt.color !== "" && !COLOR.test(vt.color)) v.add(f("color"), 'must be a colour "#RRGGBB" such as "#3366cc", or empty', "INVALID_COLOR");
  return values;
}

/**
 * ruleViolations are the rules that cannot hold together: a horizon not beyond the minimum notice
 * leaves nothing bookable. Checked on the values as they will be stored (an update merges first).
 */
export function ruleViolations(values: Pick<VisitTypeValues, "minNoticeMinutes" | "horizonMinutes">): { field: string; description: string; reason: string }[] {
  if (values.horizonMinutes === 0 || values.horizonMinutes > values.minNoticeMinutes) return [];
  return [
    {
      field: "visitType.rules.horizon",
      description: `must be longer than the minimum notice (${describeDuration(values.minNoticeMinutes * MINUTE_MS)}), or 0 for none`,
      reason: "HORIZON_NOT_AFTER_NOTICE",
    },
  ];
}

/** validateCreateVisitType checks a CreateVisitTypeRequest; `maxHorizonMs` is SCHEDULING_BOOKING_HORIZON. */
export function validateCreateVisitType(req: CreateVisitTypeRequest, maxHorizonMs: number): ValidCreateVisitType {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    const vt = req.visitType;
    if (!vt) {
      v.add("visitType", "is required", "REQUIRED");
      return { requestId: req.requestId, visitTypeId: undefined, locationId: "default", values: undefined as never };
    }
    v.id("visitType.visitTypeId", vt.visitTypeId, { optional: true });
    v.id("visitType.locationId", vt.locationId, { optional: true });
    const values = checkValues(v, vt, () => true, maxHorizonMs);
    checkStrings(v, vt);
    for (const r of ruleViolations(values)) v.add(r.field, r.description, r.reason);
    return { requestId: req.requestId, visitTypeId: vt.visitTypeId || undefined, locationId: vt.locationId || "default", values };
  });
}

/** maskPaths checks an update mask against `known`: required, each path known. Returns the distinct paths. */
export function maskPaths<P extends string>(v: RequestValidator, mask: FieldMask | undefined, known: readonly P[]): P[] {
  const paths = mask?.paths ?? [];
  if (paths.length === 0) v.add("updateMask", `is required: the fields to change, of ${maskFieldNames(known)}`, "REQUIRED");
  paths.forEach((p, i) => {
    if (!(known as readonly string[]).includes(p)) v.add(`updateMask.paths[${i}]`, `is not a field that can be changed; one of ${maskFieldNames(known)}`, "UNKNOWN_PATH");
  });
  return [...new Set(paths.filter((p): p is P => (known as readonly string[]).includes(p)))];
}

/** validateUpdateVisitType checks an UpdateVisitTypeRequest: only the masked fields' values (every string for control characters). */
export function validateUpdateVisitType(req: UpdateVisitTypeRequest, maxHorizonMs: number): ValidUpdateVisitType {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    const paths = maskPaths(v, req.updateMask, VISIT_TYPE_PATHS);
    const vt = req.visitType;
    if (!vt) {
      v.add("visitType", "is required: its visitTypeId and the new values", "REQUIRED");
      return { requestId: req.requestId, visitTypeId: "", paths, values: undefined as never };
    }
    v.id("visitType.visitTypeId", vt.visitTypeId);
    v.id("visitType.locationId", vt.locationId, { optional: true });
    const has = (p: VisitTypePath) => paths.includes(p) || (p.startsWith("rules.") && paths.includes("rules"));
    const values = checkValues(v, vt, has, maxHorizonMs);
    checkStrings(v, vt);
    return { requestId: req.requestId, visitTypeId: vt.visitTypeId, paths, values };
  });
}

/** validateGetVisitType checks a GetVisitTypeRequest. */
export function validateGetVisitType(req: GetVisitTypeRequest): { visitTypeId: string } {
  return validate((v) => {
    v.id("visitTypeId", req.visitTypeId);
    return { visitTypeId: req.visitTypeId };
  });
}

/** validateListVisitTypes checks a ListVisitTypesRequest. */
export function validateListVisitTypes(req: ListVisitTypesRequest): ValidListVisitTypes {
  return validate((v) => {
    v.id("locationId", req.locationId, { optional: true });
    v.id("providerId", req.providerId, { optional: true });
    return { ...page(v, req.pageSize, req.pageToken), locationId: req.locationId || undefined, providerId: req.providerId || undefined };
  });
}

/**
 * visitTypeBooking checks BookAppointment's visit type fields (visitTypeId, holdId, overrideReason):
 * with a visit type, duration must be unset (the visit type's applies).
 */
export function visitTypeBooking(v: RequestValidator, req: Pick<BookAppointmentRequest, "visitTypeId" | "holdId" | "overrideReason" | "duration">): ValidVisitTypeBooking {
  v.id("visitTypeId", req.visitTypeId, { optional: true });
  v.id("holdId", req.holdId, { optional: true });
  if (req.visitTypeId !== "" && req.duration) v.add("duration", "must be unset when visitTypeId is given: the visit type's duration applies", "DURATION_WITH_VISIT_TYPE");
  return { visitTypeId: req.visitTypeId || undefined, holdId: req.holdId || undefined, overrideReason: overrideReason(v, req.overrideReason) };
}

/** overrideReason checks an override reason (free text up to 500 characters) and returns it trimmed. */
export function overrideReason(v: RequestValidator, value: RescheduleAppointmentRequest["overrideReason"]): string {
  freeText(v, "overrideReason", value, MAX_REASON);
  return value.trim();
}
