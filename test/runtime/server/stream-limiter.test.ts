// The stream limits (GATEWAY_MAX_STREAMS, GATEWAY_MAX_STREAMS_PER_CLIENT) try to break: one caller
// must not hold more than its share of watches, all callers together no more than the total, callers
// with the service role must always find a place, a refused stream answers at once with
// RESOURCE_EXHAUSTED and ErrorInfo TOO_MANY_STREAMS, and a stream frees its place however it ends
// (finished, failed, closed by the client, aborted); callers without a token are counted per
// connection, never per address. And what an open or closed stream keeps: no
// listener left on the server's drain signal per stream, no last message kept by a quiet stream.
import t from "tap";
import { getEventListeners } from "node:events";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health } from "../../../gen/health/v1/health_pb.js";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import type { Principal } from "../../../services/runtime/auth/principal.js";
import { ConfigError, defaultMaxStreams, DEFAULT_MAX_STREAMS_PER_CLIENT, loadConfig } from "../../../services/runtime/config.js";
import { toConnectError } from "../../../services/runtime/errors.js";
import { CLIENT_CONNECTION_HEADER, CONNECTION_HEADER, PEER_HEADER } from "../../../services/runtime/server/connection-headers.js";
import { drainSignalKey, wrapService } from "../../../services/runtime/server/interceptors.js";
import { createStreamLimitInterceptor, serviceShare, STREAMS_REASON, type StreamLimiter } from "../../../services/runtime/server/stream-limiter.js";
import { testContext } from "../../helpers/handler-context.js";

type Fn = (req: unknown, ctx: unknown) => unknown;

const person = (subject: string, role = "display"): Principal => ({ subject, roles: [role] as never, grantedRole: role as never, ownOnly: false });
const SERVICE = person("medschedule-scheduling", "service");

