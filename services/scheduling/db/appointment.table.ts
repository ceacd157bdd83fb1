// scheduling.appointments (and its rooms, scheduling.appointment_resources): read and written with SQL
// (tstzrange columns, exclusion constraints), so not in Kysely's Database; AppointmentRow is a row as
// the repository reads it.

/** AppointmentStatusName is an appointment state as stored. */
export type AppointmentStatusName = "PROPOSED" | "BOOKED" | "CHECKED_IN" | "FULFILLED" | "CANCELLED" | "NOSHOW";

/** ACTIVE_STATUSES hold the provider's and rooms' time. */
export const ACTIVE_STATUSES: readonly AppointmentStatusName[] = ["PROPOSED", "BOOKED", "CHECKED_IN"];

/** AppointmentRow is an appointment as the repository reads it (range bounds as instants). */
export interface AppointmentRow {
  /** appointment_id is the id. */
  appointment_id: string;
  /** provider_id is the provider. */
  provider_id: string;
  /** patient_id is the patient. */
  patient_id: string;
  /** start_at is lower(during). */
  start_at: Date;
  /** end_at is upper(during). */
  end_at: Date;
  /** status is the state. */
  status: AppointmentStatusName;
  /** resource_ids are its rooms and devices. */
  resource_ids: string[];
  /** reason is free text, sealed (reason-vault.ts; "" for none). */
  reason: string;
  /** reason_key_id is the key id reason was sealed with; null for "" or plaintext not sealed yet. */
  reason_key_id: string | null;
  /** cancel_reason is why it was cancelled, sealed like reason. */
  cancel_reason: string;
  /** cancel_reason_key_id is the key id cancel_reason was sealed with, as reason_key_id. */
  cancel_reason_key_id: string | null;
  /** offer_expires_at ends a PROPOSED offer. */
  offer_expires_at: Date | null;
  /** waitlist_entry_id is the entry an offer was made to. */
  waitlist_entry_id: string | null;
  /** ticket_id is the queue ticket from check-in. */
  ticket_id: string | null;
  /** fencing_token of the last write under the provider lock (numeric: a string). */
  fencing_token: string;
  /** rescheduled_from_id is the appointment this replaced. */
  rescheduled_from_id: string | null;
  /** location_id is where the visit takes place. */
  location_id: string;
  /** visit_type_id is the visit type booked, if any. */
  visit_type_id: string | null;
  /** series_id is the series it belongs to, if any. */
  series_id: string | null;
  /** series_index is its 1-based place in the series. */
  series_index: number | null;
  /** hold_id is the HoldSlot hold it is or was. */
  hold_id: string | null;
  /** created_at is when it was created. */
  created_at: Date;
  /** updated_at is the last change. */
  updated_at: Date;
}
