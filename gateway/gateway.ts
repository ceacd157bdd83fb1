import type http from "node:http";
import { serveConnect, type ConnectServerHandle, type HttpRoute } from "../services/runtime/connect-server.js";
import { handleMetricsRequest } from "../services/runtime/metrics.js";
import type { Runtime } from "../services/runtime/host.js";

const LANDING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>MedSchedule</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;padding:.1rem .3rem;border-radius:4px}pre{padding:.75rem;overflow:auto}</style>
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

/** landingRoute serves a short page at "/" saying how to call the API. */
export const landingRoute: HttpRoute = (req, res) => {
  if (req.method !== "GET" || (req.url !== "/" && req.url !== "/index.html")) return false;
  (res as http.ServerResponse).writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(LANDING);
  return true;
};

/** metricsRoute serves `GET /metrics` on the gateway port. */
export const metricsRoute: HttpRoute = (req, res) => handleMetricsRequest(req as http.IncomingMessage, res as http.ServerResponse);

/** startGateway serves the runtime's services on the gateway port with Connect, gRPC-web and gRPC. */
export async function startGateway(runtime: Runtime, port = runtime.config.port): Promise<ConnectServerHandle> {
  return serveConnect({
    port,
    services: runtime.registrations,
    httpRoutes: [metricsRoute, landingRoute],
    logger: runtime.logger,
    corsOrigins: runtime.config.corsOrigins,
    tls: runtime.config.tlsCertFile && runtime.config.tlsKeyFile ? { certFile: runtime.config.tlsCertFile, keyFile: runtime.config.tlsKeyFile } : undefined,
  });
}
