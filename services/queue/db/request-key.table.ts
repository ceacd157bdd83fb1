import type { Generated, Insertable, Selectable, Updateable } from "kysely";

/** RequestKeyTable is a row of queue.request_keys: a requestId's first result, per caller and RPC. */
export interface RequestKeyTable {
  /** caller is the token's subject. */
  caller: string;
  /** rpc is the method name, e.g. "IssueTicket". */
  rpc: string;
  /** request_id is the client's idempotency key. */
  request_id: string;
  /** request_hash identifies the parameters the key was first used with. */
  request_hash: string;
  /** response is the first response, binary protobuf. */
  response: Buffer | null;
  /** created_at is when the key was first used. */
  created_at: Generated<Date>;
}

/** RequestKeyRow is a request key as read. */
export type RequestKeyRow = Selectable<RequestKeyTable>;
/** NewRequestKeyRow is a request key to insert. */
export type NewRequestKeyRow = Insertable<RequestKeyTable>;
/** RequestKeyUpdate is a change to a request key. */
export type RequestKeyUpdate = Updateable<RequestKeyTable>;
