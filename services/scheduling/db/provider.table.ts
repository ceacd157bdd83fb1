import type { ColumnType, Selectable } from "kysely";

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
  /** location_id is the provider's own location. */
  location_id: ColumnType<string, string | undefined, string>;
  /** last_sequence is the last WatchAppointments sequence (int8: a string when read). */
  last_sequence: ColumnType<string, string | number | undefined, string | number>;
}

/** ProviderRow is a provider as read. */
export type ProviderRow = Selectable<ProviderTable>;
