import { createRuntime, exitOnStartupError, onShutdownSignal, startMetrics } from "../host.js";
import { restrictNewFiles } from "./private-files.js";
import { serveGrpc } from "../server/grpc-server.js";
import type { ServiceModule } from "../service-module.js";

/**
 * serveService runs one service as its own process: a grpc-js server on PORT (default the module's
 * port), /metrics on METRICS_PORT, migrations at start, and a graceful drain on SIGTERM.
 */
export async function serveService(module: ServiceModule): Promise<void> {
  restrictNewFiles();
  let runtime;
  try {
    runtime = await createRuntime({ name: module.name, modules: [module], defaultPort: module.defaultPort });
  } catch (err) {
    exitOnStartupError(module.name, err);
  }
  const { config, logger } = runtime;
  try {
    const metrics = await startMetrics(config, logger);
    const server = await serveGrpc({ port: config.port, services: runtime.registrations, logger });
    logger.info({ port: server.port, services: runtime.registrations.map((r) => r.service.typeName) }, `${module.name} serving gRPC`);
    onShutdownSignal(runtime, async () => {
      await server.close(config.shutdownGraceMs);
      await metrics?.close();
      await runtime.close();
    });
    await runtime.ready;
    logger.info(`${module.name} ready`);
  } catch (err) {
    exitOnStartupError(module.name, err, logger);
  }
}
