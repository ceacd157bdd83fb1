// What HoldSlot accepts, and BookAppointment when it confirms a hold (hold_id set: the provider,
// patient, start, duration, visit type and rooms may then be left empty, taken from the hold), checked
// before anything is read; INVALID_ARGUMENT with every field violation at once.
import type { BookAppointmentRequest, HoldSlotRequest } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { validate, type RequestValidator } from "../runtime/request/validation.js";
import { APPOINTMENT_DURATION, freeText, MAX_REASON, resourceIds } from "./scheduling.validation.js";

/** ValidHoldSlot is a validated HoldSlotRequest. */
export interface ValidHoldSlot {
  /** requestId is the idempotency key. */
  requestId: string;
  /** visitTypeId is the visit type. */
  visitTypeId: string;
  /** providerId is the provider. */
  providerId: string;
  /** patientId is the patient. */
  patientId: string;
  /** start of the held visit. */
  start: Date;
  /** resourceIds to take; empty: chosen by the visit type's required capabilities. */
  resourceIds: string[];
}

/** ValidConfirmHold is a validated BookAppointmentRequest with a hold_id: each field undefined when left empty (taken from the hold). */
export interface ValidConfirmHold {
  /** requestId is the idempotency key. */
  requestId: string;
  /** holdId is the hold to confirm. */
  holdId: string;
  /** providerId, patientId, start, durationMs, visitTypeId and resourceIds must match the hold when given. */
  providerId: string | undefined;
  patientId: string | undefined;
  start: Date | undefined;
  durationMs: number | undefined;
  visitTypeId: string | undefined;
  resourceIds: string[] | undefined;
  /** reason, possibly empty: why the patient comes (a hold has none yet). */
  reason: string;
}

/** VisitSlotFields are what HoldSlot and BookSeries both name: the request id, the visit type, provider, patient and rooms. */
type VisitSlotFields = Pick<HoldSlotRequest, "requestId" | "visitTypeId" | "providerId" | "patientId" | "resourceIds">;

/** visitSlot checks the fields HoldSlot and BookSeries share, and their whole-minute start (`startField`); the start, or the epoch when refused. */
export function visitSlot(v: RequestValidator, req: VisitSlotFields, startField: string, start: Timestamp | undefined): Date {
  v.requestId("requestId", req.requestId);
  v.id("visitTypeId", req.visitTypeId);
  v.id("providerId", req.providerId);
  v.id("patientId", req.patientId);
  const at = v.timestamp(startField, start, { wholeMinute: true });
  resourceIds(v, req.resourceIds);
  return at ?? new Date(0);
}

/** validateHoldSlot checks a HoldSlotRequest (slot fit and rules are checked later, against the provider and visit type). */
export function validateHoldSlot(req: HoldSlotRequest): ValidHoldSlot {
  return validate((v) => {
    const start = visitSlot(v, req, "startTime", req.startTime);
    return { requestId: req.requestId, visitTypeId: req.visitTypeId, providerId: req.providerId, patientId: req.patientId, start, resourceIds: [...req.resourceIds] };
  });
}

/** validateConfirmHold checks a BookAppointmentRequest that names a hold_id. */
export function validateConfirmHold(req: BookAppointmentRequest): ValidConfirmHold {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("holdId", req.holdId);
    v.id("providerId", req.providerId, { optional: true });
    v.id("patientId", req.patientId, { optional: true });
    v.id("visitTypeId", req.visitTypeId, { optional: true });
    const start = v.timestamp("startTime", req.startTime, { optional: true, wholeMinute: true });
    const durationMs = v.duration("duration", req.duration, APPOINTMENT_DURATION);
    resourceIds(v, req.resourceIds);
    freeText(v, "reason", req.reason, MAX_REASON);
    freeText(v, "overrideReason", req.overrideReason, MAX_REASON);
    // The hold's rules were checked when it was taken; an override now would change nothing.
    if (req.overrideReason !== "") v.add("overrideReason", "must be empty when confirming a hold: its rules were checked when the time was held", "NOT_WITH_HOLD");
    const given = (s: string) => (s === "" ? undefined : s);
    return {
      requestId: req.requestId,
      holdId: req.holdId,
      providerId: given(req.providerId),
      patientId: given(req.patientId),
      start,
      durationMs,
      visitTypeId: given(req.visitTypeId),
      resourceIds: req.resourceIds.length === 0 ? undefined : [...req.resourceIds].sort(),
      reason: req.reason.trim(),
    };
  });
}
