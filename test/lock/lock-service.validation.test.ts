// LockServiceImpl alone: every RPC rejects malformed requests with INVALID_ARGUMENT naming exactly the bad
// fields, and passes well-formed ones on to the lock backend (here there is none: UNAVAILABLE).
import t from "tap";
import { create, type DescMethod, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  AcquireRequestSchema,
  AdvanceEpochRequestSchema,
  ExtendRequestSchema,
  ForceReleaseRequestSchema,
  ListLocksRequestSchema,
  LockService,
  ReleaseRequestSchema,
} from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { LOCKS_PAGE, LockServiceImpl } from "../../services/lock/lock-service.js";
import { PageTokens } from "../../services/runtime/page-token.js";
import { validateAcquire, validateExtend, validateListLocks } from "../../services/lock/lock.validation.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { LockBackendUnavailableError } from "../../services/lock/lock.errors.js";
import { describe, failure, violatedFields as violations } from "../helpers/call-outcome.js";
import { testContext } from "../helpers/handler-context.js";

const pageTokens = new PageTokens("lock-validation-test-page-token-secret-0123");
const svc = new LockServiceImpl({ clock: createFakeClock(), pageTokens });

const ctx = (m: DescMethod) => testContext(m);

/** "accepted" when a call passed validation and reached the backend (none here: UNAVAILABLE), or what happened instead. */
async function accepted(p: Promise<unknown>): Promise<string> {
  const err = await failure(p);
  if (!(err instanceof LockBackendUnavailableError) || err.code !== Code.Unavailable) {
    return `expected LockBackendUnavailableError, got ${describe(err)}`;
  }
  return "accepted";
}

const ms = durationFromMs;
const s = (seconds: number) => durationFromMs(seconds * 1000);
const chars = (n: number, c = "x") => c.repeat(n);

t.test("every RPC of the service is covered here", async (t) => {
  t.same(Object.keys(LockService.method).sort(), [
    "acquire",
    "advanceEpoch",
    "extend",
    "forceRelease",
    "listLocks",
    "release",
  ]);
});

