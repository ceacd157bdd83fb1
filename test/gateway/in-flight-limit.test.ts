// The gateway's in-flight bound: past GATEWAY_MAX_IN_FLIGHT unary calls in progress, the next is
// refused at once with RESOURCE_EXHAUSTED (nothing queues); a finished call frees its place, failed
// ones too; streams, health and service callers are not counted.
import t from "tap";
import { Code, ConnectError } from "@connectrpc/connect";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { createInFlightLimitInterceptor } from "../../gateway/rate-limit.js";
import { ConfigError, loadConfig } from "../../services/runtime/config.js";
import { wrapService } from "../../services/runtime/server/interceptors.js";
import { testContext } from "../helpers/handler-context.js";

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => ConnectError.from(e).code);

t.test("refuses past the bound, frees places as calls end", async (t) => {
  const limit = createInFlightLimitInterceptor({ max: 2 });
  const gates = new Map<string, () => void>();
  const gate = (label: string) => new Promise<void>((resolve) => gates.set(label, resolve));
  const open = async (label: string) => {
    for (let i = 0; i < 100 && !gates.has(label); i++) await new Promise((r) => setImmediate(r));
    gates.get(label)!();
  };
  const impl = {
    listQueues: async (req: { label: string }) => {
      await gate(req.label);
      return {};
    },
    getTicket: async () => {
      throw new ConnectError("no such ticket", Code.NotFound);
    },
    async *watchQueue(req: { label: string }) {
      await gate(req.label);
    },
  };
  const svc = wrapService(QueueService, impl as never, [limit]) as unknown as Record<string, (req: unknown, ctx: unknown) => unknown>;
  const service = { subject: "svc", roles: ["service"], grantedRole: "service", ownOnly: false } as never;
  const call = (name: keyof typeof QueueService.method, label = "", asService = false) =>
    svc[name]({ label }, testContext(QueueService.method[name], asService ? { principal: service } : {}));
  const unary = (label: string, asService = false) => codeOf(call("listQueues", label, asService) as Promise<unknown>);

  // A stream in progress does not take a place.
  const stream = (call("watchQueue", "stream") as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
  const a = unary("a");
  const b = unary("b");
  await new Promise((r) => setImmediate(r));
  t.equal(limit.inFlight(), 2);
  t.equal(await unary("c"), Code.ResourceExhausted, "the third is refused at once");
  const bySvc = unary("svc", true);
  await new Promise((r) => setImmediate(r));
  t.equal(limit.inFlight(), 2, "a service caller is not counted (nor refused)");
  await open("stream");
  await stream;
  await open("a");
  t.equal(await a, "ok");
  t.equal(limit.inFlight(), 1, "a finished call frees its place");
  t.equal(await codeOf(call("getTicket") as Promise<unknown>), Code.NotFound, "a call that fails is answered normally...");
  t.equal(limit.inFlight(), 1, "...and frees its place too");
  const d = unary("d");
  await new Promise((r) => setImmediate(r));
  t.equal(limit.inFlight(), 2);
  for (const label of ["b", "d", "svc"]) await open(label);
  t.same(await Promise.all([b, d, bySvc]), ["ok", "ok", "ok"]);
  t.equal(limit.inFlight(), 0);
});

t.test("health is never refused; 0 disables the bound", async (t) => {
  const limit = createInFlightLimitInterceptor({ max: 1 });
  let release!: () => void;
  const svc = wrapService(QueueService, { listQueues: () => new Promise((r) => (release = () => r({}))) } as never, [limit]) as unknown as Record<string, (req: unknown, ctx: unknown) => Promise<unknown>>;
  const busy = svc.listQueues({}, testContext(QueueService.method.listQueues));
  const health = wrapService(Health, { check: async () => ({ status: 1 }) } as never, [limit]) as unknown as Record<string, (req: unknown, ctx: unknown) => Promise<unknown>>;
  t.equal(await codeOf(health.check({}, testContext(Health.method.check))), "ok");
  release();
  await busy;
  const off = createInFlightLimitInterceptor({ max: 0 });
  const free = wrapService(QueueService, { listQueues: async () => ({}) } as never, [off]) as unknown as Record<string, (req: unknown, ctx: unknown) => Promise<unknown>>;
  t.same(await Promise.all(Array.from({ length: 50 }, () => codeOf(free.listQueues({}, testContext(QueueService.method.listQueues))))), Array(50).fill("ok"));
});

t.test("GATEWAY_MAX_IN_FLIGHT: default 128, a whole number", async (t) => {
  const env = { AUTH_HS256_SECRET: "x".repeat(40) };
  t.equal(loadConfig(env, { port: 0 }).maxInFlight, 128);
  t.equal(loadConfig({ ...env, GATEWAY_MAX_IN_FLIGHT: "0" }, { port: 0 }).maxInFlight, 0);
  t.throws(() => loadConfig({ ...env, GATEWAY_MAX_IN_FLIGHT: "lots" }, { port: 0 }), ConfigError);
});
