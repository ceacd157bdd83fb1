import type {
  AcquireRequest,
  AdvanceEpochRequest,
  ExtendRequest,
  ForceReleaseRequest,
  ListLocksRequest,
  ReleaseRequest,
} from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { validate, type DurationRule, type RequestValidator } from "../runtime/request/validation.js";

/** MAX_RESOURCE_LENGTH is the longest resource key (and ListLocks prefix) accepted, in UTF-16 units. */
export const MAX_RESOURCE_LENGTH = 200;
/** MAX_OWNER_LENGTH is the longest owner accepted. */
export const MAX_OWNER_LENGTH = 200;
/** MAX_REASON_LENGTH is the longest ForceRelease / AdvanceEpoch reason accepted. */
export const MAX_REASON_LENGTH = 500;
/** MAX_TTL_MS is the longest lease time to live: 10 minutes. */
export const MAX_TTL_MS = 10 * 60_000;
/** MAX_WAIT_TIMEOUT_MS is the longest Acquire wait: 60 seconds. */
export const MAX_WAIT_TIMEOUT_MS = 60_000;
/** DEFAULT_LIST_LOCKS_PAGE_SIZE is the ListLocks page size when the request leaves it 0. */
export const DEFAULT_LIST_LOCKS_PAGE_SIZE = 50;
/** MAX_LIST_LOCKS_PAGE_SIZE is the largest ListLocks page size. */
export const MAX_LIST_LOCKS_PAGE_SIZE = 500;

const TTL_RULE: DurationRule = { required: true, minMs: 0, minExclusive: true, maxMs: MAX_TTL_MS };
const WAIT_TIMEOUT_RULE: DurationRule = { minMs: 0, maxMs: MAX_WAIT_TIMEOUT_MS };

// Whitespace (incl. Unicode spaces and line breaks), control and format (zero-width, bidi) characters
// and lone surrogates: none belongs in an opaque key that ends up in Redis keys, SQL rows and logs.
const WHITESPACE = /\s/u;
const CONTROL_OR_INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}]/u;

/**
 * checkResourceKey checks a lock resource key (or, with `optional`, a key prefix): 1-200 characters,
 * no whitespace, control or invisible characters. It is an opaque key such as "provider:7f3a", never
 * patient data.
 */
function checkResourceKey(v: RequestValidator, field: string, value: string, opts: { optional?: boolean } = {}): void {
  if (value === "") {
    if (!opts.optional) v.add(field, 'is required: an opaque key such as "provider:7f3a", without patient data', "REQUIRED");
    return;
  }
  if (value.length > MAX_RESOURCE_LENGTH) {
    v.add(field, `must be at most ${MAX_RESOURCE_LENGTH} characters (got ${value.length})`, "TOO_LONG");
  }
  if (WHITESPACE.test(value)) v.add(field, "must not contain spaces or line breaks", "WHITESPACE");
  if (CONTROL_OR_INVISIBLE.test(value)) v.add(field, "must not contain control or invisible characters", "CONTROL_CHARACTERS");
}

/** checkReason checks a required audit reason of at most 500 characters. */
function checkReason(v: RequestValidator, field: string, value: string): string {
  v.string(field, value, { max: MAX_REASON_LENGTH });
  return value.trim();
}

/** ValidAcquire is a well-formed AcquireRequest. */
export interface ValidAcquire {
  /** resource is the key to lock. */
  resource: string;
  /** owner is who asks, or undefined when not given (the implementation defaults it to the caller). */
  owner: string | undefined;
  /** ttlMs is the lease's time to live in milliseconds, 1 to 600,000. */
  ttlMs: number;
  /** waitTimeoutMs is how long to wait for a held lease, 0 (try once) to 60,000. */
  waitTimeoutMs: number;
}

