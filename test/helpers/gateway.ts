// Test helpers for the gateway: upstream service processes (serveGrpc over a real Postgres, as
// `node dist/services/<name>/main.js` runs them, but in this process) and a distributed gateway
// forwarding to them.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ServiceModule } from "../../services/runtime/service-module.js";
import { loadConfig } from "../../services/runtime/config.js";
import type { ConnectServerHandle } from "../../services/runtime/server/connect-server.js";
import { serveGrpc, type GrpcServerHandle } from "../../services/runtime/server/grpc-server.js";
import { createRuntime, type Runtime } from "../../services/runtime/host.js";
import type { RpcCall, RpcInterceptor } from "../../services/runtime/server/interceptors.js";
import { createLogger, type Logger } from "../../services/runtime/observability/logger.js";
import { codeName } from "../../services/runtime/observability/metrics.js";
import { createDistributedGateway, startGateway, type DistributedGateway } from "../../gateway/gateway.js";
import { PhiWatch } from "./phi-watch.js";
import { TEST_KEYS_ENV, TEST_PAGE_TOKEN_SECRET, TEST_SECRET } from "./system.js";

/** TeardownHost is the part of a tap test the helpers use. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/** SeenCall is what an upstream saw of one call (headers that must travel through the gateway). */
export interface SeenCall {
  /** procedure called. */
  procedure: string;
  /** authorization header as received. */
  authorization: string | null;
  /** x-request-id as received. */
  requestId: string | null;
  /** traceparent as received. */
  traceparent: string | null;
  /** timeoutMs left when the upstream got the call. */
  timeoutMs: number | undefined;
}

/** Upstream is one service process: a runtime served by serveGrpc. */
export interface Upstream {
  /** runtime of the process. */
  runtime: Runtime;
  /** grpc is its grpc-js server. */
  grpc: GrpcServerHandle;
  /** address is "127.0.0.1:port". */
  address: string;
  /** seen lists the calls it received. */
  seen: SeenCall[];
  /** ended lists the calls that ended, with their code name ("OK", "CANCELED", ...). */
  ended: { procedure: string; code: string }[];
}

function recorder(seen: SeenCall[], ended: Upstream["ended"]): RpcInterceptor {
  return {
    after(call: RpcCall, error) {
      ended.push({ procedure: call.procedure, code: codeName(error?.code) });
    },
    before(call: RpcCall) {
      const h = call.ctx.requestHeader;
      seen.push({
        procedure: call.procedure,
        authorization: h.get("authorization"),
        requestId: h.get("x-request-id"),
        traceparent: h.get("traceparent"),
        timeoutMs: call.ctx.timeoutMs(),
      });
    },
  };
}

/** startUpstream starts `modules` as one service process on a free port over `databaseUrl`. */
export async function startUpstream(t: TeardownHost, modules: ServiceModule[], databaseUrl: string, env: Record<string, string> = {}): Promise<Upstream> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-upstream-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const seen: SeenCall[] = [];
  const ended: Upstream["ended"] = [];
  // Logs into memory, failing the test if patient data it sent reached them (phi-watch.ts).
  const watch = process.env.TEST_LOG_LEVEL ? undefined : new PhiWatch();
  if (watch) t.teardown(() => watch.check());
  const runtime = await createRuntime({
    name: "upstream",
    modules,
    defaultPort: 0,
    env: { AUTH_HS256_SECRET: TEST_SECRET, PAGE_TOKEN_SECRET: TEST_PAGE_TOKEN_SECRET, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent", METRICS_PORT: "0", DATA_DIR: dataDir, DATABASE_URL: databaseUrl, ...TEST_KEYS_ENV, ...env },
    logger: watch?.logger,
    extraInterceptors: [recorder(seen, ended), ...(watch ? [watch.interceptor] : [])],
  });
  t.teardown(() => runtime.close());
  await runtime.ready;
  const grpc = await serveGrpc({ port: 0, host: "127.0.0.1", services: runtime.registrations });
  t.teardown(() => grpc.close(100));
  return { runtime, grpc, address: `127.0.0.1:${grpc.port}`, seen, ended };
}

/** TestGateway is a distributed gateway on a free port. */
export interface TestGateway {
  /** gateway holds the forwarding services. */
  gateway: DistributedGateway;
  /** server is its connect-node server. */
  server: ConnectServerHandle;
  /** url is "http://127.0.0.1:port". */
  url: string;
}

/** startTestGateway starts a forwarding gateway; `addresses` apply to every service unless `env` overrides them; `logger` gets its lines. */
export async function startTestGateway(
  t: TeardownHost,
  addresses: string[],
  env: Record<string, string> = {},
  opts: { defaultUnaryTimeoutMs?: number; webRoot?: string; logger?: Logger } = {},
): Promise<TestGateway> {
  const list = addresses.join(",");
  const config = loadConfig(
    {
      AUTH_HS256_SECRET: TEST_SECRET,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
      SCHEDULING_ADDR: list,
      QUEUE_ADDR: list,
      LOCK_ADDR: list,
      BACKUP_ADDR: list,
      PATIENT_ADDR: list,
      RATE_LIMIT_PER_MINUTE: "0",
      ...env,
    },
    { port: 0 },
  );
  const logger = opts.logger ?? createLogger({ level: config.logLevel, name: "gateway-test" });
  const gateway = createDistributedGateway(config, logger, { defaultUnaryTimeoutMs: opts.defaultUnaryTimeoutMs });
  const server = await startGateway({ config, logger, registrations: gateway.registrations, webRoot: opts.webRoot }, 0);
  t.teardown(async () => {
    await server.close(100);
    gateway.close();
  });
  return { gateway, server, url: `http://127.0.0.1:${server.port}` };
}
