import type { Selectable } from "kysely";

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

/** ResourceRow is a resource as read. */
export type ResourceRow = Selectable<ResourceTable>;
