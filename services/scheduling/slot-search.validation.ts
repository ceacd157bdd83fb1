// SearchSlots' request checks: every violation named at once (field, text, reason), before any read.
import type { SearchSlotsRequest } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { validate } from "../runtime/request/validation.js";
import { MAX_SLOT_RANGE_MS, range } from "./scheduling.validation.js";

/** SEARCH_PAGE_SIZE is SearchSlots' page size when the request leaves it 0. */
export const SEARCH_PAGE_SIZE = 500;
/** MAX_SEARCH_PAGE_SIZE is the largest page SearchSlots answers. */
export const MAX_SEARCH_PAGE_SIZE = 2000;
/** MAX_SEARCH_PROVIDERS is how many providers a search may name. */
export const MAX_SEARCH_PROVIDERS = 100;

/** ValidSearchSlots is a validated SearchSlotsRequest. */
export interface ValidSearchSlots {
  /** locationId is the location; undefined: the visit type's own. */
  locationId: string | undefined;
  /** visitTypeId is the visit type. */
  visitTypeId: string;
  /** start of the range. */
  start: Date;
  /** end of the range, after start, at most 31 days later. */
  end: Date;
  /** providerIds are the providers asked for, distinct and sorted; empty: all offering the visit type. */
  providerIds: string[];
  /** patientId applies that patient's rules; undefined: none. */
  patientId: string | undefined;
  /** pageSize is the most slots answered (the default applied). */
  pageSize: number;
  /** pageToken from a previous response, "" for the first page. */
  pageToken: string;
}

/** validateSearchSlots checks a SearchSlotsRequest. */
export function validateSearchSlots(req: SearchSlotsRequest): ValidSearchSlots {
  return validate((v) => {
    v.id("locationId", req.locationId, { optional: true });
    v.id("visitTypeId", req.visitTypeId);
    const { start, end } = range(v, "startTime", req.startTime, "endTime", req.endTime, { required: true, maxMs: MAX_SLOT_RANGE_MS, maxText: "31 days" });
    if (req.providerIds.length > MAX_SEARCH_PROVIDERS) {
      v.add("providerIds", `must name at most ${MAX_SEARCH_PROVIDERS} providers (got ${req.providerIds.length})`, "TOO_MANY");
    }
    const seen = new Map<string, number>();
    req.providerIds.forEach((id, i) => {
      v.id(`providerIds[${i}]`, id);
      const first = seen.get(id);
      if (first !== undefined) v.add(`providerIds[${i}]`, `duplicates providerIds[${first}]`, "DUPLICATE");
      else seen.set(id, i);
    });
    v.id("patientId", req.patientId, { optional: true });
    v.pageSize("pageSize", req.pageSize, MAX_SEARCH_PAGE_SIZE);
    v.pageToken("pageToken", req.pageToken);
    return {
      locationId: req.locationId === "" ? undefined : req.locationId,
      visitTypeId: req.visitTypeId,
      start: start ?? new Date(0),
      end: end ?? new Date(0),
      providerIds: [...seen.keys()].sort(),
      patientId: req.patientId === "" ? undefined : req.patientId,
      pageSize: req.pageSize === 0 ? SEARCH_PAGE_SIZE : req.pageSize,
      pageToken: req.pageToken,
    };
  });
}
