import path from "node:path";
import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { createAuthInterceptor } from "./auth/auth-interceptor.js";
import { ensureDevAuth, signToken } from "./auth/dev-tokens.js";
import { createTokenVerifier } from "./auth/jwt.js";
import { systemClock } from "./clock.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { UnavailableError } from "./errors.js";
import { createDatabase, migrateToLatest, type DatabaseConnection } from "./db/index.js";
import { loadDescriptorFiles } from "./server/descriptors.js";
import { HealthServiceImpl, ServingStatus } from "./server/health.js";
import { wrapService, type RpcInterceptor } from "./server/interceptors.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createLoggingInterceptor } from "./observability/logging-interceptor.js";
import { createMetricsInterceptor, serveMetrics } from "./observability/metrics.js";
import { ephemeralPageTokenSecret, PageTokens } from "./page-token.js";
import { createPeers } from "./clients/peers.js";
import { closeRedis, createRedis } from "./clients/redis.js";
import { createReflectionServices, ServerReflectionV1, ServerReflectionV1Alpha } from "./server/reflection.js";
import type { ServiceRegistration } from "./server/grpc-server.js";
import { ensurePrivateDir } from "./process/private-files.js";
import { readOrCreateSecretFile } from "./process/secret-file.js";
import { newKeySpec } from "./crypto/field-cipher.js";
import { createStreamLimitInterceptor } from "./server/stream-limiter.js";
import type { MountedService, ServiceModule } from "./service-module.js";
import { Health } from "../../gen/health/v1/health_pb.js";

/** buildRegistrations wraps the mounted services with the interceptors and adds health and reflection. */
export function buildRegistrations(mounted: MountedService[], interceptors: RpcInterceptor[], health: HealthServiceImpl): ServiceRegistration[] {
  const names = mounted.map((m) => m.service.typeName);
  const reflection = createReflectionServices(loadDescriptorFiles(), [
    ...names,
    Health.typeName,
    ServerReflectionV1.typeName,
    ServerReflectionV1Alpha.typeName,
  ]);
  const wrap = (service: DescService, impl: object): ServiceRegistration => ({
    service,
    impl: wrapService(service, impl, interceptors) as ServiceRegistration["impl"],
  });
  return [
    ...mounted.map((m) => wrap(m.service, m.impl)),
    wrap(Health, health),
    wrap(ServerReflectionV1, reflection.v1),
    wrap(ServerReflectionV1Alpha, reflection.v1alpha),
  ];
}