t.test("Acquire", async (t) => {
  const call = (init: MessageInitShape<typeof AcquireRequestSchema>) =>
    svc.acquire(create(AcquireRequestSchema, init), ctx(LockService.method.acquire));

  t.test("well-formed requests pass validation", async (t) => {
    t.equal(await accepted(call({ resource: "provider:7f3a", ttl: s(30) })), "accepted");
    t.equal(
      await accepted(call({ resource: chars(200), owner: chars(200, "o"), ttl: s(600), waitTimeout: s(60) })),
      "accepted",
      "at the limits",
    );
    t.equal(await accepted(call({ resource: "r", ttl: ms(1), waitTimeout: s(0) })), "accepted", "try-lock");
    t.equal(await accepted(call({ resource: "slot/2026-01-05T09:00|room-3", owner: "scheduling pod 2", ttl: s(5) })), "accepted");
  });

  t.test("an empty request names resource and ttl", async (t) => {
    t.same(await violations(call({})), ["resource", "ttl"]);
  });

  t.test("resource", async (t) => {
    t.same(await violations(call({ resource: chars(201), ttl: s(30) })), ["resource"], "201 characters");
    t.same(await violations(call({ resource: "provider 7f3a", ttl: s(30) })), ["resource"], "space");
    t.same(await violations(call({ resource: "   ", ttl: s(30) })), ["resource"], "blank");
    t.same(await violations(call({ resource: "a\u00a0b", ttl: s(30) })), ["resource"], "no-break space");
    t.same(await violations(call({ resource: "a\u200bb", ttl: s(30) })), ["resource"], "zero-width space");
    t.same(await violations(call({ resource: "a\u0000b", ttl: s(30) })), ["resource"], "NUL");
    t.same(await violations(call({ resource: "a\u007fb", ttl: s(30) })), ["resource"], "DEL");
    t.same(await violations(call({ resource: "a\ud800b", ttl: s(30) })), ["resource"], "lone surrogate");
    t.same(await violations(call({ resource: "a\tb", ttl: s(30) })), ["resource", "resource"], "tab: whitespace and control");
    t.same(
      await violations(call({ resource: `${chars(200)} `, ttl: s(30) })),
      ["resource", "resource"],
      "too long and with a space",
    );
  });

  t.test("owner", async (t) => {
    t.same(await violations(call({ resource: "r", owner: chars(201), ttl: s(30) })), ["owner"], "201 characters");
    t.same(await violations(call({ resource: "r", owner: "pod\n2", ttl: s(30) })), ["owner"], "control character");
  });

  t.test("ttl", async (t) => {
    t.same(await violations(call({ resource: "r", ttl: s(0) })), ["ttl"], "zero");
    t.same(await violations(call({ resource: "r", ttl: s(-1) })), ["ttl"], "negative");
    t.same(await violations(call({ resource: "r", ttl: s(601) })), ["ttl"], "over 10 minutes");
    t.same(await violations(call({ resource: "r", ttl: { seconds: 1n, nanos: -1 } })), ["ttl"], "malformed duration");
    t.same(await violations(call({ resource: "r", ttl: { seconds: 0n, nanos: 100 } })), ["ttl"], "100 ns: below a millisecond, not read as 0");
    t.same(await violations(call({ resource: "r", ttl: { seconds: 30n, nanos: 1500 } })), ["ttl"], "30 s and 1.5 µs: not truncated to 30 s");
  });

  t.test("waitTimeout", async (t) => {
    t.same(await violations(call({ resource: "r", ttl: s(30), waitTimeout: s(-1) })), ["waitTimeout"], "negative");
    t.same(await violations(call({ resource: "r", ttl: s(30), waitTimeout: ms(-1) })), ["waitTimeout"], "-1ms");
    t.same(await violations(call({ resource: "r", ttl: s(30), waitTimeout: s(61) })), ["waitTimeout"], "over 60 s");
  });

  t.test("every bad field is named at once", async (t) => {
    t.same(
      await violations(call({ resource: "", owner: chars(201), ttl: s(-5), waitTimeout: s(61) })),
      ["owner", "resource", "ttl", "waitTimeout"],
    );
  });

  t.test("validateAcquire returns the parsed values", async (t) => {
    t.same(validateAcquire(create(AcquireRequestSchema, { resource: "r", ttl: s(30) })), {
      resource: "r",
      owner: undefined,
      ttlMs: 30_000,
      waitTimeoutMs: 0,
    });
    t.same(
      validateAcquire(create(AcquireRequestSchema, { resource: "r", owner: " pod-1 ", ttl: ms(1500), waitTimeout: s(2) })),
      { resource: "r", owner: "pod-1", ttlMs: 1500, waitTimeoutMs: 2000 },
    );
  });
});

t.test("Release", async (t) => {
  const call = (init: MessageInitShape<typeof ReleaseRequestSchema>) =>
    svc.release(create(ReleaseRequestSchema, init), ctx(LockService.method.release));

  t.equal(await accepted(call({ resource: "provider:7f3a", leaseId: "0b7c0c8e-5a0e-4f1e-9d7a-2f0b1c3d4e5f" })), "accepted");
  t.same(await violations(call({})), ["leaseId", "resource"], "empty request");
  t.same(await violations(call({ resource: "r" })), ["leaseId"], "leaseId is required");
  t.same(await violations(call({ resource: "r", leaseId: "lease 1" })), ["leaseId"], "leaseId with a space");
  t.same(await violations(call({ resource: "r", leaseId: chars(65) })), ["leaseId"], "leaseId too long");
  t.same(await violations(call({ resource: "a b", leaseId: "l1" })), ["resource"], "resource with a space");
  t.same(await violations(call({ resource: chars(201), leaseId: "l1" })), ["resource"], "resource too long");
});

