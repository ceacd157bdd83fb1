import type http from "node:http";
import { serveConnect, type ConnectServerHandle, type HttpRoute } from "../services/runtime/server/connect-server.js";
import { handleMetricsRequest } from "../services/runtime/observability/metrics.js";
import type { DescService } from "@bufbuild/protobuf";
import { BackupService } from "../gen/medschedule/backup/v1/backup_service_pb.js";
import { PatientService } from "../gen/medschedule/patient/v1/patient_service_pb.js";
import { LockService } from "../gen/medschedule/lock/v1/lock_service_pb.js";
import { QueueService } from "../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { createAuthInterceptor } from "../services/runtime/auth/auth-interceptor.js";
import { createTokenVerifier } from "../services/runtime/auth/jwt.js";
import { ConfigError, gatewayMaxRpcs, type Config, type Upstreams } from "../services/runtime/config.js";
import type { ServiceRegistration } from "../services/runtime/server/grpc-server.js";
import { HealthServiceImpl } from "../services/runtime/server/health.js";
import { buildRegistrations } from "../services/runtime/host.js";
import type { RpcInterceptor } from "../services/runtime/server/interceptors.js";
import type { Logger } from "../services/runtime/observability/logger.js";
import { createLoggingInterceptor } from "../services/runtime/observability/logging-interceptor.js";
import { createStreamLimitInterceptor } from "../services/runtime/server/stream-limiter.js";
import { createMetricsInterceptor } from "../services/runtime/observability/metrics.js";
import { createForwardingService, type ForwardingService } from "./forward.js";
import { createInFlightLimitInterceptor, createRateLimitInterceptor } from "./rate-limit.js";
import { cspForInlineStyle, withSecurityHeaders } from "./security-headers.js";
import { createDevTokensRoute, createStaticRoute } from "./static-route.js";

const LANDING_STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;padding:.1rem .3rem;border-radius:4px}pre{padding:.75rem;overflow:auto}";

const LANDING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>MedSchedule</title>
<style>${LANDING_STYLE}</style>
</head><body>
<h1>MedSchedule is running</h1>
<p>The API speaks Connect, gRPC-web and gRPC on this port. Health and reflection need no token; everything else needs a bearer token
(in <code>npm start</code>, one per role is in <code>data/dev-tokens.json</code>).</p>
<pre>npx buf curl --http2-prior-knowledge --list-services http://localhost:8080
npx buf curl --http2-prior-knowledge -H "authorization: Bearer $(node -p 'require(\\"./data/dev-tokens.json\\").admin')" \\
  http://localhost:8080/medschedule.scheduling.v1.SchedulingService/ListProviders</pre>
