// `npm run cluster`: the gateway and the services as separate processes (two replicas of scheduling
// and queue) on real Postgres and Redis. Every member becomes SERVING, calls through the gateway
// reach both queue replicas (and page across them), every member runs with the heap cap, and SIGTERM drains the whole
// cluster to exit 0. A bad CLUSTER_HEAP_MB stops it at start.
import t from "tap";
import { spawnSync } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { DEFAULT_HEAP_MB } from "../../scripts/member-node-args.js";
import { memberStatuses, startCluster } from "../helpers/cluster.js";

t.setTimeout(150_000);

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

/** queueCalls sums rpc_server_duration_seconds_count of the QueueService in a scrape. */
function queueCalls(metrics: string): number {
  let n = 0;
  for (const line of metrics.split("\n")) {
    if (line.startsWith("rpc_server_duration_seconds_count{") && line.includes('service="medschedule.queue.v1.QueueService"')) n += Number(line.split(" ").pop());
  }
  return n;
}

t.test("npm run cluster: seven processes, both replicas used, SIGTERM drains all", async (t) => {
  const cluster = await startCluster(t);
  const { base, dataDir, child, output, exited } = cluster;
  for (const { port, status } of await memberStatuses(cluster, 60_000)) {
    t.equal(status, HealthCheckResponse_ServingStatus.SERVING, `member on port ${port} is SERVING`, { output: status === HealthCheckResponse_ServingStatus.SERVING ? undefined : output() });
  }

  // Every member runs with the default heap cap (scripts/member-node-args.ts).
  const memberArgs: string[][] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== child.pid) continue;
    memberArgs.push((await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0"));
  }
  t.equal(memberArgs.length, 7, "seven member processes");
  t.ok(memberArgs.every((a) => a.includes(`--max-old-space-size=${DEFAULT_HEAP_MB}`) && a.includes("--max-semi-space-size=8")), "each with the heap cap", { memberArgs });

  const tokens = JSON.parse(await readFile(path.join(dataDir, "dev-tokens.json"), "utf8")) as Record<string, string>;
  const viaGateway = createGrpcJsTransport({ addresses: [`127.0.0.1:${base}`], headers: { authorization: `Bearer ${tokens.receptionist}` } });
  t.teardown(() => viaGateway.close());
  const queue = createClient(QueueService, viaGateway);
  const created = await queue.createQueue({ displayName: "Cluster test", prefix: "C", timeZone: "Europe/Istanbul" });
  for (let i = 0; i < 10; i++) await queue.listTickets({ queueId: created.queue!.queueId });
  const [first, second] = await Promise.all([scrape(base - 10_000 + 2), scrape(base - 10_000 + 3)]);
  t.ok(queueCalls(first) > 0 && queueCalls(second) > 0, `both queue replicas served calls (${queueCalls(first)} and ${queueCalls(second)})`);

  // Pages are asked of the replicas in turn: each opens the other's page tokens (one PAGE_TOKEN_SECRET).
  // A prefix belongs to one queue: each its own.
  for (const name of ["Page A", "Page B", "Page C"]) await queue.createQueue({ displayName: name, prefix: `P${name.slice(-1)}`, timeZone: "UTC" });
  const listed: string[] = [];
  try {
    let pageToken = "";
    do {
      const page = await queue.listQueues({ pageSize: 1, pageToken });
      listed.push(...page.queues.map((q) => q.displayName));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && listed.length < 10);
  } catch (err) {
    // Reported, and the cluster still drained below (a thrown error would leave its members running).
    t.fail(`paging failed: ${(err as Error).message}`);
  }
  t.same(listed, ["Cluster test", "Page A", "Page B", "Page C"], "paging across both queue replicas lists every queue once");
  t.ok((await readFile(path.join(dataDir, "page-token-secret"), "utf8")).trim().length >= 32, "the shared secret is kept in DATA_DIR");

  const stoppedAt = Date.now();
  child.kill("SIGTERM");
  t.equal(await exited, 0, "the cluster exits 0 after SIGTERM");
  t.ok(Date.now() - stoppedAt < 30_000, `drained in ${Date.now() - stoppedAt} ms`);
});

t.test("a bad CLUSTER_HEAP_MB stops the cluster at start: one line, exit 2", async (t) => {
  const r = spawnSync(process.execPath, ["dist/scripts/cluster.js"], { env: { PATH: process.env.PATH ?? "", CLUSTER_HEAP_MB: "lots" }, encoding: "utf8", timeout: 30_000 });
  t.equal(r.status, 2);
  t.match(r.stderr, /^medschedule cluster: configuration error: CLUSTER_HEAP_MB must be a whole number of MiB \(0 for V8's default\), got "lots"\n$/);
});
