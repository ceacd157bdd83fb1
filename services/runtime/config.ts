import path from "node:path";
import v8 from "node:v8";
import { parseKeys } from "./crypto/field-cipher.js";

/** ConfigError is a bad environment variable; main prints its message as one line and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Upstreams are the gRPC addresses ("host:port", several for replicas) of the services. */
export interface Upstreams {
  /** scheduling replicas. */
  scheduling: string[];
  /** queue replicas. */
  queue: string[];
  /** lock replicas. */
  lock: string[];
  /** backup replicas. */
  backup: string[];
  /** patient replicas. */
  patient: string[];
}

/** Config is the validated process configuration, read only from environment variables. */
export interface Config {
  /** port is the gRPC (service) or HTTP (gateway) port. */
  port: number;
  /** metricsPort serves /metrics; 0 disables it. */
  metricsPort: number;
  /** databaseUrl is the Postgres URL; unset means embedded PGlite in dataDir. */
  databaseUrl?: string;
  /** databasePreparedStatements runs statements as named prepared statements (DATABASE_PREPARED_STATEMENTS, default on). */
  databasePreparedStatements: boolean;
  /** redisUrl is the lock Redis; unset means the Postgres lock backend. */
  redisUrl?: string;
  /** redisSentinels are host:port pairs of Sentinels (with redisSentinelName). */
  redisSentinels: string[];
  /** redisSentinelName is the Sentinel master name. */
  redisSentinelName?: string;
  /** redisPassword (REDIS_PASSWORD) authenticates to Redis and its Sentinels; a password in REDIS_URL wins. */
  redisPassword?: string;
  /** dataDir holds PGlite's data and the dev tokens. */
  dataDir: string;
  /** backupDir is the filesystem backup store. */
  backupDir: string;
  /** logLevel is pino's level. */
  logLevel: string;
  /** authMode is "jwt" (default) or "off" (explicit, loudly logged). */
  authMode: "jwt" | "off";
  /** authHs256Secret verifies HS256 tokens. */
  authHs256Secret?: string;
  /** authJwksFile is a local JWKS for RS/ES tokens. */
  authJwksFile?: string;
  /** authJwksUrl is a remote JWKS. */
  authJwksUrl?: string;
  /** authIssuer is the required `iss`, when set. */
  authIssuer?: string;
  /** authAudience is the required `aud`, when set. */
  authAudience?: string;
  /** authRequireLocations (AUTH_REQUIRE_LOCATIONS) refuses receptionist and doctor tokens without a `locations` claim (auth/location-scope.ts). */
  authRequireLocations: boolean;
  /** pageTokenSecret (PAGE_TOKEN_SECRET) seals page tokens; every replica needs the same one (unset: npm start keeps one in DATA_DIR, other processes use a random one). */
  pageTokenSecret?: string;
  /** patientEncryptionKeys (PATIENT_ENCRYPTION_KEYS, `id:base64key[,...]`, the first encrypts) seal patient records (runtime/crypto/field-cipher.ts); unset: npm start keeps them in DATA_DIR, the patient service refuses to start elsewhere. */
  patientEncryptionKeys?: string;
  /** patientIndexKey (PATIENT_INDEX_KEY, base64 of at least 32 bytes) keys the blind indexes of patient lookups. */
  patientIndexKey?: string;
  /** patientDefaultRegion (PATIENT_DEFAULT_REGION, ISO 3166 alpha-2, default TR) is where a phone number without a country code is read. */
  patientDefaultRegion: string;
  /** patientCheck (PATIENT_CHECK, default on) makes scheduling and queue ask the patient service whether a booking's or ticket's patientId exists. */
  patientCheck: boolean;
  /** schedulingEncryptionKeys (SCHEDULING_ENCRYPTION_KEYS, as PATIENT_ENCRYPTION_KEYS) seal an appointment's free-text reason in the scheduling schema. */
  schedulingEncryptionKeys?: string;
  /** serviceToken is this service's own token for calls to other services. */
  serviceToken?: string;
  /** upstreams are the other services' addresses. */
  upstreams: Upstreams;
  /** corsOrigins are the browser origins allowed at the gateway. */
  corsOrigins: string[];
  /** lockStuckAfterMs flags a lock held longer as stuck. */
  lockStuckAfterMs: number;
  /** backupSchedulePostgres is a cron expression; empty disables the in-process schedule. */
  backupSchedulePostgres: string;
  /** backupScheduleRedis is a cron expression; empty disables the in-process schedule. */
  backupScheduleRedis: string;
  /** backupKeepPostgresMs is the Postgres backup retention window. */
  backupKeepPostgresMs: number;
  /** backupKeepRedisMs is the Redis backup retention window. */
  backupKeepRedisMs: number;
  /** tlsCertFile and tlsKeyFile enable TLS outside a mesh. */
  tlsCertFile?: string;
  /** tlsKeyFile is the TLS private key. */
  tlsKeyFile?: string;
  /** shutdownGraceMs bounds the drain on SIGTERM. */
  shutdownGraceMs: number;
  /** rateLimitPerMinute is the gateway's per-client request budget; 0 disables it. */
  rateLimitPerMinute: number;
  /** maxInFlight bounds the unary calls the gateway works on at once; beyond it they are refused at once (0: no bound). */
  maxInFlight: number;
  /** maxStreams bounds the server-streaming calls (watches) this server serves at once (GATEWAY_MAX_STREAMS; 0: no bound). */
  maxStreams: number;
  /** maxStreamsPerClient bounds those of one caller, a token's subject or an address without one (GATEWAY_MAX_STREAMS_PER_CLIENT; 0: no bound). */
  maxStreamsPerClient: number;
  /** demoClinic (DEMO_CLINIC) seeds the demo clinic in `npm start`: "on", "off", or "auto" (unset: only into a fresh DATA_DIR with generated dev auth and the embedded database). */
  demoClinic: "auto" | "on" | "off";
  /** gatewayConnections are the gateway's bounds on client connections (GATEWAY_HEADERS_TIMEOUT, GATEWAY_BODY_TIMEOUT, GATEWAY_IDLE_TIMEOUT, GATEWAY_MAX_CONNECTIONS). */
  gatewayConnections: GatewayConnectionLimits;
}

