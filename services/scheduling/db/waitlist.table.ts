import type { ColumnType, Generated, Selectable } from "kysely";

/** WaitlistTable is a row of scheduling.waitlist. */
export interface WaitlistTable {
  /** entry_id is the id. */
  entry_id: string;
  /** seq is the join order. */
  seq: Generated<ColumnType<string, never, never>>;
  /** provider_id is the provider wanted. */
  provider_id: string;
  /** patient_id is the waiting patient. */
  patient_id: string;
  /** window_start is the earliest acceptable start. */
  window_start: Date;
  /** window_end is the latest acceptable end. */
  window_end: Date;
  /** duration_minutes is the wanted length, null for one slot. */
  duration_minutes: number | null;
  /** status is WAITING, OFFERED, BOOKED or EXPIRED. */
  status: "WAITING" | "OFFERED" | "BOOKED" | "EXPIRED";
  /** offered_appointment_id is the open offer. */
  offered_appointment_id: string | null;
  /** created_at is when the patient joined. */
  created_at: Date;
  /** updated_at is the last change. */
  updated_at: Date;
}

/** WaitlistRow is a waitlist entry as read. */
export type WaitlistRow = Selectable<WaitlistTable>;
