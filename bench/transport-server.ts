/**
 * The server side of the transport benchmark, run as a child process of bench/transport.ts:
 * `node dist/bench/transport-server.js <kind>` starts one server on 127.0.0.1:0 serving
 * grpc.health.v1.Health/Check, sends `{ type: "ready", port }` over IPC, answers `{ type: "count" }`
 * with how many Check calls succeeded so far and the process's CPU time, and exits cleanly on `{ type: "stop" }` (so that
 * `--cpu-prof` can write its profile). Only types are exported: importing this module runs the server.
 */
import type { HealthCheckRequest } from "../gen/health/v1/health_pb.js";
import type { ServiceRegistration } from "../services/runtime/server/grpc-server.js";

/** ServerKind names the servers the transport benchmark can start. */
export type ServerKind = "grpc-js" | "serveGrpc" | "serveGrpc+interceptors" | "serveConnect";

const serverKinds: readonly ServerKind[] = ["grpc-js", "serveGrpc", "serveGrpc+interceptors", "serveConnect"];

/** ServerMessage is what the server child sends to the runner. */
export type ServerMessage = { type: "ready"; port: number } | { type: "count"; ok: number; failed: number; cpuMs: number };

/** RunnerMessage is what the runner sends to the server child. */
export type RunnerMessage = { type: "count" } | { type: "stop" };

const counts = { ok: 0, failed: 0 };

async function startBareGrpcJs(): Promise<{ port: number; close(): Promise<void> }> {
  const grpc = await import("@grpc/grpc-js");
  const { loadHealthProto } = await import("./health-proto.js");
  const Health = loadHealthProto();
  // The same table lookup HealthServiceImpl does, nothing else.
  const statuses = new Map<string, string>([["", "SERVING"], ["grpc.health.v1.Health", "SERVING"]]);
  const server = new grpc.Server();
  server.addService(Health.service, {
    Check(call: import("@grpc/grpc-js").ServerUnaryCall<{ service: string }, unknown>, callback: import("@grpc/grpc-js").sendUnaryData<unknown>) {
      const status = statuses.get(call.request.service);
      if (status === undefined) {
        counts.failed++;
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        return;
      }
      counts.ok++;
      callback(null, { status });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

const asImpl = (impl: object): ServiceRegistration["impl"] => impl as ServiceRegistration["impl"];

async function countingHealth() {
  const { HealthServiceImpl } = await import("../services/runtime/server/health.js");
  /** CountingHealth is HealthServiceImpl counting the Check calls that answered. */
  class CountingHealth extends HealthServiceImpl {
    override check(req: HealthCheckRequest) {
      try {
        const res = super.check(req);
        counts.ok++;
        return res;
      } catch (err) {
        counts.failed++;
        throw err;
      }
    }
  }
  return new CountingHealth(["grpc.health.v1.Health"]);
}

async function start(kind: ServerKind): Promise<{ port: number; close(): Promise<void> }> {
  switch (kind) {
    case "grpc-js":
      return startBareGrpcJs();
    case "serveGrpc":
    case "serveGrpc+interceptors": {
      const { serveGrpc } = await import("../services/runtime/server/grpc-server.js");
      const { Health } = await import("../gen/health/v1/health_pb.js");
      const health = await countingHealth();
      let impl = asImpl(health);
      if (kind === "serveGrpc+interceptors") {
        const { wrapService } = await import("../services/runtime/server/interceptors.js");
        const { createMetricsInterceptor } = await import("../services/runtime/observability/metrics.js");
        impl = asImpl(wrapService(Health, health, [createMetricsInterceptor()]));
      }
      const handle = await serveGrpc({ port: 0, host: "127.0.0.1", services: [{ service: Health, impl }] });
      return { port: handle.port, close: () => handle.close(2_000) };
    }
    case "serveConnect": {
      const { serveConnect } = await import("../services/runtime/server/connect-server.js");
      const { Health } = await import("../gen/health/v1/health_pb.js");
      const impl = asImpl(await countingHealth());
      const handle = await serveConnect({ port: 0, host: "127.0.0.1", services: [{ service: Health, impl }] });
      return { port: handle.port, close: () => handle.close(2_000) };
    }
  }
}

async function main(): Promise<void> {
  const kind = process.argv[2] as ServerKind;
  if (!serverKinds.includes(kind)) throw new Error(`usage: transport-server.js <${serverKinds.join("|")}>`);
  if (!process.send) throw new Error("transport-server.js must be started by the runner with an IPC channel");
  const server = await start(kind);
  const send = (m: ServerMessage) => process.send?.(m);
  process.on("message", (m: RunnerMessage) => {
    if (m.type === "count") {
      const cpu = process.cpuUsage();
      send({ type: "count", ...counts, cpuMs: (cpu.user + cpu.system) / 1000 });
    }
    if (m.type === "stop") {
      void server.close().finally(() => {
        process.disconnect?.();
        process.exit(0);
      });
    }
  });
  // The runner going away (crash, Ctrl-C) takes the server with it.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", port: server.port });
}

main().catch((err: unknown) => {
  console.error(`transport-server ${process.argv[2]}:`, err);
  process.exit(1);
});