t.test("Extend", async (t) => {
  const call = (init: MessageInitShape<typeof ExtendRequestSchema>) =>
    svc.extend(create(ExtendRequestSchema, init), ctx(LockService.method.extend));

  t.equal(await accepted(call({ resource: "r", leaseId: "l1", ttl: s(600) })), "accepted");
  t.same(await violations(call({})), ["leaseId", "resource", "ttl"], "empty request");
  t.same(await violations(call({ resource: "r", leaseId: "l1" })), ["ttl"], "ttl is required");
  t.same(await violations(call({ resource: "r", leaseId: "l1", ttl: s(0) })), ["ttl"], "ttl zero");
  t.same(await violations(call({ resource: "r", leaseId: "l1", ttl: ms(600_001) })), ["ttl"], "ttl over 10 minutes");
  t.same(await violations(call({ resource: "r\n", leaseId: "l/1", ttl: s(1) })), ["leaseId", "resource", "resource"]);
  t.same(validateExtend(create(ExtendRequestSchema, { resource: "r", leaseId: "l1", ttl: s(9) })), {
    resource: "r",
    leaseId: "l1",
    ttlMs: 9000,
  });
});

t.test("ListLocks", async (t) => {
  const call = (init: MessageInitShape<typeof ListLocksRequestSchema>) =>
    svc.listLocks(create(ListLocksRequestSchema, init), ctx(LockService.method.listLocks));

  t.equal(await accepted(call({})), "accepted", "empty request lists everything");
  const prefix = chars(200);
  t.equal(await accepted(call({ prefix, pageSize: 500, pageToken: pageTokens.seal(LOCKS_PAGE, { offset: 10 }, [prefix]) })), "accepted");
  t.same(await violations(call({ pageToken: "eyJvIjoxMH0" })), ["pageToken"], "hand-written page token");
  t.same(await violations(call({ prefix: "other:", pageToken: pageTokens.seal(LOCKS_PAGE, { offset: 10 }, [prefix]) })), ["pageToken"], "page token of another prefix");
  t.same(await violations(call({ pageSize: -1 })), ["pageSize"], "negative page size");
  t.same(await violations(call({ pageSize: 501 })), ["pageSize"], "page size over 500");
  t.same(await violations(call({ prefix: chars(201) })), ["prefix"], "prefix too long");
  t.same(await violations(call({ prefix: "provider: " })), ["prefix"], "prefix with a space");
  t.same(await violations(call({ pageToken: "not a token!" })), ["pageToken"], "malformed page token");
  t.same(await violations(call({ prefix: chars(201), pageSize: 1000, pageToken: "%%" })), ["pageSize", "pageToken", "prefix"]);
  t.same(validateListLocks(create(ListLocksRequestSchema, {})), { prefix: "", pageSize: 50, pageToken: "" }, "default page size");
  t.same(validateListLocks(create(ListLocksRequestSchema, { prefix: "p:", pageSize: 7 })), { prefix: "p:", pageSize: 7, pageToken: "" });
});

t.test("ForceRelease", async (t) => {
  const call = (init: MessageInitShape<typeof ForceReleaseRequestSchema>) =>
    svc.forceRelease(create(ForceReleaseRequestSchema, init), ctx(LockService.method.forceRelease));

  t.equal(await accepted(call({ resource: "r", reason: "holder pod crashed, INC-42" })), "accepted");
  t.equal(await accepted(call({ resource: "r", reason: chars(500) })), "accepted", "500-character reason");
  t.same(await violations(call({})), ["reason", "resource"], "empty request");
  t.same(await violations(call({ resource: "r" })), ["reason"], "reason is required");
  t.same(await violations(call({ resource: "r", reason: "   " })), ["reason"], "blank reason");
  t.same(await violations(call({ resource: "r", reason: chars(501) })), ["reason"], "reason too long");
  t.same(await violations(call({ resource: "a b", reason: "why" })), ["resource"], "resource with a space");
});

t.test("AdvanceEpoch", async (t) => {
  const call = (init: MessageInitShape<typeof AdvanceEpochRequestSchema>) =>
    svc.advanceEpoch(create(AdvanceEpochRequestSchema, init), ctx(LockService.method.advanceEpoch));

  t.equal(await accepted(call({ reason: "restore of backup b-123" })), "accepted");
  t.same(await violations(call({})), ["reason"], "reason is required");
  t.same(await violations(call({ reason: " \t " })), ["reason"], "blank reason");
  t.same(await violations(call({ reason: chars(501) })), ["reason"], "reason too long");
});
