// The gateway in distributed mode, over the wire: Connect JSON (HTTP/1.1), gRPC-web and gRPC
// (@grpc/grpc-js) through the gateway to services served by serveGrpc over a real Postgres; a stream
// passed through and cancelled; auth checked at the gateway; CORS for the configured origin only;
// responses passed through byte for byte to binary callers and decoded for JSON ones; the rate limit;
// deadlines, request ids and trace context reaching the service; two replicas both used; an upstream
// that is down, or dies mid-call.
import t from "tap";
import { Code, ConnectError, createClient, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { toBinary } from "@bufbuild/protobuf";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { ListTicketsResponseSchema, QueueService, type ListTicketsResponse } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { lockModule } from "../../services/lock/lock.module.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createGrpcJsTransport, undecodedResponseKey } from "../../services/runtime/clients/grpc-transport.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { TEST_SECRET } from "../helpers/system.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { freePort } from "../../services/runtime/server/free-port.js";
import { createForwardingService } from "../../gateway/forward.js";
import { testContext } from "../helpers/handler-context.js";

const QUEUE = "/medschedule.queue.v1.QueueService";
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

const token = (roles: string[], subject: string) => signToken(TEST_SECRET, subject, roles as never);
const bearer = async (roles: string[], subject = `gw-${roles.join("-")}`) => ({ authorization: `Bearer ${await token(roles, subject)}` });

/** connectJson posts a Connect unary call with JSON over HTTP/1.1 (fetch). */
async function connectJson(url: string, procedure: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url + procedure, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

const databaseUrl = await createTestDatabase(t);
// Two replicas of the queue and lock services over one database (the second starts once the first has migrated).
const a = await startUpstream(t, [queueModule, lockModule], databaseUrl);
const b = await startUpstream(t, [queueModule, lockModule], databaseUrl);
const gw = await startTestGateway(t, [a.address, b.address], { CORS_ORIGINS: "http://clinic.example" });
const grpcTransport = createGrpcJsTransport({ addresses: [`127.0.0.1:${gw.server.port}`] });
t.teardown(() => grpcTransport.close());
const grpcQueue = createClient(QueueService, grpcTransport);
const reception = await bearer(["receptionist"]);
const queueId = "gw-main";

t.test("Connect JSON over HTTP/1.1 through the gateway; x-request-id and traceparent reach the service", async (t) => {
  const created = await connectJson(gw.url, `${QUEUE}/CreateQueue`, { displayName: "Main", prefix: "G", timeZone: "Europe/Istanbul", queueId }, {
    ...reception,
    "x-request-id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
    traceparent: TRACEPARENT,
  });
  t.equal(created.status, 200, JSON.stringify(created.json));
  t.match(created.json, { queue: { queueId, prefix: "G" } });
  t.equal(created.headers.get("x-request-id"), "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "the request id is echoed");
  const seen = [...a.seen, ...b.seen].find((s) => s.requestId === "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c");
  t.ok(seen, "the upstream got the caller's x-request-id");
  t.equal(seen?.traceparent, TRACEPARENT, "traceparent forwarded");
  t.equal(seen?.authorization, reception.authorization, "the caller's token forwarded, not the gateway's");
  t.ok(seen?.timeoutMs !== undefined && seen.timeoutMs > 0 && seen.timeoutMs <= 30_000, `a default deadline is set upstream (${seen?.timeoutMs} ms)`);
});

t.test("gRPC-web over HTTP/1.1 through the gateway", async (t) => {
  const client = createClient(QueueService, createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
  const res = await client.getQueue({ queueId }, { headers: reception });
  t.equal(res.queue?.displayName, "Main");
  const err = await client.getQueue({ queueId: "no-such-queue" }, { headers: reception }).catch((e: unknown) => ConnectError.from(e));
  t.equal((err as ConnectError).code, Code.NotFound, "upstream errors keep their code");
});

t.test("gRPC with @grpc/grpc-js through the gateway; the caller's deadline is propagated", async (t) => {
  const res = await grpcQueue.issueTicket({ requestId: "gw-t1", queueId, patientId: "p-1" }, { headers: { ...reception, "x-request-id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f" }, timeoutMs: 4_000 });
  t.match(res.ticket?.number, /^G-/);
  const seen = [...a.seen, ...b.seen].find((s) => s.requestId === "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f");
  t.ok(seen?.timeoutMs !== undefined && seen.timeoutMs <= 4_000 && seen.timeoutMs > 2_000, `upstream deadline ${seen?.timeoutMs} ms <= the caller's 4000 ms`);
  const bad = await grpcQueue.issueTicket({ requestId: "", queueId, patientId: "p-1" }, { headers: reception }).catch((e: unknown) => ConnectError.from(e));
  t.equal((bad as ConnectError).code, Code.InvalidArgument);
  t.ok((bad as ConnectError).details.length > 0, "error details pass through");
});

t.test("a deadline shorter than the upstream's work ends DEADLINE_EXCEEDED in time", async (t) => {
  const admin = await bearer(["admin"]);
  const lock = createClient(LockService, grpcTransport);
  const held = await lock.acquire({ resource: "gw/deadline", owner: "holder", ttl: { seconds: 30n } }, { headers: admin });
  t.teardown(() => lock.release({ resource: "gw/deadline", leaseId: held.lease!.leaseId }, { headers: admin }).catch(() => undefined));
  const started = Date.now();
  const err = await lock
    .acquire({ resource: "gw/deadline", owner: "waiter", ttl: { seconds: 30n }, waitTimeout: { seconds: 20n } }, { headers: admin, timeoutMs: 700 })
    .catch((e: unknown) => ConnectError.from(e));
  const ms = Date.now() - started;
  t.equal((err as ConnectError).code, Code.DeadlineExceeded);
  t.ok(ms < 3_000, `answered in ${ms} ms`);
});

t.test("a server stream passes through and the client's cancel reaches the service", async (t) => {
  const ac = new AbortController();
  const stream = grpcQueue.watchQueue({ queueId }, { headers: reception, signal: ac.signal })[Symbol.asyncIterator]();
  const first = await stream.next();
  t.equal(first.value?.snapshot, true, "snapshot first");
  await grpcQueue.issueTicket({ requestId: "gw-t2", queueId, patientId: "p-2" }, { headers: reception });
  let change = await stream.next();
  while (!change.done && !change.value.tickets.some((x) => x.patientId === "p-2")) change = await stream.next();
  t.notOk(change.done, "the change arrives through the gateway");
  const before = [...a.ended, ...b.ended].filter((e) => e.procedure.endsWith("/WatchQueue")).length;
  ac.abort();
  await stream.return?.();
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && [...a.ended, ...b.ended].filter((e) => e.procedure.endsWith("/WatchQueue")).length === before) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const ended = [...a.ended, ...b.ended].filter((e) => e.procedure.endsWith("/WatchQueue"));
  t.equal(ended.length, before + 1, "the upstream stream ended");
  t.ok(["CANCELED", "OK"].includes(ended.at(-1)?.code ?? ""), `ended by the cancel (${ended.at(-1)?.code}), not by an error`);
});

t.test("auth is checked at the gateway, before anything is forwarded", async (t) => {
  const calls = () => a.seen.length + b.seen.length;
  const n = calls();
  const none = await connectJson(gw.url, `${QUEUE}/ListQueues`, {});
  t.equal(none.status, 401);
  t.equal(none.json.code, "unauthenticated");
  t.match(String(none.json.message), /missing token/);
  const forged = await signToken("another-secret-that-is-long-enough-0123456789", "mallory", ["admin"]);
  const bad = await connectJson(gw.url, `${QUEUE}/ListQueues`, {}, { authorization: `Bearer ${forged}` });
  t.equal(bad.json.code, "unauthenticated");
  const expired = await signToken(TEST_SECRET, "late", ["receptionist"], { ttlSeconds: -60 });
  const old = await connectJson(gw.url, `${QUEUE}/ListQueues`, {}, { authorization: `Bearer ${expired}` });
  t.equal(old.json.code, "unauthenticated");
  const patient = await connectJson(gw.url, "/medschedule.lock.v1.LockService/ListLocks", {}, await bearer(["patient"]));
  t.equal(patient.json.code, "permission_denied");
  t.equal(calls(), n, "none of these reached a service");
  const health = await connectJson(gw.url, "/grpc.health.v1.Health/Check", { service: "" });
  t.same(health.json, { status: "SERVING" }, "the gateway's own health needs no token");
  const grpcErr = await grpcQueue.listQueues({}).catch((e: unknown) => ConnectError.from(e));
  t.equal((grpcErr as ConnectError).code, Code.Unauthenticated, "gRPC callers too");
});

t.test("CORS for the configured origin only", async (t) => {
  const pre = await fetch(`${gw.url}${QUEUE}/ListQueues`, {
    method: "OPTIONS",
    headers: { origin: "http://clinic.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
  });
  t.equal(pre.status, 204);
  t.equal(pre.headers.get("access-control-allow-origin"), "http://clinic.example");
  t.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/);
  const other = await fetch(`${gw.url}${QUEUE}/ListQueues`, { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
  t.equal(other.headers.get("access-control-allow-origin"), null);
});

t.test("responses pass through undecoded to binary callers, byte for byte, and decoded to JSON callers", async (t) => {
  for (let i = 0; i < 5; i++) await grpcQueue.issueTicket({ requestId: `gw-pass-${i}`, queueId, patientId: `p-pass-${i}` }, { headers: reception });
  const direct = createGrpcJsTransport({ addresses: [a.address] });
  t.teardown(() => direct.close());
  const upstream = await createClient(QueueService, direct).listTickets({ queueId }, { headers: reception });
  t.ok(upstream.tickets.length >= 5, `${upstream.tickets.length} tickets upstream`);
  const bytes = (m: ListTicketsResponse) => Buffer.from(toBinary(ListTicketsResponseSchema, m)).toString("base64");

  // The mechanism: asked for it, the transport leaves every field undecoded and writes the same bytes.
  const raw = await direct.unary(QueueService.method.listTickets, undefined, 5_000, reception, { queueId }, createContextValues().set(undecodedResponseKey, true));
  t.equal(raw.message.tickets.length, 0, "undecoded: no ticket objects were made");
  t.equal(bytes(raw.message), bytes(upstream), "undecoded: the same bytes come out");

  // The gateway's pass-through asks for it by the caller's content type.
  const forwarding = createForwardingService(QueueService, { addresses: [a.address] });
  t.teardown(() => forwarding.close());
  const listTickets = (forwarding.impl as Record<string, (req: unknown, ctx: HandlerContext) => Promise<ListTicketsResponse>>).listTickets;
  const asCaller = (contentType: string) => {
    const ctx = testContext(QueueService.method.listTickets);
    ctx.requestHeader.set("authorization", reception.authorization);
    ctx.requestHeader.set("content-type", contentType);
    return ctx;
  };
  for (const binary of ["application/grpc", "application/grpc+proto", "application/grpc-web+proto", "application/proto"]) {
    t.equal((await listTickets({ queueId }, asCaller(binary))).tickets.length, 0, `${binary}: passed through undecoded`);
  }
  for (const decoded of ["application/json", "application/grpc+json", "application/grpc-web+json", ""]) {
    t.equal((await listTickets({ queueId }, asCaller(decoded))).tickets.length, upstream.tickets.length, `${decoded || "no content type (Connect GET)"}: decoded`);
  }

  // Through the gateway, for each protocol and format.
  t.equal(bytes(await grpcQueue.listTickets({ queueId }, { headers: reception })), bytes(upstream), "gRPC (grpc-js): the upstream's bytes");
  const web = createClient(QueueService, createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
  t.equal(bytes(await web.listTickets({ queueId }, { headers: reception })), bytes(upstream), "gRPC-web: the upstream's bytes");
  const connectProto = createClient(QueueService, createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1", useBinaryFormat: true }));
  t.equal(bytes(await connectProto.listTickets({ queueId }, { headers: reception })), bytes(upstream), "Connect proto: the upstream's bytes");
  const json = await connectJson(gw.url, `${QUEUE}/ListTickets`, { queueId }, reception);
  t.equal(json.status, 200);
  const tickets = (json.json.tickets ?? []) as { ticketId: string; number: string }[];
  t.same(
    tickets.map((x) => [x.ticketId, x.number]),
    upstream.tickets.map((x) => [x.ticketId, x.number]),
    "Connect JSON: every ticket, decoded",
  );
});

t.test("two replicas are both used", async (t) => {
  const beforeA = a.seen.length;
  const beforeB = b.seen.length;
  for (let i = 0; i < 8; i++) await grpcQueue.getQueue({ queueId }, { headers: reception });
  t.ok(a.seen.length - beforeA >= 3, `replica A served ${a.seen.length - beforeA} of 8`);
  t.ok(b.seen.length - beforeB >= 3, `replica B served ${b.seen.length - beforeB} of 8`);
});

t.test("rate limit per client: RESOURCE_EXHAUSTED past the budget, other clients unaffected", async (t) => {
  const limited = await startTestGateway(t, [a.address], { RATE_LIMIT_PER_MINUTE: "3" });
  const alice = await bearer(["receptionist"], "alice");
  const codes: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await connectJson(limited.url, `${QUEUE}/ListQueues`, {}, alice);
    codes.push(r.status === 200 ? "ok" : String(r.json.code));
  }
  t.same(codes, ["ok", "ok", "ok", "resource_exhausted"]);
  const last = await connectJson(limited.url, `${QUEUE}/ListQueues`, {}, alice);
  t.match(String(last.json.message), /at most 3 calls per minute.*retry in \d+ s/);
  const bob = await connectJson(limited.url, `${QUEUE}/ListQueues`, {}, await bearer(["receptionist"], "bob"));
  t.equal(bob.status, 200, "another subject has its own budget");
  for (let i = 0; i < 5; i++) {
    const h = await connectJson(limited.url, "/grpc.health.v1.Health/Check", { service: "" });
    t.equal(h.status, 200, "health is never limited");
  }
});

t.test("rate limit for callers without a valid token: by remote address, refused before a service sees them", async (t) => {
  const limited = await startTestGateway(t, [a.address], { RATE_LIMIT_PER_MINUTE: "3" });
  const calls = () => a.seen.length;
  const n = calls();
  const forged = { authorization: `Bearer ${await signToken("another-secret-that-is-long-enough-0123456789", "mallory", ["admin"])}` };
  const codes: string[] = [];
  for (const headers of [{}, forged, await bearer(["patient"], "pat")]) {
    codes.push(String((await connectJson(limited.url, "/medschedule.lock.v1.LockService/ListLocks", {}, headers)).json.code));
  }
  t.same(codes, ["unauthenticated", "unauthenticated", "permission_denied"], "within the address's budget: the real answer");
  const past = await connectJson(limited.url, `${QUEUE}/ListQueues`, {}, forged);
  t.equal(past.json.code, "resource_exhausted", "past it: refused");
  t.match(String(past.json.message), /at most 3 calls per minute from this address without a valid token; retry in \d+ s/);
  const grpcErr = await createClient(QueueService, createGrpcJsTransport({ addresses: [`127.0.0.1:${limited.server.port}`] }))
    .listQueues({})
    .catch((e: unknown) => ConnectError.from(e));
  t.equal((grpcErr as ConnectError).code, Code.ResourceExhausted, "gRPC callers without a token too");
  t.equal(calls(), n, "none of these reached a service");
  const alice = await connectJson(limited.url, `${QUEUE}/ListQueues`, {}, await bearer(["receptionist"], "alice-2"));
  t.equal(alice.status, 200, "a valid token from the same address is not refused");
  const h = await connectJson(limited.url, "/grpc.health.v1.Health/Check", { service: "" });
  t.equal(h.status, 200, "health is not limited");
});

t.test("an upstream that is down answers UNAVAILABLE at once", async (t) => {
  const dead = await freePort();
  const down = await startTestGateway(t, [`127.0.0.1:${dead}`]);
  const client = createClient(QueueService, createGrpcWebTransport({ baseUrl: down.url, httpVersion: "1.1" }));
  const started = Date.now();
  const err = await client.listQueues({}, { headers: reception, timeoutMs: 5_000 }).catch((e: unknown) => ConnectError.from(e));
  t.equal((err as ConnectError).code, Code.Unavailable);
  t.ok(Date.now() - started < 2_000, `in ${Date.now() - started} ms, within the 5 s deadline`);
  const noDeadline = Date.now();
  const r = await connectJson(down.url, `${QUEUE}/ListQueues`, {}, reception);
  t.equal(r.json.code, "unavailable", "also without a caller deadline");
  t.ok(Date.now() - noDeadline < 2_000);
});

t.test("an upstream killed mid-call: UNAVAILABLE within the deadline, and the next call too", async (t) => {
  const c = await startUpstream(t, [queueModule, lockModule], databaseUrl);
  const only = await startTestGateway(t, [c.address]);
  const admin = await bearer(["admin"]);
  const lock = createClient(LockService, createGrpcWebTransport({ baseUrl: only.url, httpVersion: "1.1" }));
  const held = await lock.acquire({ resource: "gw/kill", owner: "holder", ttl: { seconds: 30n } }, { headers: admin });
  t.ok(held.lease);
  const started = Date.now();
  const pending = lock
    .acquire({ resource: "gw/kill", owner: "waiter", ttl: { seconds: 30n }, waitTimeout: { seconds: 20n } }, { headers: admin, timeoutMs: 10_000 })
    .catch((e: unknown) => ConnectError.from(e));
  await new Promise((r) => setTimeout(r, 400));
  c.grpc.server.forceShutdown();
  const err = await pending;
  const ms = Date.now() - started;
  t.equal((err as ConnectError).code, Code.Unavailable, `mid-call: ${(err as ConnectError).rawMessage}`);
  t.ok(ms < 3_000, `answered ${ms} ms after the call started (deadline 10 s)`);
  const again = Date.now();
  const next = await lock.listLocks({}, { headers: admin, timeoutMs: 10_000 }).catch((e: unknown) => ConnectError.from(e));
  t.equal((next as ConnectError).code, Code.Unavailable, "the next call");
  t.ok(Date.now() - again < 2_000, `in ${Date.now() - again} ms`);
});