<p>Metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>
`;

/** landingRoute serves a short page at "/" saying how to call the API (under a policy allowing only its own style). */
export const landingRoute: HttpRoute = (req, res) => {
  if ((req.method !== "GET" && req.method !== "HEAD") || (req.url !== "/" && req.url !== "/index.html")) return false;
  (res as http.ServerResponse).writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": cspForInlineStyle(LANDING_STYLE) });
  if (req.method === "HEAD") res.end();
  else res.end(LANDING);
  return true;
};

/** metricsRoute serves `GET /metrics` on the gateway port. */
export const metricsRoute: HttpRoute = (req, res) => handleMetricsRequest(req as http.IncomingMessage, res as http.ServerResponse);

/** GatewayOptions is what the gateway serves: the registrations (in-process classes or forwarding) and its config. */
export interface GatewayOptions {
  /** config is the validated environment (port, CORS, TLS). */
  config: Config;
  /** logger is the process logger. */
  logger: Logger;
  /** registrations are the services, health and reflection to serve. */
  registrations: ServiceRegistration[];
  /** devTokens are served at /dev-tokens.json for the web app's dev login; only set in `npm start` with generated dev auth. */
  devTokens?: { tokens: Record<string, string> };
  /** webRoot is the built web app (default dist/web). */
  webRoot?: string;
}

/**
 * startGateway serves the registrations on the gateway port with Connect, gRPC-web and gRPC, plus
 * /metrics, the web app (SPA) and, with dev auth only, /dev-tokens.json. Without a built web app,
 * "/" shows a short page saying how to call the API.
 */
export async function startGateway(opts: GatewayOptions, port = opts.config.port): Promise<ConnectServerHandle> {
  const { config } = opts;
  return serveConnect({
    port,
    services: opts.registrations,
    httpRoutes: [withSecurityHeaders([metricsRoute, createDevTokensRoute(opts.devTokens?.tokens), createStaticRoute(opts.webRoot), landingRoute])],
    logger: opts.logger,
    corsOrigins: config.corsOrigins,
    tls: config.tlsCertFile && config.tlsKeyFile ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : undefined,
    connections: config.gatewayConnections,
    maxRpcs: gatewayMaxRpcs(config),
  });
}

/** DistributedGateway is the gateway's own runtime when the services run as separate processes. */
export interface DistributedGateway {
  /** registrations forward every service and serve the gateway's own health and reflection. */
  registrations: ServiceRegistration[];
  /** health is the gateway's health service. */
  health: HealthServiceImpl;
  /** forwarding are the pass-through services, one per upstream. */
  forwarding: ForwardingService[];
  /** close closes the upstream channels. */
  close(): void;
}

/** GATEWAY_SERVICES are the services the gateway offers, with the upstream each one lives in. */
export const GATEWAY_SERVICES: { name: keyof Upstreams; service: DescService }[] = [
  { name: "scheduling", service: SchedulingService },
  { name: "queue", service: QueueService },
  { name: "lock", service: LockService },
  { name: "backup", service: BackupService },
  { name: "patient", service: PatientService },
];

/** upstreamMode tells from the config whether the gateway mounts the classes ("in-process") or forwards ("distributed"). */
export function upstreamMode(config: Pick<Config, "upstreams">): "in-process" | "distributed" {
  const set = GATEWAY_SERVICES.filter((s) => config.upstreams[s.name].length > 0);
  if (set.length === 0) return "in-process";
  if (set.length < GATEWAY_SERVICES.length) {
    const missing = GATEWAY_SERVICES.filter((s) => config.upstreams[s.name].length === 0).map((s) => `${s.name.toUpperCase()}_ADDR`);
    throw new ConfigError(
      `set all of SCHEDULING_ADDR, QUEUE_ADDR, LOCK_ADDR, BACKUP_ADDR and PATIENT_ADDR (the gateway forwards to separate service processes) or none (npm start runs everything in this process); missing: ${missing.join(", ")}`,
    );
  }
  return "distributed";
}

/**
 * createDistributedGateway builds the gateway of distributed mode: no database, no service classes,
 * one generated pass-through per service to its *_ADDR replicas, wrapped with logging, metrics, auth
 * (the token is verified and the role table applied here, before anything is forwarded; the
 * services check again), the in-flight bound (GATEWAY_MAX_IN_FLIGHT), the rate limit and the stream
 * limits (GATEWAY_MAX_STREAMS, GATEWAY_MAX_STREAMS_PER_CLIENT). It needs a token key (AUTH_HS256_SECRET,
 * AUTH_JWKS_FILE or AUTH_JWKS_URL) or AUTH_MODE=off.
 */
export function createDistributedGateway(config: Config, logger: Logger, opts: { defaultUnaryTimeoutMs?: number; now?: () => number } = {}): DistributedGateway {
  let auth: RpcInterceptor;
  if (config.authMode === "off") {
    logger.warn("AUTH_MODE=off: the gateway lets every caller through and forwards no token. Never use this outside a sandbox.");
    auth = createAuthInterceptor({ mode: "off" });
  } else {
    if (!config.authHs256Secret && !config.authJwksFile && !config.authJwksUrl) {
      throw new ConfigError("no token key: set AUTH_HS256_SECRET, AUTH_JWKS_FILE or AUTH_JWKS_URL (the same as the services), or AUTH_MODE=off in a sandbox");
    }
    const verifier = createTokenVerifier({
      hs256Secret: config.authHs256Secret,
      jwksFile: config.authJwksFile,
      jwksUrl: config.authJwksUrl,
      issuer: config.authIssuer,
      audience: config.authAudience,
    });
    auth = createAuthInterceptor({ mode: "jwt", verifier, logger, requireLocations: config.authRequireLocations });
  }
  const forwarding = GATEWAY_SERVICES.map(({ name, service }) =>
    createForwardingService(service, { addresses: config.upstreams[name], defaultUnaryTimeoutMs: opts.defaultUnaryTimeoutMs, now: opts.now }),
  );
  const health = new HealthServiceImpl(forwarding.map((f) => f.service.typeName));
  const interceptors = [
    createLoggingInterceptor(logger),
    createMetricsInterceptor(),
    createInFlightLimitInterceptor({ max: config.maxInFlight }),
    auth,
    createRateLimitInterceptor({ perMinute: config.rateLimitPerMinute, now: opts.now }),
    createStreamLimitInterceptor({ max: config.maxStreams, perClient: config.maxStreamsPerClient }),
  ];
  const registrations = buildRegistrations(forwarding.map((f) => ({ service: f.service, impl: f.impl })), interceptors, health);
  return { registrations, health, forwarding, close: () => forwarding.forEach((f) => f.close()) };
}
