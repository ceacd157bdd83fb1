// istio/ against the code: which principal may call which gRPC path (and the metrics ports) is
// computed from the AuthorizationPolicies and compared with the call graph the code configures.
// Any extra or missing edge fails.
//
// "What the code configures" is derived, not copied (grep-based over the TypeScript sources):
//  * gateway -> every method of every service in GATEWAY_SERVICES (gateway/gateway.ts), and its
//    Deployment sets exactly those services' *_ADDR;
//  * a service -> the methods it calls on clients obtained with `peers.client(XService)` in
//    services/<name>/ and in the services/runtime files those import (e.g. a shared client port)
//    (`const x = this.peers.client(X)` then `x.method(`), and its Deployment sets exactly those
//    services' *_ADDR;
//  * issue 21's edges around the patient service (PATIENT_EDGES), declared: ResolvePatient from
//    scheduling and queue, ReassignPatient from patient to both. Code that calls across the patient
//    service must make only these; the policies allow exactly these whether or not every caller has
//    landed yet (their features arrive on their own branches; see the test's comment lines);
//  * the backup CronJobs' account -> the methods the backup CLI's `run` command calls (cli.ts),
//    the command the CronJobs run;
//  * Prometheus -> every http-metrics port; the ingress gateway -> the gateway (not /metrics);
//  * Redis and Sentinel -> the Deployments configured with REDIS_URL / REDIS_SENTINELS, plus Redis
//    and Sentinel themselves.
import t from "tap";
import type { Test } from "tap";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { GATEWAY_SERVICES } from "../../gateway/gateway.js";
import { upstreamName } from "../../services/runtime/clients/peers.js";
import { COMPONENTS, OVERLAYS, SERVICES, byKind, envOf, find, kubectlMissing, listSourceFiles, loadIstio, podOwners, readRepoFile, renderOverlay, selects, type K8sObject } from "./manifests.js";

const NAMESPACE = "medschedule";
/** PROMETHEUS is Prometheus' identity (namespace monitoring, service account prometheus; README "Deploy"). */
const PROMETHEUS = "cluster.local/ns/monitoring/sa/prometheus";
/** INGRESS is the Istio ingress gateway's identity (the default install's account). */
const INGRESS = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
const ALL_SERVICES: DescService[] = [SchedulingService, QueueService, LockService, BackupService, PatientService];
const byLocalName = (s: DescService, local: string) => s.methods.find((m) => m.localName === local);
const rpcPath = (s: DescService, method: string) => `/${s.typeName}/${method}`;
const principal = (sa: string) => `cluster.local/ns/${NAMESPACE}/sa/${sa}`;
/** APP_OF maps a service to the Deployment (label app) serving it. */
const appOf = (s: DescService) => upstreamName(s)!;

/**
 * PATIENT_EDGES are issue 21's service-to-service calls around the patient service (DESIGN.md section
 * 7): a booking's or ticket's patientId is checked with ResolvePatient (whether it exists, which
 * record survived a merge; no patient data), and MergePatients moves the merged record's appointments
 * and tickets to the survivor with ReassignPatient. The gateway's forwarding and Prometheus come on
 * top, as for every service.
 */
const PATIENT_EDGES: { caller: string; service: DescService; method: string }[] = [
  { caller: "scheduling", service: PatientService, method: "ResolvePatient" },
  { caller: "queue", service: PatientService, method: "ResolvePatient" },
  { caller: "patient", service: SchedulingService, method: "ReassignPatient" },
  { caller: "patient", service: QueueService, method: "ReassignPatient" },
];

/** sourcesOf lists a service's own files and the services/runtime files they import (one level: a shared client port there is used on behalf of the importing service). */
function sourcesOf(caller: string): string[] {
  const own = listSourceFiles(`services/${caller}`);
  const runtime = new Set<string>();
  const known = new Set(listSourceFiles("services/runtime"));
  for (const f of own) {
    for (const m of readRepoFile(f).matchAll(/from\s+"(\.\.\/[^"]*runtime\/[^"]+)\.js"/g)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), `${m[1]}.ts`));
      if (known.has(target)) runtime.add(target);
    }
  }
  return [...own, ...[...runtime].sort()];
}