/** GatewayConnectionLimits bound the gateway's client connections, so that sockets which send nothing useful cannot use up its file descriptors. */
export interface GatewayConnectionLimits {
  /** headersTimeoutMs is the time from accepting a connection (TLS handshake included) until its first request's headers (HTTP/1.1) or first stream (HTTP/2). */
  headersTimeoutMs: number;
  /** bodyTimeoutMs is the time a request's body has to arrive in full after its headers. */
  bodyTimeoutMs: number;
  /** idleTimeoutMs closes a connection that has had no request or stream in progress for this long. */
  idleTimeoutMs: number;
  /** maxConnections caps open connections (the longest-idle one is closed for a new one); undefined: derived from the file limit. */
  maxConnections?: number;
}

/**
 * DEFAULT_GATEWAY_CONNECTION_LIMITS are the defaults of GatewayConnectionLimits:
 * * headers 10 s: a browser, buf curl or grpcurl sends its request (or HTTP/2 preface and first stream)
 *   within milliseconds of connecting, and a TLS handshake over a poor mobile link takes a few round
 *   trips; 10 s leaves room for that and frees a socket that sends nothing three times faster than
 *   the 30 s the issue allows.
 * * body 30 s: every request body is one message (no client-streaming API), a few KiB; 30 s still
 *   carries the 4 MiB maximum over about 1 Mbit/s. A slowloris body is cut then.
 * * idle 65 s: longer than browsers wait before reusing a keep-alive connection for the next click,
 *   and than the 60 s idle timeout of common load balancers (AWS ALB, nginx), so a balancer never
 *   sends a request on a connection the gateway is closing at that moment. Open requests and
 *   streams (a display board's quiet WatchQueue) keep a connection busy, not idle.
 * * connections: 2,048 at most (about 20 KiB each when idle), and never more than the file
 *   descriptor limit allows after what the process needs otherwise (an embedded database holds
 *   ~150 files); the limiter measures that while it runs.
 */
export const DEFAULT_GATEWAY_CONNECTION_LIMITS: Required<GatewayConnectionLimits> = {
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 65_000,
  maxConnections: 2048,
};

/**
 * DEFAULT_MAX_IN_FLIGHT is GATEWAY_MAX_IN_FLIGHT's default. The mixed benchmark's 500 req/s open loop
 * (more than twice what the 2-core machine serves) ran, against 256, at 80 answers/s without error, p50
 * 2.0 s, gateway peak RSS 188-201 MiB; against 128, 102-146/s, p50 0.9-1.1 s, 162-164 MiB: past the
 * capacity, more calls in progress only add waiting and memory. 128 still leaves room for the 64
 * clients of the closed-loop runs, and for bursts.
 */
