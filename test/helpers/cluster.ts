// `npm run cluster` started by a test: the gateway and the five services as separate processes (two
// replicas of scheduling and queue) on a fresh Postgres database and the test Redis, and a wait for
// every member to report SERVING.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { createTestDatabase, type TeardownHost } from "./postgres.js";
import { redisUrl } from "./redis.js";

/** RunningCluster is a `dist/scripts/cluster.js` child process and where its members listen. */
export interface RunningCluster {
  /** base is the gateway's port; the members take base+1.. and their metrics base-10000+.. */
  base: number;
  /** members are the gRPC ports: gateway, scheduling x2, queue x2, lock, backup, patient. */
  members: number[];
  /** dataDir is the cluster's DATA_DIR (dev-tokens.json, page-token-secret). */
  dataDir: string;
  /** databaseUrl is the fresh Postgres database the cluster runs on. */
  databaseUrl: string;
  /** child is the cluster's process; SIGTERM drains it. */
  child: ChildProcess;
  /** output is everything the cluster printed so far. */
  output(): string;
  /** exited resolves with the cluster's exit code. */
  exited: Promise<number | null>;
}

/** startCluster spawns `npm run cluster` on a fresh database; it is SIGKILLed at teardown if still running. */
export async function startCluster(t: TeardownHost): Promise<RunningCluster> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-cluster-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const databaseUrl = await createTestDatabase(t);
  // The cluster takes fixed ports: a random range below Linux's ephemeral range (32768-60999), so
  // neither parallel test files nor the outgoing connections of other tests take them first.
  const base = 20_000 + Math.floor(Math.random() * 1_200) * 10;
  const env = {
    PATH: process.env.PATH ?? "",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl(),
    DATA_DIR: dataDir,
    PORT: String(base),
    CLUSTER_PORT_BASE: String(base + 1),
    CLUSTER_METRICS_BASE: String(base - 10_000),
    LOG_LEVEL: "warn",
    // The workloads run on a cluster book and ticket made-up patient ids, as in the test system.
    PATIENT_CHECK: "off",
  };
  const child = spawn(process.execPath, ["dist/scripts/cluster.js"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const members = [base, base + 1, base + 7, base + 2, base + 8, base + 3, base + 4, base + 5];
  return { base, members, dataDir, databaseUrl, child, output: () => output, exited };
}

/** memberStatuses waits until each member answers SERVING on grpc.health.v1, or `boundMs` (a hang guard) passes; the last status of each. */
export async function memberStatuses(cluster: RunningCluster, boundMs: number): Promise<Array<{ port: number; status?: HealthCheckResponse_ServingStatus }>> {
  const deadline = Date.now() + boundMs;
  const statuses: Array<{ port: number; status?: HealthCheckResponse_ServingStatus }> = [];
  for (const port of cluster.members) {
    const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${port}`] });
    const health = createClient(Health, transport);
    let status: HealthCheckResponse_ServingStatus | undefined;
    while (Date.now() < deadline && cluster.child.exitCode === null) {
      status = await health.check({}, { timeoutMs: 1_000 }).then((r) => r.status, () => undefined);
      if (status === HealthCheckResponse_ServingStatus.SERVING) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    transport.close();
    statuses.push({ port, status });
  }
  return statuses;
}
