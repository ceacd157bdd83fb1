// `npm start`: the whole system in one process on PORT (default 8080): the gateway mounts the four
// service classes in-process, on embedded PGlite in DATA_DIR unless DATABASE_URL is set.
import { backupModule } from "../services/backup/backup.module.js";
import { lockModule } from "../services/lock/lock.module.js";
import { queueModule } from "../services/queue/queue.module.js";
import { schedulingModule } from "../services/scheduling/scheduling.module.js";
import { ConfigError } from "../services/runtime/config.js";
import { createRuntime, exitOnStartupError, onShutdownSignal } from "../services/runtime/host.js";
import { startGateway } from "./gateway.js";

const started = Date.now();
let runtime;
try {
  const env = process.env;
  if (env.SCHEDULING_ADDR || env.QUEUE_ADDR || env.LOCK_ADDR || env.BACKUP_ADDR) {
    throw new ConfigError("forwarding to separate service processes (*_ADDR) is not available yet; unset SCHEDULING_ADDR, QUEUE_ADDR, LOCK_ADDR and BACKUP_ADDR to run everything in this process");
  }
  runtime = await createRuntime({
    name: "gateway",
    modules: [schedulingModule, queueModule, lockModule, backupModule],
    defaultPort: 8080,
    devAuth: true,
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
  if (runtime.devTokens) {
    const lines = [
      "",
      `MedSchedule is up on ${url} (Connect, gRPC-web and gRPC; metrics at ${url}/metrics).`,
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
