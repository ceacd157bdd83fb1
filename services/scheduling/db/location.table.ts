import type { ColumnType, Selectable } from "kysely";

/** LocationTable is a row of scheduling.locations: a clinic or branch. */
export interface LocationTable {
  /** location_id is the id (`default` for everything created without one). */
  location_id: string;
  /** display_name is shown to people. */
  display_name: string;
  /** time_zone is an IANA zone. */
  time_zone: string;
  /** address is free text. */
  address: string;
  /** closures as [{startDate, endDate, reason}] (local dates, inclusive). */
  closures: ColumnType<unknown, string | undefined, string>;
  /** created_at is when it was created. */
  created_at: Date;
  /** updated_at is the last change by a person; null while `default` follows the configured zone. */
  updated_at: Date | null;
  /** last_sequence is the location's last WatchAppointments sequence (int8: a string when read). */
  last_sequence: ColumnType<string, string | number | undefined, string | number>;
}

/** LocationRow is a location as read. */
export type LocationRow = Selectable<LocationTable>;
