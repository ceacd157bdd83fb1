// RestoreBackup with screens open against `npm run cluster`: the gateway and the services as separate
// processes on Postgres, two replicas of queue and scheduling. The restore runs in the backup process;
// the streams are served by a queue and a scheduling replica that learn of it only from the database
// (no poke, no NOTIFY of the restore). The same scenario as restore-live-streams.test.ts: every open
// stream gets a fresh snapshot with resumeFailed, ticket numbers go on after the last one handed out,
// a board of a queue the restore removed ends with NOT_FOUND, and no audit row is lost.
import t from "tap";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { startCluster, memberStatuses } from "../helpers/cluster.js";
import { auditKeptAcrossRestore, restoreWithOpenStreams } from "../helpers/restore-scenario.js";

// Generous: a stream that stays silent fails only after its hang bound (stream-reader.ts), once per screen.
t.setTimeout(600_000);

t.test("npm run cluster: open streams, ticket numbers and audit rows across a restore", async (t) => {
  const cluster = await startCluster(t);
  const { base, dataDir, databaseUrl, output, exited } = cluster;
  // Every member SERVING (the bound only guards against a hang).
  for (const { port, status } of await memberStatuses(cluster, 180_000)) {
    if (status !== HealthCheckResponse_ServingStatus.SERVING) {
      t.fail(`member on port ${port} did not become SERVING`, { output: output() });
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

  cluster.child.kill("SIGTERM");
  t.equal(await exited, 0, "the cluster drains and exits 0", { output: output() });
});