/** watchService serves WatchQueue streams that stay open until their gate opens, and a unary call. */
function watchService(limiter: StreamLimiter) {
  const gates = new Set<() => void>();
  const impl = {
    async *watchQueue(req: { fail?: boolean }, ctx: { signal: AbortSignal }) {
      yield { sequence: 1n, snapshot: true };
      await new Promise<void>((resolve) => {
        gates.add(resolve);
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      if (req.fail) throw new ConnectError("the queue went away", Code.NotFound);
    },
    listQueues: async () => ({}),
  };
  const svc = wrapService(QueueService, impl as never, [limiter]) as unknown as Record<string, Fn>;
  return {
    /** watch opens a stream for `principal` (none: a tokenless caller on `connection`) and reads its first message or refusal. */
    async watch(principal: Principal | undefined, opts: { connection?: string; clientConnection?: string; fail?: boolean; signal?: AbortSignal } = {}) {
      const ctx = testContext(QueueService.method.watchQueue, { principal, signal: opts.signal });
      ctx.requestHeader.set(CONNECTION_HEADER, opts.connection ?? "10.0.0.1:4000");
      if (opts.clientConnection) ctx.requestHeader.set(CLIENT_CONNECTION_HEADER, opts.clientConnection);
      const it = (svc.watchQueue({ fail: opts.fail }, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      try {
        await it.next();
        return { ok: true as const, it };
      } catch (err) {
        return { ok: false as const, error: ConnectError.from(err) };
      }
    },
    unary: (principal: Principal) => svc.listQueues({}, testContext(QueueService.method.listQueues, { principal })) as Promise<unknown>,
    /** finish ends every open stream's wait (they then end normally, or fail when asked to). */
    finish: () => {
      for (const g of gates) g();
      gates.clear();
    },
  };
}

t.test("one caller is held to its share; others and unary calls go on", async (t) => {
  const limiter = createStreamLimitInterceptor({ max: 100, perClient: 3 });
  const s = watchService(limiter);
  const mine = await Promise.all([1, 2, 3].map(() => s.watch(person("board-1"))));
  t.ok(mine.every((w) => w.ok), "three streams open");
  const fourth = await s.watch(person("board-1"));
  t.equal(fourth.ok, false, "the fourth is refused");
  if (!fourth.ok) {
    t.equal(fourth.error.code, Code.ResourceExhausted);
    t.match(fourth.error.rawMessage, /at most 3 at once/);
    const info = toConnectError(fourth.error).findDetails(ErrorInfoSchema)[0];
    t.equal(info?.reason, STREAMS_REASON, "ErrorInfo says why");
    t.same(info?.metadata, { scope: "caller", limit: "3" });
  }
  t.ok((await s.watch(person("board-2"))).ok, "another caller still opens one");
  t.ok((await s.watch(person("board-1", "patient"))).ok === false, "the same subject under another role is the same caller");
  await t.resolves(s.unary(person("board-1")), "unary calls are not counted");
  t.equal(limiter.open(), 4);
  t.equal(limiter.openFor("sub:board-1"), 3);
});

t.test("the total bound, with a share kept for the service role", async (t) => {
  t.equal(serviceShare(320), 40);
  const limiter = createStreamLimitInterceptor({ max: 16, perClient: 4 });
  const s = watchService(limiter);
  const users = await Promise.all(Array.from({ length: 20 }, (_, i) => s.watch(person(`patient-${i % 5}`, "patient"))));
  t.equal(users.filter((w) => w.ok).length, 14, "users fill the total less the service share (16 - 2)");
  const refused = users.find((w) => !w.ok);
  if (refused && !refused.ok) t.same(toConnectError(refused.error).findDetails(ErrorInfoSchema)[0]?.metadata, { scope: "server", limit: "14" });
  const services = await Promise.all(Array.from({ length: 3 }, () => s.watch(SERVICE)));
  t.same(services.map((w) => w.ok), [true, true, false], "the service role has no per-caller bound, and the total holds for it too");
  t.equal(limiter.open(), 16);
});

t.test("a stream frees its place however it ends", async (t) => {
  const limiter = createStreamLimitInterceptor({ max: 0, perClient: 1 });
  const s = watchService(limiter);
  const next = () => s.watch(person("desk"));

  /** end lets an open stream's wait end and returns what its next read gives. */
  const end = async (w: Awaited<ReturnType<typeof next>>) => {
    if (!w.ok) throw new Error("not open");
    const read = w.it.next();
    await new Promise((r) => setImmediate(r));
    s.finish();
    return read;
  };
  const finished = await next();
  t.notOk((await next()).ok, "one at a time");
  t.same(await end(finished), { done: true, value: undefined });
  t.equal(limiter.open(), 0, "a stream that ended frees its place");

  const failing = await s.watch(person("desk"), { fail: true });
  await t.rejects(end(failing), { code: Code.NotFound });
  t.equal(limiter.open(), 0, "so does one that failed");

  const closed = await next();
  if (closed.ok) await closed.it.return?.();
  t.equal(limiter.open(), 0, "and one the client closed");

  const ac = new AbortController();
  const aborted = await s.watch(person("desk"), { signal: ac.signal });
  t.ok(aborted.ok);
  ac.abort(new ConnectError("the client went away", Code.Canceled));
  t.equal(limiter.open(), 0, "and one whose call was aborted, even if nobody reads it any more");
  t.ok((await next()).ok, "the caller opens a stream again");
});

t.test("without a token the caller is the connection; AUTH_MODE=off's anonymous caller the client's connection to the gateway", async (t) => {
  const limiter = createStreamLimitInterceptor({ max: 0, perClient: 2 });
  const health = wrapService(
    Health,
    {
      async *watch() {
        yield { status: 1 };
        await new Promise(() => undefined);
      },
    } as never,
    [limiter],
  ) as unknown as Record<string, Fn>;
  const watch = async (connection: string, claimed?: string) => {
    const ctx = testContext(Health.method.watch);
    ctx.requestHeader.set(PEER_HEADER, connection.replace(/:\d+$/, ""));
    ctx.requestHeader.set(CONNECTION_HEADER, connection);
    if (claimed) ctx.requestHeader.set(CLIENT_CONNECTION_HEADER, claimed);
    const it = (health.watch({ service: "" }, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    return it.next().then(
      () => "ok",
      (e: unknown) => ConnectError.from(e).code,
    );
  };
  t.same(
    await Promise.all(["10.0.0.7:4001", "10.0.0.7:4001", "10.0.0.7:4001", "10.0.0.7:4002", "10.0.0.8:4001"].map((c) => watch(c))),
    ["ok", "ok", Code.ResourceExhausted, "ok", "ok"],
    "two per connection; another connection from the same address (a clinic behind NAT) has its own",
  );
  t.equal(limiter.openFor("conn:10.0.0.7:4001"), 2);
  t.same(await Promise.all(["a", "b"].map((claimed) => watch("10.0.0.7:4001", claimed))), [Code.ResourceExhausted, Code.ResourceExhausted], "a tokenless caller cannot claim another connection");

  const s = watchService(limiter);
  const anonymous = { ...SERVICE, subject: "anonymous", roles: ["admin", "service"] } as Principal;
  const viaGateway = (client: string) => s.watch(anonymous, { connection: "10.0.0.2:5000", clientConnection: client });
  t.same((await Promise.all(["c1", "c1", "c1", "c2", "c2"].map(viaGateway))).map((w) => w.ok), [true, true, false, true, true], "AUTH_MODE=off through the gateway: two per client connection");
  t.same((await Promise.all([1, 2, 3].map(() => s.watch(anonymous, { connection: "10.0.0.9:6000" })))).map((w) => w.ok), [true, true, false], "and two per own connection without one");
});

t.test("GATEWAY_MAX_STREAMS and GATEWAY_MAX_STREAMS_PER_CLIENT", async (t) => {
  const env = { AUTH_HS256_SECRET: "x".repeat(40) };
  const config = loadConfig(env, { port: 0 });
  t.equal(config.maxStreamsPerClient, DEFAULT_MAX_STREAMS_PER_CLIENT);
  t.equal(config.maxStreams, defaultMaxStreams(v8.getHeapStatistics().heap_size_limit), "the total follows this process's heap limit");
  t.equal(defaultMaxStreams(136 * 2 ** 20), 290, "npm run cluster's 112 MB heap (136 MiB with the young generation)");
  t.equal(defaultMaxStreams(120 * 2 ** 20), 256, "a 96 MB heap");
  t.equal(defaultMaxStreams(304 * 2 ** 20), 648, "the Deployments' 256 MB");
  t.equal(defaultMaxStreams(16 * 2 ** 30), 4000, "capped");
  t.equal(defaultMaxStreams(8 * 2 ** 20), 64, "never fewer than 64");
  const set = loadConfig({ ...env, GATEWAY_MAX_STREAMS: "200", GATEWAY_MAX_STREAMS_PER_CLIENT: "0" }, { port: 0 });
  t.same([set.maxStreams, set.maxStreamsPerClient], [200, 0]);
  t.throws(() => loadConfig({ ...env, GATEWAY_MAX_STREAMS: "lots" }, { port: 0 }), ConfigError);
  t.throws(() => loadConfig({ ...env, GATEWAY_MAX_STREAMS_PER_CLIENT: "-1" }, { port: 0 }), ConfigError);
});

t.test("streams leave nothing on the server's drain signal, and still end with UNAVAILABLE when it drains", async (t) => {
  const drain = new AbortController();
  let release!: () => void;
  const quiet = new Promise<void>((r) => (release = r));
  const svc = wrapService(
    QueueService,
    {
      async *watchQueue() {
        yield { sequence: 1n };
        await quiet;
        yield { sequence: 2n };
      },
    } as never,
    [],
  ) as unknown as Record<string, Fn>;
  const open = () => {
    const ctx = testContext(QueueService.method.watchQueue);
    ctx.values.set(drainSignalKey, drain.signal);
    return (svc.watchQueue({}, ctx) as AsyncIterable<{ sequence: bigint }>)[Symbol.asyncIterator]();
  };
  const finished = Array.from({ length: 50 }, open);
  for (const it of finished) await it.next();
  const waiting = finished.map((it) => it.next());
  release();
  for (const p of waiting) t.equal((await p).value?.sequence, 2n);
  for (const it of finished) t.same(await it.next(), { done: true, value: undefined });
  t.ok(getEventListeners(drain.signal, "abort").length <= 1, `50 finished streams left ${getEventListeners(drain.signal, "abort").length} listener(s) on the drain signal`);

  let forever!: Promise<void>;
  const idle = wrapService(
    QueueService,
    {
      async *watchQueue() {
        yield { sequence: 1n };
        await (forever ??= new Promise<void>(() => undefined));
      },
    } as never,
    [],
  ) as unknown as Record<string, Fn>;
  const ctx = testContext(QueueService.method.watchQueue);
  ctx.values.set(drainSignalKey, drain.signal);
  const it = (idle.watchQueue({}, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  await it.next();
  const next = it.next();
  drain.abort();
  await t.rejects(next, { code: Code.Unavailable }, "a quiet stream ends with UNAVAILABLE when the server drains");
});

t.test("a quiet stream does not keep the message it sent last", async (t) => {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  let sent: WeakRef<object> | undefined;
  const snapshot = () => {
    const message = { sequence: 1n, snapshot: true, tickets: Array.from({ length: 1000 }, (_, i) => ({ ticketId: `t-${i}` })) };
    sent = new WeakRef(message);
    return message;
  };
  const svc = wrapService(
    QueueService,
    {
      async *watchQueue() {
        yield snapshot();
        await new Promise(() => undefined);
      },
    } as never,
    [],
  ) as unknown as Record<string, Fn>;
  const ctx = testContext(QueueService.method.watchQueue);
  ctx.values.set(drainSignalKey, new AbortController().signal);
  const it = (svc.watchQueue({}, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  t.equal((await it.next()).done, false, "the snapshot came");
  void it.next(); // the board waits for the next change
  for (let i = 0; i < 5 && sent?.deref(); i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
  t.equal(sent?.deref(), undefined, "once sent, the snapshot is garbage");
});
