import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { CounterSchema, QueueSchema } from "../../../gen/medschedule/queue/v1/queue_pb.js";
import type { CounterRow } from "../db/counter.table.js";
import type { QueueRow } from "../db/queue.table.js";

/** toQueue maps a queue row to its message. */
export function toQueue(row: QueueRow): MessageInitShape<typeof QueueSchema> {
  return {
    queueId: row.queue_id,
    displayName: row.display_name,
    prefix: row.prefix,
    timeZone: row.time_zone,
    locationId: row.location_id,
    createTime: timestampFromDate(row.created_at),
  };
}

/** toCounter maps a counter row (and the ticket it holds CALLED, if any) to its message. */
export function toCounter(row: CounterRow, currentTicketId: string | undefined): MessageInitShape<typeof CounterSchema> {
  return {
    queueId: row.queue_id,
    counterId: row.counter_id,
    open: row.is_open,
    currentTicketId: currentTicketId ?? "",
    openTime: row.opened_at ? timestampFromDate(row.opened_at) : undefined,
  };
}
