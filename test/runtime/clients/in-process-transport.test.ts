// The in-process transport (peers' path to a service mounted in the same process): the callee's
// interceptors see the caller's token, answers and errors arrive as over a wire, deadlines end the
// call with DEADLINE_EXCEEDED and abort the handler, a caller that gives up gets CANCELED.
import t from "tap";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { InvalidArgumentError, NotFoundError } from "../../../services/runtime/errors.js";
import { HealthServiceImpl } from "../../../services/runtime/server/health.js";
import { buildRegistrations } from "../../../services/runtime/host.js";
import { createInProcessTransport } from "../../../services/runtime/clients/in-process-transport.js";
import type { RpcInterceptor } from "../../../services/runtime/server/interceptors.js";

const seen: { authorization?: string | null; requestId?: string | null; aborted?: unknown } = {};
const recordHeaders: RpcInterceptor = {
  before(call) {
    seen.authorization = call.ctx.requestHeader.get("authorization");
    seen.requestId = call.ctx.requestHeader.get("x-request-id");
  },
};
const impl = {
  async acquire() {
    return { lease: { resource: "r", leaseId: "l-1", fencingToken: 7n } };
  },
  release(): never {
    throw new NotFoundError("lease", "l-404");
  },
  listLocks(): never {
    throw new InvalidArgumentError([{ field: "pageSize", description: "must be at most 500" }]);
  },
  async extend(_req: unknown, ctx: HandlerContext) {
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    seen.aborted = ctx.signal.reason;
    return {};
  },
};
const [reg] = buildRegistrations([{ service: LockService, impl }], [recordHeaders], new HealthServiceImpl());
const client = createClient(LockService, createInProcessTransport(reg, () => ({ authorization: "Bearer svc-token" })));

t.test("answers, with the caller's token and headers", async (t) => {
  const res = await client.acquire({ resource: "r" }, { headers: { "x-request-id": "9b1f0c2e-7a6d-4e5f-8a9b-1c2d3e4f5a6b" } });
  t.equal(res.lease?.leaseId, "l-1");
  t.equal(res.lease?.fencingToken, 7n);
  t.equal(seen.authorization, "Bearer svc-token", "the service token reached the callee's interceptors");
  t.equal(seen.requestId, "9b1f0c2e-7a6d-4e5f-8a9b-1c2d3e4f5a6b");
  await client.acquire({}, { headers: { authorization: "Bearer end-user" } });
  t.equal(seen.authorization, "Bearer end-user", "a caller's own authorization wins");
});

t.test("errors keep their code, message and details", async (t) => {
  const err = await client.release({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
  t.equal(err?.code, Code.NotFound);
  t.equal(err?.rawMessage, "this lease does not exist or is not yours to see; refresh the list");
  t.same(err?.findDetails(ErrorInfoSchema)[0]?.metadata, { leaseId: "l-404" });
  const bad = await client.listLocks({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
  t.equal(bad?.code, Code.InvalidArgument);
  t.same(bad?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field), ["pageSize"], "with its field violations");
  const missing = await client.forceRelease({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
  t.equal(missing?.code, Code.Unimplemented, "a method the class lacks is UNIMPLEMENTED");
});

t.test("a deadline ends the call and aborts the handler", async (t) => {
  seen.aborted = undefined;
  const started = Date.now();
  const err = await client.extend({}, { timeoutMs: 200 }).then(() => undefined, (e: unknown) => ConnectError.from(e));
  t.equal(err?.code, Code.DeadlineExceeded);
  t.ok(Date.now() - started < 1_000, "promptly");
  await new Promise((r) => setTimeout(r, 20));
  t.equal(ConnectError.from(seen.aborted).code, Code.DeadlineExceeded, "the handler's signal aborted with the deadline");
});

t.test("a caller that gives up gets CANCELED and the handler is aborted", async (t) => {
  seen.aborted = undefined;
  const leave = new AbortController();
  setTimeout(() => leave.abort(), 100);
  const err = await client.extend({}, { signal: leave.signal }).then(() => undefined, (e: unknown) => ConnectError.from(e));
  t.equal(err?.code, Code.Canceled);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(ConnectError.from(seen.aborted).code, Code.Canceled);
});