export const DEFAULT_MAX_IN_FLIGHT = 128;

/**
 * DEFAULT_MAX_STREAMS_PER_CLIENT is GATEWAY_MAX_STREAMS_PER_CLIENT's default: a display board opens
 * one or two watches, a reception desk a few (its queue, a doctor's day); 16 leaves room for several
 * screens signed in alike, while one token can hold no more than about 1 MiB of the server's memory.
 */
export const DEFAULT_MAX_STREAMS_PER_CLIENT = 16;

/**
 * STREAM_COST_BYTES is what an open stream is budgeted at. Measured per idle WatchQueue watcher: 42
 * KiB of heap in `npm start` and 52 KiB at the distributed gateway with an empty queue, 58 and 68 KiB
 * with 30 tickets waiting (the framework keeps the last message sent, often the snapshot, and its
 * encoding until the next one); a longer queue costs more, so the budget leaves room for one.
 */
export const STREAM_COST_BYTES = 96 * 1024;

/**
 * defaultMaxStreams is GATEWAY_MAX_STREAMS's default for a V8 heap limit: open streams may take a
 * fifth of it, at STREAM_COST_BYTES each, between 64 and 4,000. That is 290 under `npm run
 * cluster`'s 112 MB heap (136 MiB with the young generation), 648 under the Deployments' 256 MB, and
 * 4,000 for a process whose heap V8 sizes from a large machine. (A quarter of a 96 MB heap left too
 * little once the gateway's own live heap grew from 48 to 53 MiB with the clinic model's API: a
 * flood of 3,000 streams ran the cluster gateway out of memory under load.)
 */
export function defaultMaxStreams(heapLimitBytes = v8.getHeapStatistics().heap_size_limit): number {
  return Math.max(64, Math.min(4000, Math.floor(heapLimitBytes / 5 / STREAM_COST_BYTES)));
}

/** RPC_HEADROOM is room, past the streams and unary calls the gateway bounds, for calls being answered or refused at a given moment. */
export const RPC_HEADROOM = 256;

/**
 * gatewayMaxRpcs bounds the RPCs the gateway has in progress at once, streams included:
 * GATEWAY_MAX_STREAMS + GATEWAY_MAX_IN_FLIGHT + RPC_HEADROOM (no bound when either is 0). Each costs
 * 30-50 KiB until it is answered, refusals included: 2,000 at once over 20 HTTP/2 connections filled a
 * 96 MB heap though all but 56 were refused.
 */
export function gatewayMaxRpcs(config: Pick<Config, "maxStreams" | "maxInFlight">): number {
  return config.maxStreams > 0 && config.maxInFlight > 0 ? config.maxStreams + config.maxInFlight + RPC_HEADROOM : 0;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** parseDurationMs parses "500ms", "30s", "5m", "2h", "14d" (or a sum like "1h30m") into milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    total += Number(m[1]) * units[m[2]];
    matched += m[0].length;
  }
  return matched === value.length && value.length > 0 ? Math.round(total) : undefined;
}

function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable)";
  }
}

/**
 * loadConfig reads and validates the environment. Every problem is collected; the ConfigError
 * names them all in one line. `defaults.port` is the component's default port.
 */
