import type { ColumnType, Generated, Selectable } from "kysely";

/** LocationChangeTable is a row of scheduling.location_changes: one change of a location's appointments, numbered once committed. */
export interface LocationChangeTable {
  /** id is the insertion order (int8: a string when read). */
  id: Generated<string>;
  /** location_id is the location whose calendar changed. */
  location_id: string;
  /** sequence increases per location; null until stamped after the commit (int8: a string when read). */
  sequence: ColumnType<string | null, never, never>;
  /** at is when (the appointment's updated_at). */
  at: Date;
  /** appointment_id is the changed appointment. */
  appointment_id: string;
}

/** LocationChangeRow is a location change as read. */
export type LocationChangeRow = Selectable<LocationChangeTable>;
