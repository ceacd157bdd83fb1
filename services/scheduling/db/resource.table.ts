import type { ColumnType, Selectable } from "kysely";

/** ResourceTable is a row of scheduling.resources. */
export interface ResourceTable {
  /** resource_id is the id. */
  resource_id: string;
  /** display_name is shown to staff. */
  display_name: string;
  /** kind is ROOM or DEVICE. */
  kind: "ROOM" | "DEVICE";
  /** location_id is where it is. */
  location_id: ColumnType<string, string | undefined, string>;
  /** capabilities are free-form tags a visit type can require, e.g. "ultrasound". */
  capabilities: ColumnType<string[], string[] | undefined, string[]>;
  /** created_at is when it was created. */
  created_at: Date;
}

/** ResourceRow is a resource as read. */
export type ResourceRow = Selectable<ResourceTable>;
