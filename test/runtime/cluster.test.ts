// `npm run cluster`: the gateway and the five services as separate processes (two replicas of scheduling
// and queue) on real Postgres and Redis. Every member becomes SERVING, calls through the gateway
// reach both queue replicas (and page across them) and the patient service, every member runs with the heap cap, the
// data keys kept in DATA_DIR reach exactly their own service (the same on every replica), and SIGTERM drains the whole
// cluster to exit 0. A bad CLUSTER_HEAP_MB stops it at start.
import t from "tap";
import { spawnSync } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
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

/** calls sums rpc_server_duration_seconds_count of one service (full name) in a scrape. */
function calls(metrics: string, service: string): number {
  let n = 0;
  for (const line of metrics.split("\n")) {
    if (line.startsWith("rpc_server_duration_seconds_count{") && line.includes(`service="${service}"`)) n += Number(line.split(" ").pop());
  }
  return n;
}

/** queueCalls sums rpc_server_duration_seconds_count of the QueueService in a scrape. */
function queueCalls(metrics: string): number {
  return calls(metrics, QueueService.typeName);
}

/** environOf reads a process's environment (/proc/<pid>/environ). */
async function environOf(pid: string): Promise<Map<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
  return new Map(raw.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

t.test("npm run cluster: eight processes, both replicas used, SIGTERM drains all", async (t) => {
  const cluster = await startCluster(t);
  const { base, dataDir, child, output, exited } = cluster;
  for (const { port, status } of await memberStatuses(cluster, 60_000)) {
    t.equal(status, HealthCheckResponse_ServingStatus.SERVING, `member on port ${port} is SERVING`, { output: status === HealthCheckResponse_ServingStatus.SERVING ? undefined : output() });
  }

  // Every member runs with the default heap cap (scripts/member-node-args.ts).
  const memberArgs: string[][] = [];
  const memberEnv = new Map<string, Map<string, string>[]>();
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== child.pid) continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    memberArgs.push(args);
    const component = /dist\/(?:services\/(\w+)|(gateway))\/main\.js$/.exec(args.find((a) => a.endsWith("main.js")) ?? "");
    const name = component?.[1] ?? component?.[2] ?? "?";
    memberEnv.set(name, [...(memberEnv.get(name) ?? []), await environOf(pid)]);
  }
  t.equal(memberArgs.length, 8, "eight member processes");
  t.same([...memberEnv.keys()].sort(), ["backup", "gateway", "lock", "patient", "queue", "scheduling"], "the gateway and the five services");
  t.ok(memberArgs.every((a) => a.includes(`--max-old-space-size=${DEFAULT_HEAP_MB}`) && a.includes("--max-semi-space-size=8")), "each with the heap cap", { memberArgs });

  // The data keys: kept in DATA_DIR as by `npm start`, the same on every replica, and only where needed.
  const kept = async (file: string) => (await readFile(path.join(dataDir, file), "utf8")).trim();
  const wanted: Record<string, Record<string, string>> = {
    patient: { PATIENT_ENCRYPTION_KEYS: await kept("patient-encryption-keys"), PATIENT_INDEX_KEY: await kept("patient-index-key") },
    scheduling: { SCHEDULING_ENCRYPTION_KEYS: await kept("scheduling-encryption-keys") },
  };
  t.match(wanted.patient.PATIENT_ENCRYPTION_KEYS, /^\w+:[A-Za-z0-9+/]{43}=$/, "a generated id:base64key");
  t.equal(wanted.scheduling.SCHEDULING_ENCRYPTION_KEYS === wanted.patient.PATIENT_ENCRYPTION_KEYS, false, "the appointment reasons have their own key");
  for (const [name, envs] of memberEnv) {
    for (const env of envs) {
      for (const key of ["PATIENT_ENCRYPTION_KEYS", "PATIENT_INDEX_KEY", "SCHEDULING_ENCRYPTION_KEYS"]) {
        t.equal(env.get(key), wanted[name]?.[key], `${name}: ${key} ${wanted[name]?.[key] ? "is the kept one" : "is not given"}`);
      }
    }
  }
  t.equal(memberEnv.get("scheduling")?.length, 2, "two scheduling replicas, both with the kept key (above)");
  for (const name of ["gateway", "scheduling", "queue"]) t.equal(memberEnv.get(name)?.[0].get("PATIENT_ADDR"), `127.0.0.1:${base + 5}`, `${name}: PATIENT_ADDR`);
  t.equal(memberEnv.get("patient")?.[0].get("SCHEDULING_ADDR"), `127.0.0.1:${base + 1},127.0.0.1:${base + 7}`, "patient: SCHEDULING_ADDR, both replicas");
  t.equal(memberEnv.get("patient")?.[0].get("QUEUE_ADDR"), `127.0.0.1:${base + 2},127.0.0.1:${base + 8}`, "patient: QUEUE_ADDR, both replicas");

  const tokens = JSON.parse(await readFile(path.join(dataDir, "dev-tokens.json"), "utf8")) as Record<string, string>;
  const viaGateway = createGrpcJsTransport({ addresses: [`127.0.0.1:${base}`], headers: { authorization: `Bearer ${tokens.receptionist}` } });
  t.teardown(() => viaGateway.close());
  const queue = createClient(QueueService, viaGateway);
  const created = await queue.createQueue({ displayName: "Cluster test", prefix: "C", timeZone: "Europe/Istanbul" });
  for (let i = 0; i < 10; i++) await queue.listTickets({ queueId: created.queue!.queueId });
  const [first, second] = await Promise.all([scrape(base - 10_000 + 2), scrape(base - 10_000 + 3)]);
  t.ok(queueCalls(first) > 0 && queueCalls(second) > 0, `both queue replicas served calls (${queueCalls(first)} and ${queueCalls(second)})`);

  // The gateway forwards the PatientService to the patient process (whatever it answers).
  const patients = createClient(PatientService, viaGateway);
  await patients.getPatient({ patientId: "cluster-test-nobody" }).catch(() => undefined);
  const patientCalls = calls(await scrape(base - 10_000 + 6), PatientService.typeName);
  t.ok(patientCalls > 0, `the patient process served the call forwarded by the gateway (${patientCalls})`);

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
