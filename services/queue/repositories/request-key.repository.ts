import type { Db } from "../db/database.js";
import { RequestKeys } from "../../runtime/idempotency.js";

/** REQUEST_KEYS is queue.request_keys: requestId replay (runtime/idempotency.ts). */
export const REQUEST_KEYS = new RequestKeys("queue.request_keys");

/** insertRequestKey stores a requestId with its first response; false when the caller already used it (nothing changes). */
export async function insertRequestKey(
  db: Db,
  key: { caller: string; rpc: string; requestId: string; hash: string; at: Date; response: Uint8Array },
): Promise<boolean> {
  const r = await db
    .insertInto("queue.request_keys")
    .values({ caller: key.caller, rpc: key.rpc, request_id: key.requestId, request_hash: key.hash, response: Buffer.from(key.response), created_at: key.at })
    .onConflict((oc) => oc.columns(["caller", "rpc", "request_id"]).doNothing())
    .returning("request_id")
    .executeTakeFirst();
  return r !== undefined;
}