/** exitOnStartupError prints a startup failure as one line (no stack for config or dependency errors) and exits. */
export function exitOnStartupError(name: string, err: unknown, logger?: Logger): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`medschedule ${name}: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  const code = (err as { code?: unknown }).code;
  if (code === "DATABASE_UNAVAILABLE" || code === "MIGRATION_FAILED" || code === "EADDRINUSE" || code === "EACCES") {
    process.stderr.write(`medschedule ${name}: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (logger) logger.fatal({ err }, "startup failed");
  else process.stderr.write(`medschedule ${name}: startup failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}

/** Runtime is what a process has built before it starts serving. */
export interface Runtime {
  /** config is the validated environment. */
  config: Config;
  /** logger is the process logger. */
  logger: Logger;
  /** health is the health service of this process: NOT_SERVING until `ready`. */
  health: HealthServiceImpl;
  /** interceptors run around every RPC: logging, metrics, auth, the extra ones, the stream limits. */
  interceptors: RpcInterceptor[];
  /** registrations are the services to serve; calls made before `ready` wait for it. */
  registrations: ServiceRegistration[];
  /** ready settles once the database is open, migrated and the services built. */
  ready: Promise<DatabaseConnection>;
  /** devTokens are the generated role tokens (only when dev auth was set up); `created`: the dev key was made in this start (a fresh DATA_DIR). */
  devTokens?: { tokens: Record<string, string>; tokensFile: string; created: boolean };
  /** serviceToken is this process's own token for calls to the services (SERVICE_TOKEN, or the generated one). */
  serviceToken?: string;
  /** close closes the database once startup has settled. */
  close(): Promise<void>;
}

/**
 * deferredImpl stands in for a service class while the database starts: each call waits for the real
 * implementation (as long as its deadline allows) and then runs it, so nothing fails during warm-up.
 * A call whose deadline passes (or whose client leaves) meanwhile ends with that reason
 * (DEADLINE_EXCEEDED, CANCELED); only a server shutting down during warm-up is UNAVAILABLE.
 */
function deferredImpl(service: DescService, impl: Promise<Record<string, (req: unknown, ctx: HandlerContext) => unknown>>): object {
  let real: Record<string, (req: unknown, ctx: HandlerContext) => unknown> | undefined;
  impl.then((r) => (real = r), () => undefined);
  const waitFor = async (ctx: HandlerContext) => {
    if (real) return real;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        const reason: unknown = ctx.signal.reason;
        if (reason instanceof ConnectError && reason.code !== Code.Unavailable) {
          const message = reason.code === Code.DeadlineExceeded ? "the deadline passed while the service was still starting (database warm-up); retry shortly" : reason.rawMessage;
          reject(new ConnectError(message, reason.code, undefined, undefined, reason));
        } else {
          reject(new UnavailableError("STARTING", "the service is still starting (database warm-up); retry shortly"));
        }
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([
        impl.catch((err: unknown) => {
          throw new UnavailableError("START_FAILED", "the service failed to start; see its log", { cause: err });
        }),
        aborted,
      ]);
    } finally {
      if (onAbort) ctx.signal.removeEventListener("abort", onAbort);
    }
  };
  const out: Record<string, unknown> = {};
  for (const m of service.methods) {
    out[m.localName] =
      m.methodKind === "unary" || m.methodKind === "client_streaming"
        ? async (req: unknown, ctx: HandlerContext) => {
            const real = await waitFor(ctx);
            return real[m.localName].call(real, req, ctx);
          }
        : (req: unknown, ctx: HandlerContext) =>
            // Once started, the real stream itself: a generator in between would hold on to its last message.
            real
              ? real[m.localName].call(real, req, ctx)
              : (async function* () {
                  const started = await waitFor(ctx);
                  yield* started[m.localName].call(started, req, ctx) as AsyncIterable<unknown>;
                })();
  }
  return out;
}

/**
 * createRuntime loads the config and sets up auth (generating dev tokens when `devAuth` and no key
 * is configured), then returns at once with servable registrations: health (NOT_SERVING) and
 * reflection answer immediately, while the database opens, every module's migrations run and the
 * service classes are built in the background (`ready`); calls made meanwhile wait for it.
 */
export async function createRuntime(opts: {
  name: string;
  modules: ServiceModule[];
  defaultPort: number;
  devAuth?: boolean;
  env?: NodeJS.ProcessEnv;
  /** extraInterceptors run after logging, metrics and auth (the principal is known), e.g. the gateway's rate limit. */
  extraInterceptors?: RpcInterceptor[];
  /** keepSecretsInDataDir (npm start) generates the secrets left unset, such as PAGE_TOKEN_SECRET, into DATA_DIR and reuses them. */
  keepSecretsInDataDir?: boolean;
  /** logger replaces the process logger made from LOG_LEVEL (tests that read the log lines). */
  logger?: Logger;
}): Promise<Runtime> {
  const config = loadConfig(opts.env ?? process.env, { port: opts.defaultPort });
  const logger = opts.logger ?? createLogger({ level: config.logLevel, name: opts.name });
  let devTokens: Runtime["devTokens"];
  let interceptorAuth: RpcInterceptor;
  // serviceToken is what this process sends when it calls another service (DESIGN.md section 5).
  let serviceToken = config.serviceToken;
  if (config.authMode === "off") {
    logger.warn("AUTH_MODE=off: EVERY CALLER IS TREATED AS AN ADMIN. Never use this outside a sandbox.");
    interceptorAuth = createAuthInterceptor({ mode: "off" });
  } else {
    let secret = config.authHs256Secret;
    if (!secret && !config.authJwksFile && !config.authJwksUrl) {
      if (!opts.devAuth) {
        throw new ConfigError("no token key: set AUTH_HS256_SECRET, AUTH_JWKS_FILE or AUTH_JWKS_URL (or AUTH_MODE=off in a sandbox)");
      }
      const opened = await ensurePrivateDir(config.dataDir, "DATA_DIR");
      if (opened) logger.warn(opened);
      const dev = await ensureDevAuth(config.dataDir, { issuer: config.authIssuer, audience: config.authAudience });
      secret = dev.secret;
      devTokens = { tokens: dev.tokens, tokensFile: dev.tokensFile, created: dev.created };
      serviceToken ??= dev.tokens.service;
    }
    if (!serviceToken && secret) {
      serviceToken = await signToken(secret, `medschedule-${opts.name}`, ["service"], { ttlSeconds: 10 * 365 * 86_400, issuer: config.authIssuer, audience: config.authAudience });
    }
    const verifier = createTokenVerifier({
      hs256Secret: secret,
      jwksFile: config.authJwksFile,
      jwksUrl: config.authJwksUrl,
      issuer: config.authIssuer,
      audience: config.authAudience,
    });
    interceptorAuth = createAuthInterceptor({ mode: "jwt", verifier, logger, requireLocations: config.authRequireLocations });
  }
  // DATA_DIR (PGlite, generated keys) and the modules' own directories (BACKUP_DIR) hold patient
  // data: owner-only (private-files.ts); made once the configuration is known to be usable.
  const privateDirs: Record<string, string> = Object.assign(
    !config.databaseUrl || opts.devAuth || opts.keepSecretsInDataDir ? { DATA_DIR: config.dataDir } : {},
    ...opts.modules.map((m) => m.privateDirs?.(config) ?? {}),
  );
  for (const [name, dir] of Object.entries(privateDirs)) {
    const warning = await ensurePrivateDir(dir, name);
    if (warning) logger.warn(warning);
  }
  let pageTokenSecret = config.pageTokenSecret;
  if (!pageTokenSecret && opts.keepSecretsInDataDir) pageTokenSecret = (await readOrCreateSecretFile(path.join(config.dataDir, "page-token-secret"))).secret;
  if (!pageTokenSecret) {
    logger.warn("PAGE_TOKEN_SECRET is not set: page tokens use a random key of this process, so they stop working when it restarts and on other replicas; set the same PAGE_TOKEN_SECRET on every replica");
    pageTokenSecret = ephemeralPageTokenSecret();
  }
  const pageTokens = new PageTokens(pageTokenSecret);
  if (opts.keepSecretsInDataDir) {
    // The patient record keys and the appointment reason keys: a backup restores only with them
    // (README, "Patient data and its keys").
    const keep = async (file: string, make: () => string) => (await readOrCreateSecretFile(path.join(config.dataDir, file), make)).secret;
    config.patientEncryptionKeys ??= await keep("patient-encryption-keys", () => newKeySpec());
    config.patientIndexKey ??= await keep("patient-index-key", () => randomBytes(32).toString("base64"));
    config.schedulingEncryptionKeys ??= await keep("scheduling-encryption-keys", () => newKeySpec());
  }
  const descriptors = opts.modules.flatMap((m) => m.services);
  const health = new HealthServiceImpl(descriptors.map((s) => s.typeName));
  health.setAll(ServingStatus.NOT_SERVING);

  const ready = (async () => {
    const database = await createDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      applicationName: `medschedule-${opts.name}`,
      preparedStatements: config.databasePreparedStatements,
      onWarning: (message) => logger.warn(message),
    });
    try {
      for (const m of opts.modules) await migrateToLatest(database.db, { schema: m.schema, migrationsFolder: m.migrationsFolder });
    } catch (err) {
      await database.close();
      throw err;
    }
    logger.info({ database: database.url, kind: database.kind }, "database ready");
    return database;
  })();
  // The lock Redis connects in the background: a dead Redis never blocks start-up (the lock service
  // falls back to Postgres until it answers).
  const redis = ready.then(() => createRedis(config, { logger, connectionName: `medschedule-${opts.name}` }));
  let registrations: ServiceRegistration[] = [];
  const peers = createPeers({ local: () => registrations, upstreams: config.upstreams, token: () => serviceToken });
  const created = redis.then(async (r) => {
    const database = await ready;
    const deps = { db: database.db, clock: systemClock, logger, config, redis: r, peers, database, pageTokens };
    return opts.modules.flatMap((m) => m.create(deps));
  });
  const built = created.then((all) => new Map(all.map((m) => [m.service.typeName, m.impl])));
  // Failures surface through `ready` (main exits on it) and through calls; no unhandled rejections.
  ready.catch(() => undefined);
  built.then(() => health.setAll(ServingStatus.SERVING), () => undefined);
  const mounted = descriptors.map((service) => {
    const impl = built.then((impls) => impls.get(service.typeName) as Record<string, (req: unknown, ctx: HandlerContext) => unknown>);
    impl.catch(() => undefined);
    return { service, impl: deferredImpl(service, impl) };
  });
  // The stream limits come last: a call refused by anything else never holds a place.
  const streams = createStreamLimitInterceptor({ max: config.maxStreams, perClient: config.maxStreamsPerClient });
  const interceptors = [createLoggingInterceptor(logger), createMetricsInterceptor(), interceptorAuth, ...(opts.extraInterceptors ?? []), streams];
  registrations = buildRegistrations(mounted, interceptors, health);
  // What callers wait for includes the service classes: a module that fails to build fails the start.
  const started = built.then(() => ready);
  started.catch(() => undefined);
  return {
    config,
    logger,
    health,
    interceptors,
    registrations,
    ready: started,
    devTokens,
    serviceToken,
    close: async () => {
      const services = await created.catch(() => [] as MountedService[]);
      for (const m of services) await m.close?.().catch((err: unknown) => logger.warn({ err }, "service close failed"));
      peers.close();
      await closeRedis(await redis.catch(() => undefined));
      const database = await ready.catch(() => undefined);
      await database?.close();
    },
  };
}

/**
 * onShutdownSignal runs the drain on the first SIGTERM or SIGINT: health NOT_SERVING, then `drain`
 * (servers finish in-flight calls within the grace period), then exit 0. A second signal exits at once.
 */
export function onShutdownSignal(runtime: Pick<Runtime, "logger" | "health">, drain: () => Promise<void>, opts: { notServingDelayMs?: number } = {}): void {
  let draining = false;
  const handler = (signal: NodeJS.Signals) => {
    if (draining) {
      runtime.logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    draining = true;
    runtime.logger.info({ signal }, "draining: health NOT_SERVING, finishing in-flight calls");
    runtime.health.setAll(ServingStatus.NOT_SERVING);
    // Give health watchers and load balancers a moment to see NOT_SERVING before listeners close.
    new Promise((r) => setTimeout(r, opts.notServingDelayMs ?? 500)).then(drain).then(
      () => {
        runtime.logger.info("drained; bye");
        process.exit(0);
      },
      (err: unknown) => {
        runtime.logger.error({ err }, "drain failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

/** startMetrics serves /metrics on METRICS_PORT unless it is 0. */
export async function startMetrics(config: Config, logger: Logger): Promise<{ close(): Promise<void> } | undefined> {
  if (config.metricsPort === 0) return undefined;
  return serveMetrics(config.metricsPort, logger);
}
