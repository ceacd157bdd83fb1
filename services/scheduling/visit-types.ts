// Visit types: what is booked at a location (length, buffers, providers offering it, the rooms or
// devices it needs, and its booking rules), created, read, listed and changed. Writes are idempotent
// by requestId (claimed in their transaction, the first response stored with the key) and audited
// (record_type 'visit_type'); a client-chosen id makes a create retryable with another requestId too.
// Appointments already booked keep their time when a visit type changes: the rules apply to the
// bookings and moves made after the change.
import { randomUUID } from "node:crypto";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  CreateVisitTypeResponseSchema,
  SchedulingService,
  UpdateVisitTypeResponseSchema,
  type GetVisitTypeResponseSchema,
  type ListVisitTypesResponseSchema,
} from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { auditEntries } from "../runtime/audit.js";
import { listScope, requireLocation } from "../runtime/auth/location-scope.js";
import { callerOf } from "../runtime/caller.js";
import { AlreadyExistsError, InvalidArgumentError } from "../runtime/errors.js";
import { requestHash, type RequestKey } from "../runtime/idempotency.js";
import { definePageKind, type PageTokens } from "../runtime/page-token.js";
import type { Db } from "./db/database.js";
import type { VisitTypeRow } from "./db/visit-type.table.js";
import { toVisitType } from "./mappers/visit-type.mapper.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { findProviders } from "./repositories/provider.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import { findVisitType, findVisitTypeForUpdate, insertVisitType, listVisitTypes, replaceVisitType } from "./repositories/visit-type.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";
import { providerNotFoundError } from "./scheduling.errors.js";
import { locationNotFoundError } from "./location.errors.js";
import { locationExists } from "./repositories/location.repository.js";
import { visitTypeNotFoundError } from "./visit-type.errors.js";
import { ruleViolations, type ValidCreateVisitType, type ValidListVisitTypes, type ValidUpdateVisitType, type VisitTypePath, type VisitTypeValues } from "./visit-types.validation.js";

/** VISIT_TYPES_PAGE is ListVisitTypes' page token: the visit types after (display name, id), bound to the location and provider filters. */
export const VISIT_TYPES_PAGE = definePageKind(SchedulingService.method.listVisitTypes, { name: "text", id: "text" });

/**
 * checkMayManageVisitTypesAt is the one place that decides whether a caller may create or change the
 * visit types of a location: the role table lets receptionists and admins; a token that lists
 * locations (runtime/auth/location-scope.ts) only at those (PERMISSION_DENIED OUTSIDE_YOUR_LOCATIONS).
 */
export function checkMayManageVisitTypesAt(ctx: HandlerContext, locationId: string): void {
  requireLocation(ctx, locationId, "this visit type");
}