export function loadConfig(env: NodeJS.ProcessEnv, defaults: { port: number; metricsPort?: number }): Config {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const port = (name: string, fallback: number): number => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) > 65535) {
      problems.push(`${name} must be a port number 0-65535, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return Number(v);
  };
  const duration = (name: string, fallback: number): number => {
    const v = str(name);
    if (v === undefined) return fallback;
    const ms = parseDurationMs(v);
    if (ms === undefined) {
      problems.push(`${name} must be a duration like 30s, 5m or 14d, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return ms;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) {
        problems.push(`${name} must start with ${protocols.map((p) => `${p}//`).join(" or ")}, got ${JSON.stringify(redactUrl(v))}`);
      } else if (!u.hostname) {
        problems.push(`${name} has no host: ${JSON.stringify(redactUrl(v))}`);
      }
    } catch {
      problems.push(`${name} is not a URL (expected e.g. ${protocols[0]}//user:password@host:port/...)`);
    }
    return v;
  };
  const list = (name: string): string[] => (str(name) ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const addresses = (name: string): string[] => {
    const values = list(name);
    for (const a of values) {
      if (!/^[A-Za-z0-9.[\]:_-]+:\d{1,5}$/.test(a)) problems.push(`${name} must be host:port[,host:port...], got ${JSON.stringify(a)}`);
    }
    return values;
  };

  const logLevel = str("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`);
  const authMode = str("AUTH_MODE") ?? "jwt";
  if (authMode !== "jwt" && authMode !== "off") problems.push(`AUTH_MODE must be "jwt" or "off", got ${JSON.stringify(authMode)}`);
  const secret = str("AUTH_HS256_SECRET");
  if (secret !== undefined && secret.length < 32) problems.push("AUTH_HS256_SECRET must be at least 32 characters");
  const requireLocations = (str("AUTH_REQUIRE_LOCATIONS") ?? "off").toLowerCase();
  if (!["on", "off", "true", "false", "1", "0"].includes(requireLocations)) problems.push(`AUTH_REQUIRE_LOCATIONS must be "on" or "off", got ${JSON.stringify(str("AUTH_REQUIRE_LOCATIONS"))}`);
  const pageTokenSecret = str("PAGE_TOKEN_SECRET");
  if (pageTokenSecret !== undefined && pageTokenSecret.length < 32) problems.push("PAGE_TOKEN_SECRET must be at least 32 characters");
  const dataDir = path.resolve(str("DATA_DIR") ?? "./data");
  const sentinels = addresses("REDIS_SENTINELS");
  const sentinelName = str("REDIS_SENTINEL_NAME");
  if (sentinels.length > 0 && !sentinelName) problems.push("REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the master name)");
  const tlsCertFile = str("TLS_CERT_FILE");
  const tlsKeyFile = str("TLS_KEY_FILE");
  if (Boolean(tlsCertFile) !== Boolean(tlsKeyFile)) problems.push("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  const rate = str("RATE_LIMIT_PER_MINUTE");
  if (rate !== undefined && !/^\d+$/.test(rate)) problems.push(`RATE_LIMIT_PER_MINUTE must be a whole number, got ${JSON.stringify(rate)}`);
  const prepared = str("DATABASE_PREPARED_STATEMENTS") ?? "on";
  if (prepared !== "on" && prepared !== "off") problems.push(`DATABASE_PREPARED_STATEMENTS must be "on" or "off", got ${JSON.stringify(prepared)}`);
  const demoClinic = str("DEMO_CLINIC") ?? "auto";
  if (demoClinic !== "auto" && demoClinic !== "on" && demoClinic !== "off") problems.push(`DEMO_CLINIC must be "on" or "off", got ${JSON.stringify(demoClinic)}`);
  const inFlight = str("GATEWAY_MAX_IN_FLIGHT");
  if (inFlight !== undefined && !/^\d+$/.test(inFlight)) problems.push(`GATEWAY_MAX_IN_FLIGHT must be a whole number, got ${JSON.stringify(inFlight)}`);
  const wholeNumber = (name: string, fallback: number): number => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v)) {
      problems.push(`${name} must be a whole number (0: no bound), got ${JSON.stringify(v)}`);
      return fallback;
    }
    return Number(v);
  };
  const positiveDuration = (name: string, fallback: number): number => {
    const ms = duration(name, fallback);
    if (ms <= 0) problems.push(`${name} must be longer than 0, got ${JSON.stringify(str(name))}`);
    return ms;
  };
  const maxConnections = str("GATEWAY_MAX_CONNECTIONS");
  if (maxConnections !== undefined && !/^[1-9]\d*$/.test(maxConnections)) {
    problems.push(`GATEWAY_MAX_CONNECTIONS must be a whole number above 0, got ${JSON.stringify(maxConnections)}`);
  }
  const gatewayConnections: GatewayConnectionLimits = {
    headersTimeoutMs: positiveDuration("GATEWAY_HEADERS_TIMEOUT", DEFAULT_GATEWAY_CONNECTION_LIMITS.headersTimeoutMs),
    bodyTimeoutMs: positiveDuration("GATEWAY_BODY_TIMEOUT", DEFAULT_GATEWAY_CONNECTION_LIMITS.bodyTimeoutMs),
    idleTimeoutMs: positiveDuration("GATEWAY_IDLE_TIMEOUT", DEFAULT_GATEWAY_CONNECTION_LIMITS.idleTimeoutMs),
    maxConnections: maxConnections !== undefined && /^[1-9]\d*$/.test(maxConnections) ? Number(maxConnections) : undefined,
  };

  const keySpec = (name: string): string | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    try {
      parseKeys(v, name);
    } catch (err) {
      problems.push((err as Error).message);
    }
    return v;
  };
  const indexKey = str("PATIENT_INDEX_KEY");
  if (indexKey !== undefined && Buffer.from(indexKey, "base64").length < 32) problems.push("PATIENT_INDEX_KEY must be at least 32 bytes in base64");
  const region = str("PATIENT_DEFAULT_REGION") ?? "TR";
  if (!/^[A-Z]{2}$/.test(region)) problems.push(`PATIENT_DEFAULT_REGION must be a two-letter country code such as "TR", got ${JSON.stringify(region)}`);
  const patientCheck = str("PATIENT_CHECK") ?? "on";
  if (patientCheck !== "on" && patientCheck !== "off") problems.push(`PATIENT_CHECK must be "on" or "off", got ${JSON.stringify(patientCheck)}`);
  const config: Config = {
    port: port("PORT", defaults.port),
    metricsPort: port("METRICS_PORT", defaults.metricsPort ?? 9464),
    databaseUrl: url("DATABASE_URL", ["postgres:", "postgresql:"]),
    databasePreparedStatements: prepared !== "off",
    redisUrl: url("REDIS_URL", ["redis:", "rediss:"]),
    redisSentinels: sentinels,
    redisSentinelName: sentinelName,
    redisPassword: str("REDIS_PASSWORD"),
    dataDir,
    backupDir: path.resolve(str("BACKUP_DIR") ?? path.join(dataDir, "backups")),
    logLevel,
    authMode: authMode as "jwt" | "off",
    authHs256Secret: secret,
    authJwksFile: str("AUTH_JWKS_FILE"),
    authJwksUrl: url("AUTH_JWKS_URL", ["https:", "http:"]),
    authIssuer: str("AUTH_ISSUER"),
    authAudience: str("AUTH_AUDIENCE"),
    authRequireLocations: ["on", "true", "1"].includes(requireLocations),
    pageTokenSecret,
    patientEncryptionKeys: keySpec("PATIENT_ENCRYPTION_KEYS"),
    patientIndexKey: indexKey,
    patientDefaultRegion: region,
    patientCheck: patientCheck !== "off",
    schedulingEncryptionKeys: keySpec("SCHEDULING_ENCRYPTION_KEYS"),
    serviceToken: str("SERVICE_TOKEN"),
    upstreams: {
      scheduling: addresses("SCHEDULING_ADDR"),
      queue: addresses("QUEUE_ADDR"),
      lock: addresses("LOCK_ADDR"),
      backup: addresses("BACKUP_ADDR"),
      patient: addresses("PATIENT_ADDR"),
    },
    corsOrigins: list("CORS_ORIGINS"),
    lockStuckAfterMs: duration("LOCK_STUCK_AFTER", 30_000),
    backupSchedulePostgres: str("BACKUP_SCHEDULE_POSTGRES") ?? "",
    backupScheduleRedis: str("BACKUP_SCHEDULE_REDIS") ?? "",
    backupKeepPostgresMs: duration("BACKUP_KEEP_POSTGRES", 14 * 86_400_000),
    backupKeepRedisMs: duration("BACKUP_KEEP_REDIS", 7 * 86_400_000),
    tlsCertFile,
    tlsKeyFile,
    shutdownGraceMs: duration("SHUTDOWN_GRACE", 10_000),
    rateLimitPerMinute: rate !== undefined && /^\d+$/.test(rate) ? Number(rate) : 600,
    maxInFlight: inFlight !== undefined && /^\d+$/.test(inFlight) ? Number(inFlight) : DEFAULT_MAX_IN_FLIGHT,
    maxStreams: wholeNumber("GATEWAY_MAX_STREAMS", defaultMaxStreams()),
    maxStreamsPerClient: wholeNumber("GATEWAY_MAX_STREAMS_PER_CLIENT", DEFAULT_MAX_STREAMS_PER_CLIENT),
    demoClinic: demoClinic as Config["demoClinic"],
    gatewayConnections,
  };
  if (problems.length > 0) throw new ConfigError(problems.join("; "));
  return config;
}
