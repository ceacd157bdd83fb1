import type { Db } from "../db/database.js";
import type { RequestKeyRow } from "../db/request-key.table.js";

/** pruneRequestKeys deletes keys first used before `before`; returns how many. */
export async function pruneRequestKeys(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom("queue.request_keys").where("created_at", "<", before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** findRequestKey reads a stored requestId of a caller and RPC. */
export async function findRequestKey(db: Db, key: { caller: string; rpc: string; requestId: string }): Promise<RequestKeyRow | undefined> {
  return db
    .selectFrom("queue.request_keys")
    .selectAll()
    .where("caller", "=", key.caller)
    .where("rpc", "=", key.rpc)
    .where("request_id", "=", key.requestId)
    .executeTakeFirst();
}

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