/** rowOf is the stored row of validated values. */
function rowOf(id: string, locationId: string, v: VisitTypeValues, createdAt: Date, updatedAt: Date): VisitTypeRow {
  return {
    visit_type_id: id,
    location_id: locationId,
    display_name: v.displayName,
    duration_minutes: v.durationMinutes,
    buffer_before_minutes: v.bufferBeforeMinutes,
    buffer_after_minutes: v.bufferAfterMinutes,
    provider_ids: v.providerIds,
    required_capabilities: v.requiredCapabilities,
    patient_bookable: v.patientBookable,
    min_notice_minutes: v.minNoticeMinutes,
    horizon_minutes: v.horizonMinutes,
    patient_cancel_cutoff_minutes: v.patientCancelCutoffMinutes,
    max_per_patient_per_day: v.maxPerPatientPerDay,
    color: v.color,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

/** sameDetails tells whether a stored visit type holds exactly `row`'s details (timestamps aside). */
function sameDetails(a: VisitTypeRow, b: VisitTypeRow): boolean {
  const keys = (Object.keys(b) as (keyof VisitTypeRow)[]).filter((k) => k !== "created_at" && k !== "updated_at");
  return keys.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/** MERGE says which columns each update_mask path sets. */
const MERGE: Record<VisitTypePath, (keyof VisitTypeRow)[]> = {
  display_name: ["display_name"],
  duration: ["duration_minutes"],
  buffer_before: ["buffer_before_minutes"],
  buffer_after: ["buffer_after_minutes"],
  provider_ids: ["provider_ids"],
  required_capabilities: ["required_capabilities"],
  patient_bookable: ["patient_bookable"],
  rules: ["min_notice_minutes", "horizon_minutes", "patient_cancel_cutoff_minutes", "max_per_patient_per_day"],
  "rules.min_notice": ["min_notice_minutes"],
  "rules.horizon": ["horizon_minutes"],
  "rules.patient_cancel_cutoff": ["patient_cancel_cutoff_minutes"],
  "rules.max_per_patient_per_day": ["max_per_patient_per_day"],
  color: ["color"],
};

/** VisitTypes serves CreateVisitType, GetVisitType, ListVisitTypes and UpdateVisitType (see the file comment). */
export class VisitTypes {
  constructor(
    private readonly c: SchedulingContext,
    private readonly pageTokens: PageTokens,
  ) {}

  /** createVisitType adds a visit type; with a client-chosen id a retry returns the existing one (ALREADY_EXISTS VISIT_TYPE_EXISTS when it differs). */
  async createVisitType(v: ValidCreateVisitType, ctx: HandlerContext) {
    const { clock, lock, writes } = this.c;
    const caller = callerOf(ctx);
    checkMayManageVisitTypesAt(ctx, v.locationId);
    const key: RequestKey = { caller: caller.subject, rpc: "CreateVisitType", requestId: v.requestId };
    const hash = requestHash([v.visitTypeId ?? "", v.locationId, v.values]);
    const now = clock.now();
    return writes.transaction(async (trx) => {
      const replayed = await lock.claim(trx, key, hash, now, CreateVisitTypeResponseSchema, { providerId: "", token: undefined });
      if (replayed) return replayed;
      await this.checkReferences(trx, v.locationId, v.values.providerIds);
      const row = rowOf(v.visitTypeId ?? `vt-${randomUUID()}`, v.locationId, v.values, now, now);
      let stored = await insertVisitType(trx, row);
      if (stored) {
        await AUDIT_LOG.append(trx, auditEntries(caller, "CreateVisitType", now, "visit_type", [row.visit_type_id]));
      } else {
        stored = await findVisitType(trx, row.visit_type_id);
        if (!stored || !sameDetails(stored, row)) {
          throw new AlreadyExistsError("VISIT_TYPE_EXISTS", "a visit type with this id already exists with different details", { metadata: { visitTypeId: row.visit_type_id } });
        }
      }
      const res = create(CreateVisitTypeResponseSchema, { visitType: toVisitType(stored) });
      await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(CreateVisitTypeResponseSchema, res)));
      return res;
    }, { claims: true });
  }

  /** getVisitType reads one visit type (NOT_FOUND VISIT_TYPE_NOT_FOUND; a location-scoped caller only of their locations). */
  async getVisitType(v: { visitTypeId: string }, ctx: HandlerContext): Promise<MessageInitShape<typeof GetVisitTypeResponseSchema>> {
    const row = await findVisitType(this.c.db, v.visitTypeId);
    if (!row) throw visitTypeNotFoundError(v.visitTypeId);
    requireLocation(ctx, row.location_id, "this visit type");
    return { visitType: toVisitType(row) };
  }

  /** listVisitTypes pages through visit types by display name, of a location and/or offered by a provider (a location-scoped caller's locations only). */
  async listVisitTypes(v: ValidListVisitTypes, ctx: HandlerContext): Promise<MessageInitShape<typeof ListVisitTypesResponseSchema>> {
    const query = [v.locationId ?? null, v.providerId ?? null];
    const after = this.pageTokens.open(VISIT_TYPES_PAGE, v.pageToken, query);
    const rows = await listVisitTypes(this.c.db, { locationIds: listScope(ctx, v.locationId), providerId: v.providerId, after, limit: v.pageSize + 1 });
    const page = rows.slice(0, v.pageSize);
    const last = page[page.length - 1];
    return {
      visitTypes: page.map(toVisitType),
      nextPageToken: rows.length > v.pageSize && last ? this.pageTokens.seal(VISIT_TYPES_PAGE, { name: last.display_name, id: last.visit_type_id }, query) : "",
    };
  }

  /** updateVisitType changes the fields named in the update mask; bookings already made keep their time. */
  async updateVisitType(v: ValidUpdateVisitType, ctx: HandlerContext) {
    const { clock, lock, writes } = this.c;
    const caller = callerOf(ctx);
    const key: RequestKey = { caller: caller.subject, rpc: "UpdateVisitType", requestId: v.requestId };
    const hash = requestHash([v.visitTypeId, [...v.paths].sort(), v.values]);
    const now = clock.now();
    return writes.transaction(async (trx) => {
      const replayed = await lock.claim(trx, key, hash, now, UpdateVisitTypeResponseSchema, { providerId: "", token: undefined });
      if (replayed) return replayed;
      const current = await findVisitTypeForUpdate(trx, v.visitTypeId);
      if (!current) throw visitTypeNotFoundError(v.visitTypeId);
      checkMayManageVisitTypesAt(ctx, current.location_id);
      const wanted = rowOf(current.visit_type_id, current.location_id, v.values, current.created_at, now);
      const next: VisitTypeRow = { ...current, updated_at: now };
      for (const path of v.paths) for (const column of MERGE[path]) (next as Record<string, unknown>)[column] = wanted[column];
      const broken = ruleViolations({ minNoticeMinutes: next.min_notice_minutes, horizonMinutes: next.horizon_minutes });
      if (broken.length > 0) throw new InvalidArgumentError(broken);
      if (v.paths.includes("provider_ids")) await this.checkReferences(trx, undefined, next.provider_ids);
      const stored = await replaceVisitType(trx, next);
      await AUDIT_LOG.append(trx, auditEntries(caller, "UpdateVisitType", now, "visit_type", [stored.visit_type_id]));
      const res = create(UpdateVisitTypeResponseSchema, { visitType: toVisitType(stored) });
      await REQUEST_KEYS.saveResponse(trx, key, this.c.reasons.sealResponse(key, toBinary(UpdateVisitTypeResponseSchema, res)));
      return res;
    }, { claims: true });
  }

  /** checkReferences requires the location (when given) and every provider to exist (NOT_FOUND naming the first missing one). */
  private async checkReferences(trx: Db, locationId: string | undefined, providerIds: string[]): Promise<void> {
    if (locationId !== undefined && !(await locationExists(trx, locationId))) throw locationNotFoundError(locationId);
    const found = new Set((await findProviders(trx, providerIds)).map((p) => p.provider_id));
    const missing = providerIds.find((id) => !found.has(id));
    if (missing !== undefined) throw providerNotFoundError(missing);
  }
}
