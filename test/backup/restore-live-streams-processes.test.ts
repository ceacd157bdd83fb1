// RestoreBackup with screens open against `npm run cluster`: the gateway and the services as separate
// processes on Postgres, two replicas of queue and scheduling. The restore runs in the backup process;
// the streams are served by a queue and a scheduling replica that learn of it only from the database
// (no poke, no NOTIFY of the restore). The same scenario as restore-live-streams.test.ts: every open
// stream gets a fresh snapshot with resumeFailed, ticket numbers go on after the last one handed out,
// a board of a queue the restore removed ends with NOT_FOUND, and no audit row is lost.
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { createGrpcJsTransport } from "../../services/runtime/grpc-transport.js";
import { auditKeptAcrossRestore, restoreWithOpenStreams } from "../helpers/restore-scenario.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { redisUrl } from "../helpers/redis.js";

// Generous: a stream that stays silent fails only after its hang bound (stream-reader.ts), once per screen.
t.setTimeout(600_000);

t.test("npm run cluster: open streams, ticket numbers and audit rows across a restore", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-restore-cluster-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const databaseUrl = await createTestDatabase(t);
  // The cluster takes fixed ports: a random range below Linux's ephemeral range (32768-60999), as
  // cluster.test.ts does, so neither parallel test files nor outgoing connections take them first.
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
  };
  const child = spawn(process.execPath, ["dist/scripts/cluster.js"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  // Every member SERVING (the bound only guards against a hang).
  const members = [base, base + 1, base + 7, base + 2, base + 8, base + 3, base + 4];
  const deadline = Date.now() + 180_000;
  for (const port of members) {
    const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${port}`] });
    const health = createClient(Health, transport);
    let status: HealthCheckResponse_ServingStatus | undefined;
    while (Date.now() < deadline && child.exitCode === null) {
      status = await health.check({}, { timeoutMs: 1_000 }).then((r) => r.status, () => undefined);
      if (status === HealthCheckResponse_ServingStatus.SERVING) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    transport.close();
    if (status !== HealthCheckResponse_ServingStatus.SERVING) {
      t.fail(`member on port ${port} did not become SERVING`, { output });
      return;
    }
  }

  const tokens = JSON.parse(await readFile(path.join(dataDir, "dev-tokens.json"), "utf8")) as Record<string, string>;
  const seen = await restoreWithOpenStreams(t, {
    address: `127.0.0.1:${base}`,
    tokens: { admin: tokens.admin, receptionist: tokens.receptionist, display: tokens.display },
    prefix: "RC",
  });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }) });
  try {
    await auditKeptAcrossRestore(t, db, seen);
  } finally {
    await db.destroy();
  }

  child.kill("SIGTERM");
  t.equal(await exited, 0, "the cluster drains and exits 0", { output });
});