/** callsIn finds, in some source files, the methods called on peers.client(X) clients. */
function callsIn(files: string[]): { service: DescService; method: string; where: string }[] {
  const out: { service: DescService; method: string; where: string }[] = [];
  for (const file of files) {
    const src = readRepoFile(file);
    const vars = [...src.matchAll(/(?:const|let)\s+(\w+)\s*=\s*(?:this\.)?(?:#?\w+\.)*#?peers\.client\((\w+)\)/g)].map((m) => ({ name: m[1], service: m[2] }));
    const inline = [...src.matchAll(/peers\.client\((\w+)\)\s*\.\s*(\w+)\s*\(/g)].map((m) => ({ service: m[1], method: m[2] }));
    const all = [...src.matchAll(/peers\.client\((\w+)\)/g)].length;
    if (all !== vars.length + inline.length) throw new Error(`${file}: a peers.client(...) use the test cannot follow; assign it to a const or call a method on it directly`);
    const calls = [
      ...inline,
      ...vars.flatMap((v) => [...src.matchAll(new RegExp(`\\b${v.name}\\s*\\.\\s*(\\w+)\\s*\\(`, "g"))].map((m) => ({ service: v.service, method: m[1] }))),
    ];
    for (const c of calls) {
      const service = ALL_SERVICES.find((s) => s.name === c.service);
      if (!service) throw new Error(`${file}: peers.client(${c.service}) is not a MedSchedule service`);
      const m = byLocalName(service, c.method);
      if (!m) throw new Error(`${file}: ${c.service} has no method ${c.method}`);
      out.push({ service, method: m.name, where: file });
    }
  }
  return out;
}

/** allowedEdges computes "principal -> app: what" from the AuthorizationPolicies of istio/. */
function allowedEdges(t: Test, policies: K8sObject[], objects: K8sObject[]): Set<string> {
  const edges = new Set<string>();
  const pods = podOwners(objects);
  for (const p of policies) {
    const name = p.metadata.name;
    if (name === "allow-nothing") continue;
    t.equal(p.spec.action ?? "ALLOW", "ALLOW", `${name}: ALLOW policy`);
    const app = p.spec.selector?.matchLabels?.app;
    t.ok(app, `${name}: selects workloads by app`);
    t.ok(
      pods.some((o) => selects(p.spec.selector.matchLabels, o.template.metadata.labels)) || (app === "redis-sentinel" && !find(objects, "StatefulSet", "redis-sentinel")) || (app === "postgres" && !find(objects, "StatefulSet", "medschedule-pg")),
      `${name}: its selector matches pods (or the overlay has none of them)`,
    );
    const service = ALL_SERVICES.find((s) => appOf(s) === app);
    const grpcPort = app === "gateway" ? 8080 : service ? SERVICES[app as keyof typeof SERVICES] : undefined;
    const svcObj = find(objects, "Service", app);
    const metricsPort = app === "gateway" ? 8080 : svcObj?.spec.ports.find((x: any) => x.name === "http-metrics")?.port;
    for (const [i, rule] of (p.spec.rules ?? []).entries()) {
      const where = `${name} rule ${i}`;
      const froms = rule.from ?? [];
      t.ok(froms.length > 0, `${where}: names its callers (a rule without from allows everyone)`);
      const principals: string[] = [];
      for (const f of froms) {
        const keys = Object.keys(f.source ?? {});
        t.same(keys, ["principals"], `${where}: callers by principal only`);
        principals.push(...(f.source?.principals ?? []));
      }
      for (const to of rule.to ?? [{ operation: {} }]) {
        const op = to.operation ?? {};
        const ports: string[] = op.ports ?? [];
        t.equal(ports.length, 1, `${where}: one port per operation`);
        const port = Number(ports[0]);
        const whats: string[] = [];
        if (op.notPaths) {
          t.same(op.notPaths.filter((x: string) => !x.startsWith("/metrics")), [], `${where}: notPaths only exclude /metrics`);
          t.equal(port, grpcPort, `${where}: the gateway's port`);
          whats.push("public");
        } else if (op.paths?.includes("/metrics")) {
          t.same(op.paths, ["/metrics"], `${where}: /metrics alone`);
          t.equal(port, metricsPort, `${where}: the metrics port ${metricsPort}`);
          whats.push("metrics");
        } else if (op.paths) {
          t.ok(service, `${where}: gRPC paths on a gRPC service`);
          t.equal(port, grpcPort, `${where}: the grpc port ${grpcPort}`);
          for (const path of op.paths as string[]) {
            const re = new RegExp(`^${path.replace(/[.]/g, "\\.").replace(/\*$/, ".*")}$`);
            const matched = service!.methods.map((m) => rpcPath(service!, m.name)).filter((x) => re.test(x));
            t.ok(matched.length > 0, `${where}: path ${path} matches RPCs of ${service!.typeName}`);
            whats.push(...matched);
          }
        } else {
          // A data port without paths (Redis, Sentinel, Postgres: TCP).
          whats.push(`tcp:${port}`);
        }
        for (const pr of principals) for (const w of whats) edges.add(`${pr} -> ${app}: ${w}`);
      }
    }
  }
  return edges;
}

/** expectedEdges is the call graph the code and the manifests configure. */
function expectedEdges(t: Test, objects: K8sObject[]): Set<string> {
  const edges = new Set<string>();
  const deployment = (name: string) => find(objects, "Deployment", name)!;
  const saOf = (name: string) => principal(deployment(name).spec.template.spec.serviceAccountName);
  const addrs = (name: string) =>
    [...envOf(deployment(name).spec.template.spec.containers[0]).keys()]
      .filter((k) => k.endsWith("_ADDR"))
      .map((k) => k.slice(0, -5).toLowerCase())
      .sort();

  // The gateway forwards every RPC of the services it offers.
  t.same(addrs("gateway"), GATEWAY_SERVICES.map((s) => s.name).sort(), "gateway: *_ADDR for exactly the services it forwards");
  for (const { name, service } of GATEWAY_SERVICES) for (const m of service.methods) edges.add(`${saOf("gateway")} -> ${name}: ${rpcPath(service, m.name)}`);
  edges.add(`${INGRESS} -> gateway: public`);

  // Each service: the peers.client(...) calls in its folder, and issue 21's declared patient edges.
  for (const caller of Object.keys(SERVICES)) {
    const calls = [...callsIn(sourcesOf(caller)), ...PATIENT_EDGES.filter((e) => e.caller === caller)];
    const callees = [...new Set(calls.map((c) => appOf(c.service)))].sort();
    t.same(addrs(caller), callees, `${caller}: *_ADDR set for exactly the services its code calls (${callees.join(", ") || "none"})`);
    for (const c of calls) edges.add(`${saOf(caller)} -> ${appOf(c.service)}: ${rpcPath(c.service, c.method)}`);
  }

  // The backup CronJobs run the CLI's `run` command: the methods that branch calls.
  const cli = readRepoFile("services/backup/cli.ts");
  const run = /case "run": \{([\s\S]*?)\n {4}case "/.exec(cli)?.[1] ?? "";
  const runMethods = [...run.matchAll(/\bclient\.(\w+)\(/g)].map((m) => byLocalName(BackupService, m[1])!.name);
  t.ok(runMethods.length > 0, `backup CLI run calls ${runMethods.join(", ")}`);
  for (const cj of byKind(objects, "CronJob")) {
    const pod = cj.spec.jobTemplate.spec.template.spec;
    const args: string[] = pod.containers[0].args;
    t.same(args.slice(1, 3), ["dist/services/backup/cli.js", "run"], `${cj.metadata.name}: runs the backup CLI's run command`);
    for (const m of runMethods) edges.add(`${principal(pod.serviceAccountName)} -> backup: ${rpcPath(BackupService, m)}`);
  }

  // Prometheus scrapes every metrics port.
  for (const s of byKind(objects, "Service")) {
    if (s.spec.ports.some((p: any) => p.name === "http-metrics")) edges.add(`${PROMETHEUS} -> ${s.metadata.name}: metrics`);
  }

  // Redis: the workloads configured with it (REDIS_URL, or REDIS_SENTINELS for the Sentinels and then
  // the master), and Redis / Sentinel themselves (replication, failover). The Sentinels exist in prod
  // only; policies toward them are compared where they exist.
  const usersOf = (...vars: string[]) =>
    podOwners(objects)
      .filter(({ object, template }) => object.kind === "Deployment" && template.spec.containers.some((c: any) => vars.some((v) => envOf(c).has(v))))
      .map(({ template }) => principal(template.spec.serviceAccountName));
  const redisSelf = [principal("medschedule-redis"), principal("medschedule-redis-sentinel")];
  for (const p of [...usersOf("REDIS_URL", "REDIS_SENTINELS"), ...redisSelf]) edges.add(`${p} -> redis: tcp:6379`);
  if (find(objects, "StatefulSet", "redis-sentinel")) {
    for (const p of [...usersOf("REDIS_SENTINELS"), ...redisSelf]) edges.add(`${p} -> redis-sentinel: tcp:26379`);
  }
  // Postgres (dev's StatefulSet; policy present in both): the workloads with DATABASE_URL.
  for (const { template } of podOwners(objects)) {
    if (template.spec.containers.some((c: any) => envOf(c).has("DATABASE_URL"))) edges.add(`${principal(template.spec.serviceAccountName)} -> postgres: tcp:5432`);
  }
  return edges;
}

const missing = kubectlMissing();
if (missing) {
  t.fail(missing);
} else {
  const istio = loadIstio();
  const policies = istio.filter((o) => o.kind === "AuthorizationPolicy");

  t.test("mesh-wide STRICT mTLS and allow-nothing", async (t) => {
    const pa = istio.filter((o) => o.kind === "PeerAuthentication");
    t.equal(pa.length, 1, "one PeerAuthentication");
    t.equal(pa[0].metadata.namespace, "istio-system", "in the root namespace: mesh-wide");
    t.notOk(pa[0].spec.selector, "no selector: every workload");
    t.equal(pa[0].spec.mtls.mode, "STRICT", "STRICT");
    t.notOk(pa[0].spec.portLevelMtls, "no port exceptions");
    const nothing = policies.find((p) => p.metadata.name === "allow-nothing");
    t.ok(nothing, "allow-nothing exists");
    t.equal(nothing?.metadata.namespace, NAMESPACE, "allow-nothing in the namespace");
    t.notOk(nothing?.spec.selector || nothing?.spec.rules, "allow-nothing: no selector, no rules");
    for (const p of policies) {
      t.equal(p.metadata.namespace, NAMESPACE, `${p.metadata.name}: namespace ${NAMESPACE}`);
      t.not(p.spec.action, "DENY", `${p.metadata.name}: no DENY policy to reason around`);
    }
    for (const app of COMPONENTS) t.ok(policies.some((p) => p.spec.selector?.matchLabels?.app === app), `${app}: one AuthorizationPolicy`);
    for (const f of ["peer-authentication.yaml", "authorization-policy-allow-nothing.yaml", ...COMPONENTS.map((c) => `authorization-policy-${c}.yaml`)]) {
      t.ok(istio.some((o) => o.file === f), `istio/${f}`);
    }
  });

  for (const overlay of OVERLAYS) {
    t.test(`${overlay}: the policies allow exactly the call graph`, async (t) => {
      const objects = renderOverlay(overlay);
      const hasSentinel = Boolean(find(objects, "StatefulSet", "redis-sentinel"));
      const allowed = new Set([...allowedEdges(t, policies, objects)].filter((e) => hasSentinel || !e.includes(" -> redis-sentinel: ")));
      const expected = expectedEdges(t, objects);
      const extra = [...allowed].filter((e) => !expected.has(e)).sort();
      const absent = [...expected].filter((e) => !allowed.has(e)).sort();
      t.same(extra, [], "no edge the code does not use");
      t.same(absent, [], "no edge the code uses is missing");
      // The issue's call graph, as a floor: these edges must be among them.
      const floor = [
        `${principal("medschedule-scheduling")} -> lock: /medschedule.lock.v1.LockService/Acquire`,
        `${principal("medschedule-scheduling")} -> lock: /medschedule.lock.v1.LockService/Release`,
        `${principal("medschedule-scheduling")} -> lock: /medschedule.lock.v1.LockService/Extend`,
        `${principal("medschedule-scheduling")} -> queue: /medschedule.queue.v1.QueueService/IssueTicket`,
        `${principal("medschedule-backup")} -> lock: /medschedule.lock.v1.LockService/AdvanceEpoch`,
        `${principal("medschedule-backup-cron")} -> backup: /medschedule.backup.v1.BackupService/StartBackup`,
        `${principal("medschedule-backup-cron")} -> backup: /medschedule.backup.v1.BackupService/GetBackup`,
        `${PROMETHEUS} -> lock: metrics`,
        `${principal("medschedule-gateway")} -> scheduling: /medschedule.scheduling.v1.SchedulingService/BookAppointment`,
      ];
      for (const e of floor) t.ok(expected.has(e), `call graph has ${e}`);
      // Every principal is an account of the overlay, or the ingress / Prometheus.
      const accounts = new Set(byKind(objects, "ServiceAccount").map((s) => principal(s.metadata.name)));
      const principals = new Set([...allowed].map((e) => e.split(" -> ")[0]));
      for (const p of principals) {
        const known = accounts.has(p) || p === INGRESS || p === PROMETHEUS || (overlay === "dev" && p === principal("medschedule-redis-sentinel"));
        t.ok(known, `principal ${p} exists`);
      }
    });
  }

  t.test("the patient service's edges are issue 21's, and the code makes no other", async (t) => {
    const objects = renderOverlay("prod");
    const allowed = allowedEdges(t, policies, objects);
    const declared = PATIENT_EDGES.map((e) => `${principal(`medschedule-${e.caller}`)} -> ${appOf(e.service)}: ${rpcPath(e.service, e.method)}`);
    const gatewayForwards = PatientService.methods.map((m) => `${principal("medschedule-gateway")} -> patient: ${rpcPath(PatientService, m.name)}`);
    const touching = [...allowed].filter((e) => e.includes(" -> patient: ") || e.startsWith(`${principal("medschedule-patient")} -> `));
    t.same(
      touching.filter((e) => !e.startsWith(`${PROMETHEUS} -> `) && !e.includes(" -> postgres: ")).sort(),
      [...declared, ...gatewayForwards].sort(),
      "patient: the gateway forwards every RPC; scheduling and queue ResolvePatient; patient ReassignPatient on scheduling and queue; nothing else",
    );
    t.ok(allowed.has(`${PROMETHEUS} -> patient: metrics`), "Prometheus scrapes the patient service");
    t.ok(allowed.has(`${principal("medschedule-patient")} -> postgres: tcp:5432`), "the patient service reaches Postgres");
    // Calls the code makes across the patient service: each one a declared edge.
    for (const caller of Object.keys(SERVICES)) {
      for (const c of callsIn(sourcesOf(caller))) {
        if (caller !== "patient" && appOf(c.service) !== "patient") continue;
        const edge = `${principal(`medschedule-${caller}`)} -> ${appOf(c.service)}: ${rpcPath(c.service, c.method)}`;
        t.ok(declared.includes(edge), `${c.where}: ${edge} is one of issue 21's edges`);
      }
    }
    const made = new Set(
      Object.keys(SERVICES).flatMap((caller) => callsIn(sourcesOf(caller)).map((c) => `${caller} -> ${c.service.name}.${c.method}`)),
    );
    for (const e of PATIENT_EDGES) {
      const name = `${e.caller} -> ${e.service.name}.${e.method}`;
      t.comment(`${name}: ${made.has(name) ? "called by the code" : "declared (the caller is not in this checkout yet)"}`);
    }
  });

  t.test("the policy test notices a widened policy", async (t) => {
    const objects = renderOverlay("dev");
    const widened = structuredClone(policies);
    const lock = widened.find((p) => p.metadata.name === "lock")!;
    lock.spec.rules[1].to[0].operation.paths.push("/medschedule.lock.v1.LockService/ForceRelease");
    const allowed = allowedEdges(t, widened, objects);
    const expected = expectedEdges(t, objects);
    t.same([...allowed].filter((e) => !expected.has(e) && e.includes(" -> lock: ")), [`${principal("medschedule-scheduling")} -> lock: /medschedule.lock.v1.LockService/ForceRelease`], "ForceRelease for scheduling is an extra edge");
  });
}
