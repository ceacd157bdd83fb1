import type { ColumnType, Selectable } from "kysely";

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

/** ChangeRow is a change as read. */
export type ChangeRow = Selectable<ChangeTable>;
