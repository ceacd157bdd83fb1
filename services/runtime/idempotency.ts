/**
 * requestId replay, the same in every service: a write RPC with a requestId stores its first
 * response under (caller, rpc, requestId) in its service's `<schema>.request_keys`, with a hash of
 * the parameters. A retry with the same parameters gets that response back; other parameters are
 * ALREADY_EXISTS REQUEST_ID_REUSED; a retry while the first call still runs is ABORTED
 * REQUEST_IN_PROGRESS. Keys are per caller (a requestId is the client's, not global) and are pruned
 * after the service's retention.
 */
import { createHash } from "node:crypto";
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Generated, Kysely } from "kysely";
import { AbortedError, AlreadyExistsError } from "./errors.js";

/** RequestKeyTable is a row of a service's `<schema>.request_keys`: a requestId's first result, per caller and RPC. */
export interface RequestKeyTable {
  /** caller is the token's subject. */
  caller: string;
  /** rpc is the method name, e.g. "BookAppointment". */
  rpc: string;
  /** request_id is the client's idempotency key. */
  request_id: string;
  /** request_hash identifies the parameters the key was first used with (requestHash). */
  request_hash: string;
  /** response is the first response, binary protobuf; null while the first call runs. */
  response: Buffer | null;
  /** created_at is when the key was first used. */
  created_at: Generated<Date>;
}

/** RequestKey names one use of a requestId. */
export interface RequestKey {
  caller: string;
  rpc: string;
  requestId: string;
}

/** StoredRequest is what replay needs of a stored key. */
export type StoredRequest = Pick<RequestKeyTable, "request_hash" | "response">;

/** requestHash identifies a request's parameters (everything but the requestId), in a stable order the caller chooses. */
export function requestHash(parameters: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parameters)).digest("base64url");
}

/** RequestIdReusedError is a requestId sent again with other parameters: ALREADY_EXISTS. */
export class RequestIdReusedError extends AlreadyExistsError {
  constructor(requestId: string, what = "a different request") {
    super("REQUEST_ID_REUSED", `this requestId was already used for ${what}; send a new requestId for a new request`, { metadata: { requestId } });
  }
}

/** RequestInProgressError is a retry that arrived while the first call with its requestId still runs: ABORTED, retry in a moment. */
export class RequestInProgressError extends AbortedError {
  constructor() {
    super("REQUEST_IN_PROGRESS", "the first request with this requestId is still being processed; retry in a moment");
  }
}

/** replayStored answers a retry from its stored key: the first response, or REQUEST_ID_REUSED / REQUEST_IN_PROGRESS. */
export function replayStored<S extends DescMessage>(schema: S, key: RequestKey, hash: string, stored: StoredRequest, what?: string): MessageShape<S> {
  if (stored.request_hash !== hash) throw new RequestIdReusedError(key.requestId, what);
  if (!stored.response) throw new RequestInProgressError();
  return fromBinary(schema, stored.response);
}

/**
 * AnyServiceDb is any service's database or transaction: the shared tables are typed by their own
 * row interfaces here, and the service's Database type does not need to be known.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyServiceDb = Kysely<any>;

type RequestKeysDb = Kysely<{ k: RequestKeyTable }>;

/** RequestKeys reads and prunes one service's `<schema>.request_keys`; the claims themselves are part of each service's write statements. */
export class RequestKeys<T extends `${string}.request_keys`> {
  constructor(private readonly table: T) {}

  /** find reads a stored key, if any. */
  async find(db: AnyServiceDb, key: RequestKey): Promise<StoredRequest | undefined> {
    const d = db as RequestKeysDb;
    return d
      .selectFrom(this.table as unknown as "k")
      .select(["request_hash", "response"])
      .where("caller", "=", key.caller)
      .where("rpc", "=", key.rpc)
      .where("request_id", "=", key.requestId)
      .executeTakeFirst();
  }

  /** saveResponse stores the first response of a key claimed with a null response. */
  async saveResponse(db: AnyServiceDb, key: RequestKey, response: Uint8Array): Promise<void> {
    const d = db as RequestKeysDb;
    await d
      .updateTable(this.table as unknown as "k")
      .set({ response: Buffer.from(response) })
      .where("caller", "=", key.caller)
      .where("rpc", "=", key.rpc)
      .where("request_id", "=", key.requestId)
      .execute();
  }

  /** prune deletes keys first used before `before`; returns how many. */
  async prune(db: AnyServiceDb, before: Date): Promise<number> {
    const d = db as RequestKeysDb;
    const r = await d.deleteFrom(this.table as unknown as "k").where("created_at", "<", before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
