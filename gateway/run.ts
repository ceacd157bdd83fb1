// The gateway on PORT (default 8080). `npm start` (no *_ADDR set): the whole system in one process,
// the gateway mounting the five service classes in-process, on embedded PGlite in DATA_DIR unless
// DATABASE_URL is set. Distributed mode (SCHEDULING_ADDR, QUEUE_ADDR, LOCK_ADDR, BACKUP_ADDR and
// PATIENT_ADDR all set): no database, every call forwarded to the services' grpc-js replicas. Setting only some of
// them is a configuration error.
// Loaded by main.ts once module loading is bounded (services/runtime/process/module-loading.ts).
import { backupModule } from "../services/backup/backup.module.js";
import { lockModule } from "../services/lock/lock.module.js";
import { patientModule } from "../services/patient/patient.module.js";
import { queueModule } from "../services/queue/queue.module.js";
import { schedulingModule } from "../services/scheduling/scheduling.module.js";
import { loadConfig } from "../services/runtime/config.js";
import { ServingStatus } from "../services/runtime/server/health.js";
import { createRuntime, exitOnStartupError, onShutdownSignal } from "../services/runtime/host.js";
import { createLogger } from "../services/runtime/observability/logger.js";
import { restrictNewFiles } from "../services/runtime/process/private-files.js";
import { checkBackupSchedules } from "../services/backup/schedule-config.js";
import { seedDemoClinic } from "./demo-clinic.js";
import { claimFreshDataDir, releaseFreshDataDir } from "./fresh-data-dir.js";
import { createDistributedGateway, startGateway, upstreamMode } from "./gateway.js";
import { createInFlightLimitInterceptor, createRateLimitInterceptor } from "./rate-limit.js";

const started = Date.now();
// Everything this process writes (PGlite, backups, keys) is owner-only (private-files.ts).
restrictNewFiles();
let mode: "in-process" | "distributed";
let rateLimitPerMinute: number;
let maxInFlight: number;
try {
  const config = loadConfig(process.env, { port: 8080 });
  mode = upstreamMode(config);
  rateLimitPerMinute = config.rateLimitPerMinute;
  maxInFlight = config.maxInFlight;
} catch (err) {
  exitOnStartupError("gateway", err);
}
if (mode === "distributed") await runDistributed();

/** runDistributed serves the forwarding gateway: no database, every call to the *_ADDR replicas. */
async function runDistributed(): Promise<never> {
  let gateway;
  let config;
  let logger;
  try {
    config = loadConfig(process.env, { port: 8080 });
    logger = createLogger({ level: config.logLevel, name: "gateway" });
    gateway = createDistributedGateway(config, logger);
  } catch (err) {
    exitOnStartupError("gateway", err);
  }
  try {
    const server = await startGateway({ config, logger, registrations: gateway.registrations });
    onShutdownSignal({ logger, health: gateway.health }, async () => {
      await server.close(config.shutdownGraceMs);
      gateway.close();
    });
    logger.info({ port: server.port, ms: Date.now() - started, upstreams: config.upstreams, rateLimitPerMinute: config.rateLimitPerMinute }, "gateway forwarding to the services");
    gateway.health.setAll(ServingStatus.SERVING);
  } catch (err) {
    exitOnStartupError("gateway", err, logger);
  }
  // Serve until a signal ends the process.
  return new Promise<never>(() => undefined);
}

