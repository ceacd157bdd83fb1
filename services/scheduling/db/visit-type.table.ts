import type { Selectable } from "kysely";

/** VisitTypeTable is a row of scheduling.visit_types: what is booked, and its booking rules (minutes; 0: no rule). */
export interface VisitTypeTable {
  /** visit_type_id is the id. */
  visit_type_id: string;
  /** location_id is the location offering it. */
  location_id: string;
  /** display_name is shown to people. */
  display_name: string;
  /** duration_minutes is the visit's length. */
  duration_minutes: number;
  /** buffer_before_minutes is kept free before the visit. */
  buffer_before_minutes: number;
  /** buffer_after_minutes is kept free after the visit. */
  buffer_after_minutes: number;
  /** provider_ids offer it. */
  provider_ids: string[];
  /** required_capabilities each need one room or device having it. */
  required_capabilities: string[];
  /** patient_bookable lets patients book it themselves. */
  patient_bookable: boolean;
  /** min_notice_minutes is the earliest start counted from now. */
  min_notice_minutes: number;
  /** horizon_minutes is the latest start counted from now. */
  horizon_minutes: number;
  /** patient_cancel_cutoff_minutes closes patients' changes this long before the start. */
  patient_cancel_cutoff_minutes: number;
  /** max_per_patient_per_day limits active visits of this type per patient per local day. */
  max_per_patient_per_day: number;
  /** color is "#RRGGBB" or empty. */
  color: string;
  /** created_at is when it was created. */
  created_at: Date;
  /** updated_at is the last change. */
  updated_at: Date;
}

/** VisitTypeRow is a visit type as read. */
export type VisitTypeRow = Selectable<VisitTypeTable>;
