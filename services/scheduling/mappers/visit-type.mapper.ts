// Row-to-message mapping for visit types (minutes as stored, Durations as sent).
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { VisitTypeSchema } from "../../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import type { VisitTypeRow } from "../db/visit-type.table.js";

const minutes = (m: number) => durationFromMs(m * 60_000);

/** toVisitType maps a visit type row. */
export function toVisitType(r: VisitTypeRow): MessageInitShape<typeof VisitTypeSchema> {
  return {
    visitTypeId: r.visit_type_id,
    locationId: r.location_id,
    displayName: r.display_name,
    duration: minutes(r.duration_minutes),
    bufferBefore: minutes(r.buffer_before_minutes),
    bufferAfter: minutes(r.buffer_after_minutes),
    providerIds: r.provider_ids,
    requiredCapabilities: r.required_capabilities,
    patientBookable: r.patient_bookable,
    rules: {
      minNotice: minutes(r.min_notice_minutes),
      horizon: minutes(r.horizon_minutes),
      patientCancelCutoff: minutes(r.patient_cancel_cutoff_minutes),
      maxPerPatientPerDay: r.max_per_patient_per_day,
    },
    color: r.color,
    createTime: timestampFromDate(r.created_at),
    updateTime: timestampFromDate(r.updated_at),
  };
}
