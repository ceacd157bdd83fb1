// Page tokens: how every List RPC hands out, and takes back, the point where its next page starts.
//
// Why: a page token is client input that ends up in SQL (a keyset "after this name and id", "after
// this start time and id", an offset). When tokens were base64 JSON that a client could write
// itself, a NUL character or a date outside what the database takes went straight into the query and
// answered INTERNAL, and any value at all could be fed in.
//
// How: the cursor (a few named values) is JSON, sealed with AES-256-GCM under a key derived with
// HKDF-SHA256 from PAGE_TOKEN_SECRET. The seal's additional data names the RPC and the query's
// filters, so a token can be neither read, altered nor forged, nor replayed into another RPC or into
// the same RPC with other filters (page size may change between pages). Opening checks the seal,
// then every value against what the RPC expects (its type, and a range the database and the
// validators accept); anything else is INVALID_ARGUMENT on `pageToken` (reason INVALID_PAGE_TOKEN),
// never INTERNAL. Keyset pagination itself is unchanged: the cursor holds the same values as before.
//
// Every replica of a service must share the secret (npm start keeps one in DATA_DIR, `npm run
// cluster` hands one to every process, Kubernetes takes it from the medschedule-auth Secret). A
// process without one uses a random key of its own: its tokens stop working when it restarts or
// when the next page is asked of another replica (the client then starts the listing again).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "./errors.js";

/** PAGE_TOKEN_MAX_LENGTH bounds a page token's length (a cursor holding a 200-character name fits). */
export const PAGE_TOKEN_MAX_LENGTH = 2048;

/** MAX_INSTANT_MS is the last instant a cursor may hold: 9999-12-31T23:59:59.999Z, as the validators accept. */
const MAX_INSTANT_MS = 253_402_300_799_999;
/** MAX_OFFSET bounds an offset cursor. */
const MAX_OFFSET = 2_147_483_647;
/** MAX_TEXT bounds a text value of a cursor (display names are at most 200 characters, ids 64). */
const MAX_TEXT = 500;
/** LONE_SURROGATE matches UTF-16 that is not text (it has no UTF-8 encoding). */
const LONE_SURROGATE = /\p{Cs}/u;
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** PageCursorField is the kind of one cursor value: text (no NUL), an instant (1970-9999) or an offset (a whole number >= 0). */
export type PageCursorField = "text" | "instant" | "offset";

/** PageCursorShape names a cursor's values and their kinds, e.g. { name: "text", id: "text" }. */
export type PageCursorShape = Record<string, PageCursorField>;

/** PageCursor is a cursor of a shape: strings, Dates and numbers. */
export type PageCursor<S extends PageCursorShape> = {
  [K in keyof S]: S[K] extends "instant" ? Date : S[K] extends "offset" ? number : string;
};

/** PageKind is one List RPC's kind of page token: the RPC it belongs to and the shape of its cursor. */
export interface PageKind<S extends PageCursorShape> {
  /** rpc is "package.Service/Method", bound into every token. */
  readonly rpc: string;
  /** shape is the cursor's values. */
  readonly shape: S;
}

/** definePageKind declares the page tokens of a List RPC and the values its cursor holds. */
export function definePageKind<S extends PageCursorShape>(method: DescMethod, shape: S): PageKind<S> {
  return { rpc: `${method.parent.typeName}/${method.name}`, shape };
}

/** invalidPageToken is the error for a page token that does not open, or does not hold what its RPC expects. */
export function invalidPageToken(): InvalidArgumentError {
  return new InvalidArgumentError([
    {
      field: "pageToken",
      description: "is not a page token from a previous response to this same request; start again without one",
      reason: "INVALID_PAGE_TOKEN",
    },
  ]);
}

