import type { Db } from "../db/database.js";
import type { RequestKeyRow } from "../db/request-key.table.js";

/**
 * claimRequestKey records (caller, rpc, requestId) with the request's hash. Returns `claimed: true` when
 * this call is the first; otherwise the existing row (a concurrent first use is waited for by the
 * unique index, so the row read is committed).
 */
export async function claimRequestKey(
  db: Db,
  key: { caller: string; rpc: string; requestId: string; hash: string; at: Date },
): Promise<{ claimed: true } | { claimed: false; existing: RequestKeyRow }> {
  const inserted = await db
    .insertInto("queue.request_keys")
    .values({ caller: key.caller, rpc: key.rpc, request_id: key.requestId, request_hash: key.hash, response: null, created_at: key.at })
    .onConflict((oc) => oc.columns(["caller", "rpc", "request_id"]).doNothing())
    .returning("request_id")
    .executeTakeFirst();
  if (inserted) return { claimed: true };
  const existing = await db
    .selectFrom("queue.request_keys")
    .selectAll()
    .where("caller", "=", key.caller)
    .where("rpc", "=", key.rpc)
    .where("request_id", "=", key.requestId)
    .executeTakeFirstOrThrow();
  return { claimed: false, existing };
}

/** saveResponse stores the first response of a claimed key. */
export async function saveResponse(db: Db, key: { caller: string; rpc: string; requestId: string }, response: Uint8Array): Promise<void> {
  await db
    .updateTable("queue.request_keys")
    .set({ response: Buffer.from(response) })
    .where("caller", "=", key.caller)
    .where("rpc", "=", key.rpc)
    .where("request_id", "=", key.requestId)
    .execute();
}

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
