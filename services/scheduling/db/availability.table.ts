import type { ColumnType, Selectable } from "kysely";

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

/** AvailabilityRow is an availability as read. */
export type AvailabilityRow = Selectable<AvailabilityTable>;
