// The test system: every service module in one runtime with its grpc-js and Connect servers on
// ephemeral ports, over a fresh Postgres database (or PGlite), and tokens signed with the test secret.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { backupModule } from "../../services/backup/backup.module.js";
import { lockModule } from "../../services/lock/lock.module.js";
import { patientModule } from "../../services/patient/patient.module.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { serveConnect, type ConnectServerHandle } from "../../services/runtime/server/connect-server.js";
import { serveGrpc, type GrpcServerHandle } from "../../services/runtime/server/grpc-server.js";
import { createRuntime, type Runtime } from "../../services/runtime/host.js";
import type { Logger } from "../../services/runtime/observability/logger.js";
import { metricsRoute } from "../../gateway/gateway.js";
import { PhiWatch } from "./phi-watch.js";
import { createTestDatabase } from "./postgres.js";

/** TEST_SECRET signs the tokens of tests. */
export const TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";

/** TEST_PAGE_TOKEN_SECRET seals the page tokens of test processes (one secret, as every replica of a deployment shares one). */
export const TEST_PAGE_TOKEN_SECRET = "test-page-token-secret-shared-by-every-replica-0123456789";

/** ALL_MODULES are the five services. */
export const ALL_MODULES = [schedulingModule, queueModule, lockModule, backupModule, patientModule];

/**
 * TEST_KEYS_ENV are the data keys of test processes (synthetic data only): the patient records' and
 * the appointment reasons' encryption keys and the blind-index key. PATIENT_CHECK is off so that the
 * tests of other things may book for made-up patient ids; the patient tests turn it on.
 */
export const TEST_KEYS_ENV: Readonly<Record<string, string>> = {
  PATIENT_ENCRYPTION_KEYS: `t1:${Buffer.alloc(32, 1).toString("base64")}`,
  PATIENT_INDEX_KEY: Buffer.alloc(32, 2).toString("base64"),
  SCHEDULING_ENCRYPTION_KEYS: `s1:${Buffer.alloc(32, 3).toString("base64")}`,
  PATIENT_CHECK: "off",
};

/** TestSystem is the four services on both servers, sharing one runtime and one fresh database. */
export interface TestSystem {
  /** runtime holds config, database, health and the wrapped services. */
  runtime: Runtime;
  /** grpc is the grpc-js server (serveGrpc). */
  grpc: GrpcServerHandle;
  /** connect is the connect-node server (serveConnect). */
  connect: ConnectServerHandle;
  /** watch is the system's patient-data guard (phi-watch.ts), when it logs into memory. */
  watch?: PhiWatch;
  /** token signs a token for roles and a subject with the test secret (with a `locations` claim when given). */
  token(roles: Role[], subject?: string, opts?: { ttlSeconds?: number; locations?: string[] }): Promise<string>;
}

/** startTestSystem starts both servers on ephemeral ports over a fresh Postgres database (or PGlite with `embedded`); `logger` gets every line, the servers' and the services'. */
export async function startTestSystem(
  t: { teardown(fn: () => unknown): void },
  opts: { embedded?: boolean; env?: Record<string, string>; logger?: Logger } = {},
): Promise<TestSystem> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-test-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    AUTH_HS256_SECRET: TEST_SECRET,
    PAGE_TOKEN_SECRET: TEST_PAGE_TOKEN_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    METRICS_PORT: "0",
    DATA_DIR: dataDir,
    ...TEST_KEYS_ENV,
    ...(opts.embedded ? {} : { DATABASE_URL: await createTestDatabase(t) }),
    ...opts.env,
  };
  // Without a logger of the test's own, the system logs at debug level into memory, and the test fails
  // if any patient data it sent reached a log line (phi-watch.ts).
  const watch = opts.logger || process.env.TEST_LOG_LEVEL ? undefined : new PhiWatch();
  if (watch) t.teardown(() => watch.check());
  const logger = opts.logger ?? watch?.logger;
  const runtime = await createRuntime({ name: "test", modules: ALL_MODULES, defaultPort: 0, env, logger, extraInterceptors: watch ? [watch.interceptor] : [] });
  t.teardown(() => runtime.close());
  // Listening first, as the real processes do: while the database warms up (PGlite's WebAssembly
  // start-up holds no event-loop handle) the servers keep the loop alive. Without them the loop could
  // run empty mid-start-up under load, and tap ends the root test on 'beforeExit'.
  const grpc = await serveGrpc({ port: 0, host: "127.0.0.1", services: runtime.registrations, logger });
  const connect = await serveConnect({ port: 0, host: "127.0.0.1", services: runtime.registrations, httpRoutes: [metricsRoute], logger, connections: runtime.config.gatewayConnections });
  t.teardown(async () => {
    await Promise.all([grpc.close(200), connect.close(200)]);
  });
  await runtime.ready;
  return {
    runtime,
    grpc,
    connect,
    watch,
    token: (roles, subject = `test-${roles.join("-")}`, o) => signToken(TEST_SECRET, subject, roles, o),
  };
}
