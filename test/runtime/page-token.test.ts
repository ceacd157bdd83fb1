// Page tokens are opaque and tamper-evident: what one List RPC hands out opens again only for that RPC,
// the same filters and a process with the same PAGE_TOKEN_SECRET; everything else (altered, forged,
// hand-written, from another query, another secret, or holding values outside what the RPC takes) is
// INVALID_ARGUMENT on pageToken with reason INVALID_PAGE_TOKEN, never a value fed into SQL.
import t, { type Test } from "tap";
import { Code } from "@connectrpc/connect";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { InvalidArgumentError } from "../../services/runtime/errors.js";
import { definePageKind, ephemeralPageTokenSecret, PAGE_TOKEN_MAX_LENGTH, PageTokens } from "../../services/runtime/page-token.js";

const SECRET = "page-token-test-secret-0123456789abcdef";
const tokens = new PageTokens(SECRET);
const NAMES = definePageKind(SchedulingService.method.listProviders, { name: "text", id: "text" });
const TIMES = definePageKind(SchedulingService.method.listAppointments, { start: "instant", id: "text" });
const OFFSETS = definePageKind(QueueService.method.listTickets, { offset: "offset" });
const legacy = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function refused(t: Test, fn: () => unknown, label: string): void {
  try {
    fn();
    t.fail(`${label}: opened`);
  } catch (err) {
    t.ok(err instanceof InvalidArgumentError, `${label}: InvalidArgumentError`);
    const e = err as InvalidArgumentError;
    t.equal(e.code, Code.InvalidArgument, `${label}: INVALID_ARGUMENT`);
    t.same(e.violations.map((v) => [v.field, v.reason]), [["pageToken", "INVALID_PAGE_TOKEN"]], `${label}: names pageToken`);
  }
}

t.test("a sealed cursor opens again, with its values and types", async (t) => {
  const name = "Dr. Ğüşçö \"quoted\" 名前🙂".padEnd(200, "x");
  t.same(tokens.open(NAMES, tokens.seal(NAMES, { name, id: "p-1" })), { name, id: "p-1" });
  const start = new Date("9999-12-31T23:59:59.999Z");
  const opened = tokens.open(TIMES, tokens.seal(TIMES, { start, id: "a-1" }, ["p-1", null]), ["p-1", null]);
  t.ok(opened?.start instanceof Date && opened.start.getTime() === start.getTime(), "an instant comes back as the same Date");
  t.same(tokens.open(OFFSETS, tokens.seal(OFFSETS, { offset: 40 }, ["q", [1, 2]]), ["q", [1, 2]]), { offset: 40 });
  t.equal(tokens.open(NAMES, ""), undefined, "no token: the first page");
  t.equal(new PageTokens(SECRET).open(NAMES, tokens.seal(NAMES, { name: "a", id: "b" }))?.id, "b", "another process with the same secret opens it");
  t.ok(tokens.seal(NAMES, { name, id: "p-1" }).length <= PAGE_TOKEN_MAX_LENGTH, "a 200-character name fits the length bound");
});

t.test("tokens are opaque: neither the values nor their layout show", async (t) => {
  const token = tokens.seal(NAMES, { name: "Dr. Visible", id: "p-visible" });
  t.match(token, /^[A-Za-z0-9_-]+$/, "base64url");
  const bytes = Buffer.from(token, "base64url").toString("latin1");
  t.notOk(bytes.includes("Visible") || bytes.includes("p-visible"), "the cursor is not readable");
  t.not(tokens.seal(NAMES, { name: "Dr. Visible", id: "p-visible" }), token, "sealing twice gives different tokens");
});