function checkValue(kind: PageCursorField, value: unknown): unknown {
  switch (kind) {
    case "text":
      if (typeof value !== "string" || value.length > MAX_TEXT || value.includes("\u0000") || LONE_SURROGATE.test(value)) return undefined;
      return value;
    case "instant": {
      if (typeof value !== "string") return undefined;
      const ms = Date.parse(value);
      return Number.isFinite(ms) && ms >= 0 && ms <= MAX_INSTANT_MS ? new Date(ms) : undefined;
    }
    case "offset":
      return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= MAX_OFFSET ? value : undefined;
  }
}

function encodeValue(kind: PageCursorField, value: unknown): unknown {
  return kind === "instant" ? (value as Date).toISOString() : value;
}

let processSecret: string | undefined;

/**
 * ephemeralPageTokenSecret is this process's random page-token secret, for a process started
 * without PAGE_TOKEN_SECRET (and for service classes built without PageTokens, in tests): its tokens
 * die with the process and do not open on other replicas.
 */
export function ephemeralPageTokenSecret(): string {
  processSecret ??= randomBytes(32).toString("base64url");
  return processSecret;
}

/**
 * PageTokens seals cursors into page tokens and opens them again: opaque to clients,
 * tamper-evident, and bound to one RPC and one query (see the header of page-token.ts).
 */
export class PageTokens {
  readonly #key: Buffer;

  /** The key is derived from `secret` (PAGE_TOKEN_SECRET); processes sharing the secret open each other's tokens. */
  constructor(secret: string) {
    if (secret === "") throw new Error("PageTokens: empty secret");
    this.#key = Buffer.from(hkdfSync("sha256", secret, "medschedule page token", "aes-256-gcm v1", 32));
  }

  /** seal makes the token of `cursor` for a List RPC and its query's filters (any JSON value, the same when opening). */
  seal<S extends PageCursorShape>(kind: PageKind<S>, cursor: PageCursor<S>, query: unknown = null): string {
    const payload = Object.fromEntries(Object.entries(kind.shape).map(([name, k]) => [name, encodeValue(k, (cursor as Record<string, unknown>)[name])]));
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(kind, query));
    const sealed = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), sealed]).toString("base64url");
  }

  /**
   * page cuts the rows a List query read with limit pageSize + 1 into the page and the next page's
   * token, sealed from the page's last row (`cursorOf`) for `query`; "" when there is no more.
   */
  page<S extends PageCursorShape, R>(kind: PageKind<S>, rows: readonly R[], pageSize: number, cursorOf: (last: R) => PageCursor<S>, query: unknown = null): { page: R[]; nextPageToken: string } {
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return { page, nextPageToken: rows.length > pageSize && last !== undefined ? this.seal(kind, cursorOf(last), query) : "" };
  }

  /**
   * open returns the cursor of a token made by `seal` for the same RPC and query, or undefined for
   * "" (the first page). Anything else is INVALID_ARGUMENT on pageToken (INVALID_PAGE_TOKEN).
   */
  open<S extends PageCursorShape>(kind: PageKind<S>, token: string, query: unknown = null): PageCursor<S> | undefined {
    if (token === "") return undefined;
    if (token.length > PAGE_TOKEN_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalidPageToken();
    const bytes = Buffer.from(token, "base64url");
    if (bytes.length < 1 + IV_BYTES + TAG_BYTES + 2 || bytes[0] !== VERSION) throw invalidPageToken();
    let payload: unknown;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, bytes.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(kind, query));
      decipher.setAuthTag(bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
      payload = JSON.parse(plain.toString("utf8"));
    } catch {
      // Not sealed by this secret for this RPC and query, or altered.
      throw invalidPageToken();
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) throw invalidPageToken();
    const cursor: Record<string, unknown> = {};
    for (const [name, k] of Object.entries(kind.shape)) {
      const value = checkValue(k, (payload as Record<string, unknown>)[name]);
      if (value === undefined) throw invalidPageToken();
      cursor[name] = value;
    }
    return cursor as PageCursor<S>;
  }
}

function additionalData(kind: PageKind<PageCursorShape>, query: unknown): Buffer {
  return Buffer.from(`${kind.rpc}\n${JSON.stringify(query ?? null)}`, "utf8");
}
