import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from "kysely";
import type { AuditLogTable } from "../../runtime/audit.js";
import type { RequestKeyTable } from "../../runtime/idempotency.js";

/** AppointmentStatusName is an appointment state as stored. */
export type AppointmentStatusName = "PROPOSED" | "BOOKED" | "CHECKED_IN" | "FULFILLED" | "CANCELLED" | "NOSHOW";

/** ACTIVE_STATUSES hold the provider's and rooms' time. */
export const ACTIVE_STATUSES: readonly AppointmentStatusName[] = ["PROPOSED", "BOOKED", "CHECKED_IN"];

/** ProviderTable is a row of scheduling.providers. */
export interface ProviderTable {
  /** provider_id is the id. */
  provider_id: string;
  /** display_name is shown to people. */
  display_name: string;
  /** time_zone is an IANA zone. */
  time_zone: string;
  /** specialty is free text. */
  specialty: string;
  /** created_at is when it was created. */
  created_at: Date;
  /** last_sequence is the last WatchAppointments sequence (int8: a string when read). */
  last_sequence: ColumnType<string, string | number | undefined, string | number>;
}

/** ResourceTable is a row of scheduling.resources. */
export interface ResourceTable {
  /** resource_id is the id. */
  resource_id: string;
  /** display_name is shown to staff. */
  display_name: string;
  /** kind is ROOM or DEVICE. */
  kind: "ROOM" | "DEVICE";
  /** created_at is when it was created. */
  created_at: Date;
}

/** AvailabilityTable is a row of scheduling.availability: a provider's weekly pattern. */
export interface AvailabilityTable {
  /** provider_id is the provider. */
  provider_id: string;
  /** weekly_hours as [{dayOfWeek, startMinute, endMinute}]. */
  weekly_hours: ColumnType<unknown, string, string>;
  /** breaks, same shape. */
  breaks: ColumnType<unknown, string, string>;
  /** exceptions as [{startDate, endDate, reason}]. */
  exceptions: ColumnType<unknown, string, string>;
  /** slot_minutes is the slot length. */
  slot_minutes: number;
  /** buffer_minutes is kept free after every appointment. */
  buffer_minutes: number;
  /** updated_at is when it was last set. */
  updated_at: Date;
}

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

/** ChangeTable is a row of scheduling.changes: one numbered change of a provider's appointments. */
export interface ChangeTable {
  /** provider_id is the provider. */
  provider_id: string;
  /** sequence increases per provider (int8: a string when read). */
  sequence: ColumnType<string, string | number, never>;
  /** at is when. */
  at: Date;
  /** appointment_id is the changed appointment. */
  appointment_id: string;
}

/** Database is the scheduling schema as Kysely sees it (appointments are read with SQL: ranges). */
export interface Database {
  /** scheduling.providers. */
  "scheduling.providers": ProviderTable;
  /** scheduling.resources. */
  "scheduling.resources": ResourceTable;
  /** scheduling.availability. */
  "scheduling.availability": AvailabilityTable;
  /** scheduling.request_keys. */
  "scheduling.request_keys": RequestKeyTable;
  /** scheduling.audit_log. */
  "scheduling.audit_log": AuditLogTable;
  /** scheduling.waitlist. */
  "scheduling.waitlist": WaitlistTable;
  /** scheduling.changes. */
  "scheduling.changes": ChangeTable;
}

/** Db is the database or a transaction, as the caller decides. */
export type Db = Kysely<Database> | Transaction<Database>;

/** ProviderRow is a provider as read. */
export type ProviderRow = Selectable<ProviderTable>;
/** ResourceRow is a resource as read. */
export type ResourceRow = Selectable<ResourceTable>;
/** AvailabilityRow is an availability as read. */
export type AvailabilityRow = Selectable<AvailabilityTable>;
/** WaitlistRow is a waitlist entry as read. */
export type WaitlistRow = Selectable<WaitlistTable>;
/** ChangeRow is a change as read. */
export type ChangeRow = Selectable<ChangeTable>;

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
  /** reason is free text. */
  reason: string;
  /** cancel_reason is why it was cancelled. */
  cancel_reason: string;
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
  /** created_at is when it was created. */
  created_at: Date;
  /** updated_at is the last change. */
  updated_at: Date;
}