t.test("whatever was not sealed by this secret for this RPC and query is refused", async (t) => {
  const good = tokens.seal(TIMES, { start: new Date("2026-01-05T09:00:00Z"), id: "a-1" }, ["p-1"]);
  refused(t, () => tokens.open(TIMES, good, ["p-2"]), "the same RPC with other filters");
  refused(t, () => tokens.open(NAMES, good, ["p-1"]), "another RPC");
  refused(t, () => new PageTokens("another-secret-0123456789abcdef0123").open(TIMES, good, ["p-1"]), "another secret");
  for (let i = 2; i < good.length; i += 7) {
    const flipped = good.slice(0, i) + (good[i] === "A" ? "B" : "A") + good.slice(i + 1);
    refused(t, () => tokens.open(TIMES, flipped, ["p-1"]), `altered at ${i}`);
  }
  refused(t, () => tokens.open(TIMES, good.slice(0, -3), ["p-1"]), "cut short");
  // Hand-written tokens in the format page tokens had before they were sealed.
  refused(t, () => tokens.open(NAMES, legacy({ n: "\u0000", i: "x" })), "base64 JSON holding a NUL");
  refused(t, () => tokens.open(TIMES, legacy({ s: "+275760-09-13T00:00:00.000Z", i: "a" })), "base64 JSON holding year 275760");
  refused(t, () => tokens.open(OFFSETS, legacy({ o: -1 })), "base64 JSON holding a negative offset");
  for (const [label, token] of [
    ["a NUL character", "abc\u0000def"],
    ["spaces", "a b"],
    ["padding", `${good}=`],
    ["too long", "A".repeat(PAGE_TOKEN_MAX_LENGTH + 1)],
    ["one character", "A"],
    ["a version this code does not know", Buffer.concat([Buffer.of(9), Buffer.from(good, "base64url").subarray(1)]).toString("base64url")],
  ]) {
    refused(t, () => tokens.open(NAMES, token), label);
  }
});

t.test("a sealed value outside what the RPC takes is refused too", async (t) => {
  const wrong = <T>(kind: typeof NAMES | typeof TIMES | typeof OFFSETS, cursor: T) => tokens.seal(kind as never, cursor as never);
  refused(t, () => tokens.open(NAMES, wrong(NAMES, { name: "a\u0000b", id: "p" })), "text with NUL");
  refused(t, () => tokens.open(NAMES, wrong(NAMES, { name: "\ud800", id: "p" })), "text with a lone surrogate");
  refused(t, () => tokens.open(NAMES, wrong(NAMES, { name: "x".repeat(501), id: "p" })), "text too long");
  refused(t, () => tokens.open(NAMES, wrong(NAMES, { name: 7, id: "p" })), "a number for text");
  refused(t, () => tokens.open(NAMES, wrong(NAMES, { id: "p" })), "a value missing");
  refused(t, () => tokens.open(TIMES, wrong(TIMES, { start: new Date("+010000-01-01T00:00:00Z"), id: "a" })), "an instant past 9999");
  refused(t, () => tokens.open(TIMES, wrong(TIMES, { start: new Date("1969-12-31T23:59:59Z"), id: "a" })), "an instant before 1970");
  refused(t, () => tokens.open(OFFSETS, wrong(OFFSETS, { offset: -1 })), "a negative offset");
  refused(t, () => tokens.open(OFFSETS, wrong(OFFSETS, { offset: 1.5 })), "a fractional offset");
  refused(t, () => tokens.open(OFFSETS, wrong(OFFSETS, { offset: 2 ** 40 })), "a huge offset");
});

t.test("without PAGE_TOKEN_SECRET a process keeps one random secret", async (t) => {
  t.equal(ephemeralPageTokenSecret(), ephemeralPageTokenSecret(), "the same for the whole process");
  const a = new PageTokens(ephemeralPageTokenSecret());
  t.same(new PageTokens(ephemeralPageTokenSecret()).open(OFFSETS, a.seal(OFFSETS, { offset: 3 })), { offset: 3 }, "every service class of the process opens the others' tokens");
  t.throws(() => new PageTokens(""), "an empty secret is a bug");
});
