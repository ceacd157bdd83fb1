// Row-to-message mapping for locations, and a location as the slot engine needs it.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { LocationSchema } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type { DateRange } from "../availability.validation.js";
import type { LocationRow } from "../db/location.table.js";

/** closuresOf are a location row's closures as stored (each {startDate, endDate, reason}). */
export function closuresOf(r: Pick<LocationRow, "closures">): DateRange[] {
  return (r.closures as DateRange[]).map((c) => ({ startDate: c.startDate, endDate: c.endDate, reason: c.reason }));
}

/** toLocation maps a location row; update_time is the creation while nobody has changed it. */
export function toLocation(r: LocationRow): MessageInitShape<typeof LocationSchema> {
  return {
    locationId: r.location_id,
    displayName: r.display_name,
    timeZone: r.time_zone,
    address: r.address,
    closures: closuresOf(r),
    createTime: timestampFromDate(r.created_at),
    updateTime: timestampFromDate(r.updated_at ?? r.created_at),
  };
}
