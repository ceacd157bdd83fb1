import http from "node:http";
import { Code } from "@connectrpc/connect";
import { Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RpcInterceptor } from "../server/interceptors.js";
import type { Logger } from "./logger.js";

/** metricsRegistry holds every metric of the process; `GET /metrics` serves it. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** rpcServerDuration is `rpc_server_duration_seconds`, labelled service, method and code. */
export const rpcServerDuration = new Histogram({
  name: "rpc_server_duration_seconds",
  help: "Duration of RPCs handled by this process, by service (full name), method and status code.",
  labelNames: ["service", "method", "code"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

/** codeName is the canonical upper-case name of a status code, e.g. "OK", "ABORTED". */
export function codeName(code: Code | undefined): string {
  if (code === undefined) return "OK";
  const name = Code[code];
  return name ? name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace("CANCELED", "CANCELLED") : "UNKNOWN";
}

/** createMetricsInterceptor records rpc_server_duration_seconds for every call. */
export function createMetricsInterceptor(): RpcInterceptor {
  // prom-client hashes the label set on every observe(); the children are cached per label set instead.
  const children = new Map<string, ReturnType<typeof rpcServerDuration.labels>>();
  return {
    after(call, error) {
      const seconds = Number(process.hrtime.bigint() - call.startedAt) / 1e9;
      const key = `${call.procedure} ${error?.code ?? 0}`;
      let child = children.get(key);
      if (!child) {
        child = rpcServerDuration.labels({ service: call.service.typeName, method: call.method.name, code: codeName(error?.code) });
        children.set(key, child);
      }
      child.observe(seconds);
    },
  };
}

/** handleMetricsRequest answers `GET /metrics` in the Prometheus text format; returns false for other paths. */
export function handleMetricsRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.url !== "/metrics" && !req.url?.startsWith("/metrics?")) return false;
  metricsRegistry.metrics().then(
    (body) => {
      res.writeHead(200, { "content-type": metricsRegistry.contentType });
      res.end(body);
    },
    (err: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`metrics collection failed: ${(err as Error).message}\n`);
    },
  );
  return true;
}

/** serveMetrics serves `GET /metrics` on its own port (METRICS_PORT); port 0 in config disables it. */
export async function serveMetrics(port: number, logger?: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (!handleMetricsRequest(req, res)) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: try /metrics\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  logger?.info({ port: bound }, "metrics on /metrics");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