/** validateAcquire checks an AcquireRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateAcquire(req: AcquireRequest): ValidAcquire {
  return validate((v) => {
    checkResourceKey(v, "resource", req.resource);
    v.string("owner", req.owner, { optional: true, max: MAX_OWNER_LENGTH });
    const ttlMs = v.duration("ttl", req.ttl, TTL_RULE);
    const waitTimeoutMs = v.duration("waitTimeout", req.waitTimeout, WAIT_TIMEOUT_RULE);
    return {
      resource: req.resource,
      owner: req.owner.trim() === "" ? undefined : req.owner.trim(),
      // A missing or bad ttl is a violation, so 0 is never returned: validate() throws first.
      ttlMs: ttlMs ?? 0,
      waitTimeoutMs: waitTimeoutMs ?? 0,
    };
  });
}

/** ValidRelease is a well-formed ReleaseRequest. */
export interface ValidRelease {
  /** resource is the locked key. */
  resource: string;
  /** leaseId is the lease to release. */
  leaseId: string;
}

/** validateRelease checks a ReleaseRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateRelease(req: ReleaseRequest): ValidRelease {
  return validate((v) => {
    checkResourceKey(v, "resource", req.resource);
    v.id("leaseId", req.leaseId);
    return { resource: req.resource, leaseId: req.leaseId };
  });
}

/** ValidExtend is a well-formed ExtendRequest. */
export interface ValidExtend {
  /** resource is the locked key. */
  resource: string;
  /** leaseId is the lease to extend. */
  leaseId: string;
  /** ttlMs is the new time to live from now in milliseconds, 1 to 600,000. */
  ttlMs: number;
}

/** validateExtend checks an ExtendRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateExtend(req: ExtendRequest): ValidExtend {
  return validate((v) => {
    checkResourceKey(v, "resource", req.resource);
    v.id("leaseId", req.leaseId);
    const ttlMs = v.duration("ttl", req.ttl, TTL_RULE);
    // A missing or bad ttl is a violation, so 0 is never returned: validate() throws first.
    return { resource: req.resource, leaseId: req.leaseId, ttlMs: ttlMs ?? 0 };
  });
}

/** ValidListLocks is a well-formed ListLocksRequest. */
export interface ValidListLocks {
  /** prefix restricts the listing to resources starting with it; "" lists all. */
  prefix: string;
  /** pageSize is the page size with the default applied: 1 to 500. */
  pageSize: number;
  /** pageToken is the opaque continuation token, "" for the first page. */
  pageToken: string;
}

/** validateListLocks checks a ListLocksRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateListLocks(req: ListLocksRequest): ValidListLocks {
  return validate((v) => {
    checkResourceKey(v, "prefix", req.prefix, { optional: true });
    v.pageSize("pageSize", req.pageSize, MAX_LIST_LOCKS_PAGE_SIZE);
    v.pageToken("pageToken", req.pageToken);
    return {
      prefix: req.prefix,
      pageSize: req.pageSize === 0 ? DEFAULT_LIST_LOCKS_PAGE_SIZE : req.pageSize,
      pageToken: req.pageToken,
    };
  });
}

/** ValidForceRelease is a well-formed ForceReleaseRequest. */
export interface ValidForceRelease {
  /** resource is the key whose lease is dropped. */
  resource: string;
  /** reason is why, for the audit trail (trimmed). */
  reason: string;
}

/** validateForceRelease checks a ForceReleaseRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateForceRelease(req: ForceReleaseRequest): ValidForceRelease {
  return validate((v) => {
    checkResourceKey(v, "resource", req.resource);
    const reason = checkReason(v, "reason", req.reason);
    return { resource: req.resource, reason };
  });
}

/** ValidAdvanceEpoch is a well-formed AdvanceEpochRequest. */
export interface ValidAdvanceEpoch {
  /** reason is why, for the audit trail (trimmed). */
  reason: string;
}

/** validateAdvanceEpoch checks an AdvanceEpochRequest and returns its parsed values, or throws InvalidArgumentError. */
export function validateAdvanceEpoch(req: AdvanceEpochRequest): ValidAdvanceEpoch {
  return validate((v) => ({ reason: checkReason(v, "reason", req.reason) }));
}
