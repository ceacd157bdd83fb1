// What the location RPCs accept (CreateLocation, GetLocation, ListLocations, UpdateLocation with its
// update mask), and the capabilities of a room or device. Each validate* returns the request's values
// as the domain uses them, or throws INVALID_ARGUMENT with every field violation at once.
import type { CreateLocationRequest, GetLocationRequest, ListLocationsRequest, UpdateLocationRequest } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import type { DateException } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { maskFieldNames, type RequestValidator, validate } from "../runtime/request/validation.js";
import { dateRanges, type DateRange } from "./availability.validation.js";
import { freeText, page, type ValidPage } from "./scheduling.validation.js";

/** MAX_CLOSURES is the most closures a location holds. */
export const MAX_CLOSURES = 200;
/** MAX_ADDRESS is the most characters of an address. */
const MAX_ADDRESS = 500;
/** The fields UpdateLocation can change, as update_mask paths. */
const UPDATABLE = ["display_name", "time_zone", "address", "closures"] as const;

/** LocationFields are a location's validated details. */
export interface LocationFields {
  /** displayName, trimmed, 1-200 characters. */
  displayName: string;
  /** timeZone is a known IANA zone, in its canonical spelling. */
  timeZone: string;
  /** address, trimmed, possibly empty. */
  address: string;
  /** closures in request order. */
  closures: DateRange[];
}

/** ValidCreateLocation is a validated CreateLocationRequest. */
export interface ValidCreateLocation extends LocationFields {
  /** requestId is the idempotency key. */
  requestId: string;
  /** locationId is the client-chosen id, undefined when the server is to generate one. */
  locationId: string | undefined;
}

/** ValidUpdateLocation is a validated UpdateLocationRequest: the new values of the masked fields only. */
export interface ValidUpdateLocation {
  /** requestId is the idempotency key. */
  requestId: string;
  /** locationId is the location changed. */
  locationId: string;
  /** change holds the fields named in the mask, each validated. */
  change: Partial<LocationFields>;
}

/** validateCreateLocation checks a CreateLocationRequest. */
export function validateCreateLocation(req: CreateLocationRequest): ValidCreateLocation {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("locationId", req.locationId, { optional: true });
    return {
      requestId: req.requestId,
      locationId: req.locationId === "" ? undefined : req.locationId,
      displayName: displayName(v, "displayName", req.displayName),
      timeZone: v.timeZone("timeZone", req.timeZone) ?? req.timeZone,
      address: address(v, "address", req.address),
      closures: closures(v, "closures", req.closures),
    };
  });
}

/** validateGetLocation checks a GetLocationRequest. */
export function validateGetLocation(req: GetLocationRequest): { locationId: string } {
  return validate((v) => {
    v.id("locationId", req.locationId);
    return { locationId: req.locationId };
  });
}

/** validateListLocations checks a ListLocationsRequest. */
export function validateListLocations(req: ListLocationsRequest): ValidPage {
  return validate((v) => page(v, req.pageSize, req.pageToken));
}

/**
 * validateUpdateLocation checks an UpdateLocationRequest: the location's id, a mask naming at least
 * one field and only fields that can change (display_name, time_zone, address, closures), each at
 * most once, and the new value of every field it names. A field outside the mask changes nothing but
 * must still be well-formed when set (a name with control characters is refused wherever it is).
 */
export function validateUpdateLocation(req: UpdateLocationRequest): ValidUpdateLocation {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    const loc = req.location;
    if (!loc) v.add("location", "is required: the location's id and the new values of the fields in updateMask", "REQUIRED");
    v.id("location.locationId", loc?.locationId ?? "");
    const paths = req.updateMask?.paths ?? [];
    if (paths.length === 0) v.add("updateMask", `is required: name the fields to change, of ${maskFieldNames(UPDATABLE)}`, "REQUIRED");
    const seen = new Set<string>();
    paths.forEach((path, i) => {
      if (!(UPDATABLE as readonly string[]).includes(path)) v.add(`updateMask.paths[${i}]`, `cannot change this field; updateMask may name ${maskFieldNames(UPDATABLE)}`, "UNKNOWN_FIELD");
      else if (seen.has(path)) v.add(`updateMask.paths[${i}]`, "names a field already named", "DUPLICATE");
      seen.add(path);
    });
    const change: Partial<LocationFields> = {};
    if (loc) {
      // A field outside the mask changes nothing, but is checked when set.
      const looked = (path: string, set: boolean) => seen.has(path) || set;
      const name = looked("display_name", loc.displayName !== "") ? displayName(v, "location.displayName", loc.displayName) : undefined;
      const zone = looked("time_zone", loc.timeZone !== "") ? v.timeZone("location.timeZone", loc.timeZone) : undefined;
      const addr = looked("address", loc.address !== "") ? address(v, "location.address", loc.address) : undefined;
      const closed = looked("closures", loc.closures.length > 0) ? closures(v, "location.closures", loc.closures) : undefined;
      if (seen.has("display_name")) change.displayName = name;
      if (seen.has("time_zone")) change.timeZone = zone;
      if (seen.has("address")) change.address = addr;
      if (seen.has("closures")) change.closures = closed;
    }
    return { requestId: req.requestId, locationId: loc?.locationId ?? "", change };
  });
}

function displayName(v: RequestValidator, field: string, value: string): string {
  v.string(field, value);
  return value.trim();
}

function address(v: RequestValidator, field: string, value: string): string {
  freeText(v, field, value, MAX_ADDRESS);
  return value.trim();
}

function closures(v: RequestValidator, field: string, values: readonly DateException[]): DateRange[] {
  return dateRanges(v, field, values, MAX_CLOSURES);
}