// `npm start` keeps its own backups (DESIGN.md section 1): Postgres daily at 02:30 UTC, Redis at 02:00
// when there is a Redis. Set BACKUP_SCHEDULE_* to another cron expression, or to "" to turn it off.
const startEnv: NodeJS.ProcessEnv = {
  ...process.env,
  BACKUP_SCHEDULE_POSTGRES: process.env.BACKUP_SCHEDULE_POSTGRES ?? "30 2 * * *",
  BACKUP_SCHEDULE_REDIS: process.env.BACKUP_SCHEDULE_REDIS ?? (process.env.REDIS_URL ? "0 2 * * *" : ""),
};
// Before anything is written: a bad backup schedule ends the start (exit 2, as the backup service
// does), and whether DATA_DIR is fresh for the demo clinic is settled (fresh-data-dir.ts).
let fresh = false;
try {
  const early = loadConfig(startEnv, { port: 8080 });
  checkBackupSchedules(early);
  if (early.demoClinic === "auto" && !early.databaseUrl) fresh = await claimFreshDataDir(early.dataDir);
} catch (err) {
  exitOnStartupError("gateway", err);
}
let runtime;
try {
  runtime = await createRuntime({
    name: "gateway",
    modules: [schedulingModule, queueModule, lockModule, backupModule, patientModule],
    defaultPort: 8080,
    devAuth: true,
    keepSecretsInDataDir: true,
    env: startEnv,
    extraInterceptors: [createInFlightLimitInterceptor({ max: maxInFlight }), createRateLimitInterceptor({ perMinute: rateLimitPerMinute })],
  });
} catch (err) {
  exitOnStartupError("gateway", err);
}
const { logger, config } = runtime;
try {
  const server = await startGateway(runtime);
  onShutdownSignal(runtime, async () => {
    await server.close(config.shutdownGraceMs);
    await runtime.close();
  });
  const url = `http://localhost:${server.port}`;
  logger.info({ port: server.port, ms: Date.now() - started }, "listening; health and reflection answer, the database is starting");
  const database = await runtime.ready;
  logger.info({ port: server.port, ms: Date.now() - started, database: database.kind }, "MedSchedule serving");
  // The demo clinic (DEMO_CLINIC): by default only into a fresh DATA_DIR, with generated dev auth, on
  // the embedded database; never into a database that may hold a real clinic's data unless asked.
  const seedDemo = config.demoClinic === "on" || (config.demoClinic === "auto" && fresh && runtime.devTokens !== undefined && !config.databaseUrl);
  let demoSeeded = false;
  if (seedDemo) {
    try {
      const demo = await seedDemoClinic({ registrations: runtime.registrations, token: runtime.serviceToken ?? "", adminToken: runtime.devTokens?.tokens.admin });
      logger.info({ providers: demo.providers.length, appointments: demo.appointments.length }, "demo clinic seeded (DEMO_CLINIC=off skips it)");
      demoSeeded = true;
    } catch (err) {
      logger.warn({ err }, "demo clinic: seeding failed; MedSchedule serves without it (the next start tries again)");
    }
  }
  if (fresh && (demoSeeded || !seedDemo)) await releaseFreshDataDir(config.dataDir);
  if (runtime.devTokens) {
    const lines = [
      "",
      `MedSchedule is up on ${url} (Connect, gRPC-web and gRPC; metrics at ${url}/metrics).`,
      `Web app: ${url} (pick a role on the page: dev login).`,
      ...(demoSeeded ? ["Demo clinic seeded: three doctors, their hours and a few appointments; the doctor token is Dr. Ayşe Yılmaz, the patient token her patient."] : []),
      `Dev tokens, one per role: ${runtime.devTokens.tokensFile}`,
      ...Object.entries(runtime.devTokens.tokens).map(([role, token]) => `  ${role.padEnd(12)} ${token}`),
      "Try:",
      `  npx buf curl --http2-prior-knowledge --list-services ${url}`,
      `  npx buf curl --http2-prior-knowledge -H "authorization: Bearer ${runtime.devTokens.tokens.receptionist}" \\`,
      `    -d '{"displayName":"Dr. Ada Lovelace","timeZone":"Europe/Istanbul","specialty":"cardiology"}' \\`,
      `    ${url}/medschedule.scheduling.v1.SchedulingService/CreateProvider`,
      "",
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
} catch (err) {
  exitOnStartupError("gateway", err, logger);
}
