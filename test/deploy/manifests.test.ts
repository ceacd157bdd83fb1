// k8s/: every object of every overlay (rendered by `kubectl kustomize`) validates against its schema;
// CloudNativePG's Cluster gets structural checks here; every reference (ports, probe ports, Secrets,
// ConfigMaps, PVCs, service accounts) resolves; images are pinned; Deployments are hygienic; and the
// specifics of issue 8 (HPA, PDB, drain, Redis, Sentinel, CronJobs, migration Job) hold.
// Note: the kubernetes-models schemas check types, required fields and enums but allow unknown
// fields, so the structural checks below name the fields that matter.
import t from "tap";
import { existsSync } from "node:fs";
import path from "node:path";
import { loadConfig, parseDurationMs } from "../../services/runtime/config.js";
import {
  COMPONENTS,
  OVERLAYS,
  REPO_ROOT,
  SERVICES,
  byKind,
  containersOf,
  envOf,
  find,
  id,
  kubectlMissing,
  listSourceFiles,
  podOwners,
  readRepoFile,
  renderOverlay,
  selects,
  validateObject,
} from "./manifests.js";

/** DATA_KEY_SECRETS hold the keys that seal patient data: created by the operator in every overlay, never rendered from the repository. */
const DATA_KEY_SECRETS = ["medschedule-patient-keys", "medschedule-scheduling-keys"];

/**
 * Secrets an overlay expects to exist without rendering them: prod's are created out of band (README
 * "Deploy"), and CloudNativePG creates <cluster>-app itself.
 */
const EXTERNAL_SECRETS: Record<string, string[]> = {
  dev: [...DATA_KEY_SECRETS],
  prod: ["medschedule-redis", "medschedule-auth", "medschedule-backup-cron", "medschedule-pg-s3", "medschedule-pg-app", ...DATA_KEY_SECRETS],
};

/** Environment variables a manifest sets that no code reads yet (none: add one here only with a reason). */
const KNOWN_UNREAD_ENV: string[] = [];

/** Env vars read by third-party images (postgres, redis scripts, redis_exporter), not by our code. */
const IMAGE_ENV: Record<string, string[]> = {
  postgres: ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA"],
  redis: ["REDIS_PASSWORD", "POD_NAME", "POD_NAMESPACE"],
  sentinel: ["REDIS_PASSWORD", "POD_NAME", "POD_NAMESPACE"],
  "redis-exporter": ["REDIS_ADDR", "REDIS_PASSWORD"],
  // Read by Node itself (the heap cap).
  ...Object.fromEntries(COMPONENTS.map((c) => [c, ["NODE_OPTIONS"]])),
};

/** mebibytes reads a Kubernetes memory quantity ("512Mi", "1Gi") in MiB. */
function mebibytes(q: string | undefined): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q ?? "");
  return m ? Number(m[1]) * (m[2] === "Gi" ? 1024 : 1) : NaN;
}

const missing = kubectlMissing();
if (missing) {
  t.fail(missing);
} else {
  const codeText = [...listSourceFiles("services"), ...listSourceFiles("gateway"), ...listSourceFiles("scripts")].map(readRepoFile).join("\n");

  for (const overlay of OVERLAYS) {
    t.test(`overlay ${overlay}`, async (t) => {
      const objects = renderOverlay(overlay);
      t.ok(objects.length > 30, `${overlay} renders (${objects.length} objects)`);

      t.test("every object validates against its schema", async (t) => {
        const unchecked: string[] = [];
        for (const o of objects) {
          try {
            if (!(await validateObject(o))) unchecked.push(`${o.apiVersion} ${o.kind}`);
          } catch (err) {
            t.fail(`${id(o)} (${o.apiVersion}): ${(err as Error).message}`);
          }
        }
        // Only CloudNativePG has no offline schema; its objects get the structural checks below.
        t.same([...new Set(unchecked.filter((u) => !u.startsWith("postgresql.cnpg.io/")))], [], "every kind but CloudNativePG's has a schema");
      });

      t.test("names are unique per kind and everything is in the medschedule namespace", async (t) => {
        const seen = new Set<string>();
        for (const o of objects) {
          t.notOk(seen.has(id(o)), `${id(o)} once`);
          seen.add(id(o));
          if (o.kind !== "Namespace") t.equal(o.metadata.namespace, "medschedule", `${id(o)} namespace`);
        }
      });

      t.test("references resolve: Secrets, ConfigMaps, PVCs, service accounts, ports", async (t) => {
        const secrets = new Set([...byKind(objects, "Secret").map((s) => s.metadata.name), ...EXTERNAL_SECRETS[overlay]]);
        const secretKeys = new Map(byKind(objects, "Secret").map((s) => [s.metadata.name, new Set(Object.keys({ ...s.data, ...s.stringData }))]));
        const configMaps = new Map(byKind(objects, "ConfigMap").map((c) => [c.metadata.name, new Set(Object.keys(c.data ?? {}))]));
        const pvcs = new Set(byKind(objects, "PersistentVolumeClaim").map((p) => p.metadata.name));
        const accounts = new Set(byKind(objects, "ServiceAccount").map((s) => s.metadata.name));
        for (const { object, template } of podOwners(objects)) {
          const where = id(object);
          const sa = template.spec.serviceAccountName;
          t.ok(sa && accounts.has(sa), `${where}: service account ${sa} exists`);
          const claimTemplates = new Set((object.spec.volumeClaimTemplates ?? []).map((v: any) => v.metadata.name));
          const volumes = new Set<string>(claimTemplates as Set<string>);
          for (const v of template.spec.volumes ?? []) {
            volumes.add(v.name);
            if (v.configMap) t.ok(configMaps.has(v.configMap.name), `${where}: volume ConfigMap ${v.configMap.name} exists`);
            if (v.secret) t.ok(secrets.has(v.secret.secretName), `${where}: volume Secret ${v.secret.secretName} exists`);
            if (v.persistentVolumeClaim) t.ok(pvcs.has(v.persistentVolumeClaim.claimName), `${where}: PVC ${v.persistentVolumeClaim.claimName} exists`);
          }
          for (const c of containersOf(template)) {
            for (const m of c.volumeMounts ?? []) t.ok(volumes.has(m.name), `${where}/${c.name}: volume ${m.name} is declared`);
            for (const f of c.envFrom ?? []) {
              if (f.configMapRef) t.ok(configMaps.has(f.configMapRef.name), `${where}/${c.name}: envFrom ConfigMap ${f.configMapRef.name} exists`);
              if (f.secretRef) t.ok(secrets.has(f.secretRef.name), `${where}/${c.name}: envFrom Secret ${f.secretRef.name} exists`);
            }
            for (const e of c.env ?? []) {
              const sk = e.valueFrom?.secretKeyRef;
              if (sk) {
                t.ok(secrets.has(sk.name), `${where}/${c.name}: ${e.name} Secret ${sk.name} exists`);
                const keys = secretKeys.get(sk.name);
                if (keys) t.ok(keys.has(sk.key) || sk.optional, `${where}/${c.name}: ${e.name} key ${sk.key} in Secret ${sk.name}`);
              }
              const ck = e.valueFrom?.configMapKeyRef;
              if (ck) t.ok(configMaps.get(ck.name)?.has(ck.key), `${where}/${c.name}: ${e.name} ConfigMap ${ck.name} key ${ck.key}`);
              if (typeof e.value === "string" && /:\/\/[^:/@\s]*:[^$@\s][^@\s]*@/.test(e.value)) t.fail(`${where}/${c.name}: ${e.name} inlines a password`);
            }
            const named = new Set((c.ports ?? []).map((p: any) => p.name));
            const numbers = new Set((c.ports ?? []).map((p: any) => p.containerPort));
            for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
              const p = c[probe];
              if (!p) continue;
              const port = p.grpc?.port ?? p.httpGet?.port ?? p.tcpSocket?.port;
              if (port === undefined) continue;
              t.ok(typeof port === "number" ? numbers.has(port) : named.has(port), `${where}/${c.name}: ${probe} port ${port} is a container port`);
            }
          }
        }
        // Services: selectors select pods, and every targetPort is a port of those pods.
        const pods = podOwners(objects).filter((p) => p.object.kind !== "Job" && p.object.kind !== "CronJob");
        for (const s of byKind(objects, "Service")) {
          const selected = pods.filter((p) => selects(s.spec.selector, p.template.metadata.labels));
          t.ok(selected.length > 0, `Service/${s.metadata.name} selects pods`);
          for (const port of s.spec.ports) {
            const target = port.targetPort ?? port.port;
            const found = selected.some((p) =>
              containersOf(p.template).some((c) => (c.ports ?? []).some((cp: any) => (typeof target === "number" ? cp.containerPort === target : cp.name === target))),
            );
            t.ok(found, `Service/${s.metadata.name} port ${port.name}: targetPort ${target} exists on its pods`);
          }
        }
        // ServiceMonitors select Services with the named port.
        for (const sm of byKind(objects, "ServiceMonitor")) {
          const sel = sm.spec.selector;
          const services = byKind(objects, "Service").filter((s) =>
            sel.matchLabels ? selects(sel.matchLabels, s.metadata.labels) : sel.matchExpressions.every((e: any) => e.operator === "In" && e.values.includes(s.metadata.labels?.[e.key])),
          );
          t.ok(services.length > 0, `ServiceMonitor/${sm.metadata.name} selects Services`);
          for (const ep of sm.spec.endpoints) {
            for (const s of services) t.ok(s.spec.ports.some((p: any) => p.name === ep.port), `ServiceMonitor/${sm.metadata.name}: Service/${s.metadata.name} has port ${ep.port}`);
          }
        }
        // HPAs and PDBs point at Deployments.
        for (const h of byKind(objects, "HorizontalPodAutoscaler")) t.ok(find(objects, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name), `${id(h)} targets an existing workload`);
        for (const p of byKind(objects, "PodDisruptionBudget")) {
          t.ok(pods.some((o) => selects(p.spec.selector.matchLabels, o.template.metadata.labels)), `${id(p)} selects pods`);
        }
      });

      t.test("every replica of a service with List RPCs gets the same PAGE_TOKEN_SECRET from one Secret", async (t) => {
        const refs = new Set<string>();
        for (const svc of Object.keys(SERVICES)) {
          const deployment = find(objects, "Deployment", svc);
          const container = deployment && containersOf(deployment.spec.template).find((c) => c.name === svc);
          const ref = container && envOf(container).get("PAGE_TOKEN_SECRET")?.valueFrom?.secretKeyRef;
          t.ok(ref, `Deployment/${svc}: PAGE_TOKEN_SECRET from a Secret`);
          if (!ref) continue;
          t.notOk(ref.optional, `Deployment/${svc}: the secret is required (a random one per pod would break paging across replicas)`);
          refs.add(`${ref.name}/${ref.key}`);
        }
        t.same([...refs], ["medschedule-auth/page-token-secret"], "one Secret key for every service");
      });

      t.test("every environment variable set is read by the code or the image", async (t) => {
        for (const { object, template } of podOwners(objects)) {
          for (const c of containersOf(template)) {
            const names = [...(c.env ?? []).map((e: any) => e.name)];
            for (const f of c.envFrom ?? []) {
              const cm = f.configMapRef && find(objects, "ConfigMap", f.configMapRef.name);
              if (cm) names.push(...Object.keys(cm.data ?? {}));
            }
            const expansions = (c.env ?? []).map((e: any) => e.value ?? "").join(" ");
            for (const name of new Set(names)) {
              if (IMAGE_ENV[c.name]?.includes(name)) continue;
              const read = codeText.includes(`"${name}"`) || codeText.includes(`.${name}`);
              const expanded = expansions.includes(`$(${name})`);
              if (KNOWN_UNREAD_ENV.includes(name) && !expanded) {
                t.notOk(read, `${id(object)}/${c.name}: ${name} is a known gap (unread by the code); remove it from KNOWN_UNREAD_ENV now that it is read`);
                continue;
              }
              t.ok(read || expanded, `${id(object)}/${c.name}: ${name} is read by the code (or used in another variable)`);
            }
          }
        }
      });

      t.test("images are pinned, never :latest", async (t) => {
        for (const { object, template } of podOwners(objects)) {
          for (const c of containersOf(template)) {
            const image: string = c.image;
            const m = /^(.+?)(?::([^/:@]+))?(@sha256:[0-9a-f]{64})?$/.exec(image)!;
            const [, repo, tag, digest] = m;
            t.ok(tag || digest, `${id(object)}/${c.name}: ${image} has a tag or digest`);
            t.not(tag, "latest", `${id(object)}/${c.name}: ${image} is not :latest`);
            if (repo.startsWith("ghcr.io/medschedule/")) t.match(tag, /^\d+\.\d+\.\d+(-[\w.]+)?$/, `${id(object)}/${c.name}: our image has a release tag`);
            else t.match(tag, /\d+\.\d+/, `${id(object)}/${c.name}: third-party ${image} is pinned to a version`);
          }
        }
        for (const cluster of byKind(objects, "Cluster")) t.match(cluster.spec.imageName, /:\d+\.\d+$/, "CNPG imageName pinned to a minor version");
      });

      t.test("Deployments: probes, limits, non-root, spread, drain", async (t) => {
        const deployments = byKind(objects, "Deployment");
        t.same(deployments.map((d) => d.metadata.name).sort(), [...COMPONENTS].sort(), "one Deployment per component");
        const cm = find(objects, "ConfigMap", "medschedule-config") ?? byKind(objects, "ConfigMap").find((c) => c.metadata.name.startsWith("medschedule-config"));
        // The drain the process really does: loadConfig of the ConfigMap (SHUTDOWN_GRACE, default shutdownGraceMs).
        const drainMs = loadConfig({ ...(cm?.data ?? {}) }, { port: 0 }).shutdownGraceMs;
        t.ok(drainMs >= 1000, `drain (SHUTDOWN_GRACE) is ${drainMs} ms`);
        for (const d of deployments) {
          const name = d.metadata.name;
          const pod = d.spec.template.spec;
          t.equal(d.spec.template.metadata.labels.app, name, `${name}: label app`);
          t.ok(d.spec.template.metadata.labels.version, `${name}: label version`);
          t.equal(pod.serviceAccountName, `medschedule-${name}`, `${name}: its own service account`);
          t.equal(pod.securityContext?.runAsNonRoot, true, `${name}: pod runAsNonRoot`);
          t.ok(pod.securityContext?.runAsUser > 0, `${name}: pod runAsUser non-zero`);
          t.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault", `${name}: seccomp RuntimeDefault`);
          const keys = (pod.topologySpreadConstraints ?? []).map((c: any) => c.topologyKey);
          t.ok(keys.includes("topology.kubernetes.io/zone") && keys.includes("kubernetes.io/hostname"), `${name}: spread over zones and nodes`);
          t.equal(pod.containers.length, 1, `${name}: one container (Istio injects its sidecar)`);
          const c = pod.containers[0];
          const port = name === "gateway" ? 8080 : SERVICES[name as keyof typeof SERVICES];
          t.same(c.ports.find((p: any) => p.name === "grpc")?.containerPort, port, `${name}: grpc port ${port}`);
          t.same(c.args, ["node", name === "gateway" ? "dist/gateway/main.js" : `dist/services/${name}/main.js`], `${name}: command selects the component`);
          t.ok(existsSync(path.join(REPO_ROOT, name === "gateway" ? "gateway/main.ts" : `services/${name}/main.ts`)), `${name}: its main.ts exists`);
          for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
            t.equal(c[probe]?.grpc?.port, port, `${name}: ${probe} is a native gRPC probe (grpc.health.v1) on ${port}`);
          }
          t.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${name}: requests`);
          t.ok(c.resources?.limits?.cpu && c.resources?.limits?.memory, `${name}: limits`);
          // Node would size its heap up to the whole limit: the cap leaves room for everything else.
          const heapMb = Number(/--max-old-space-size=(\d+)/.exec(envOf(c).get("NODE_OPTIONS")?.value ?? "")?.[1]);
          const limitMb = mebibytes(c.resources?.limits?.memory);
          t.ok(heapMb > 0 && heapMb <= limitMb * 0.6, `${name}: heap cap ${heapMb} MiB within 60% of the ${limitMb} MiB memory limit`);
          t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}: no privilege escalation`);
          t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}: read-only root filesystem`);
          t.same(c.securityContext?.capabilities?.drop, ["ALL"], `${name}: drops all capabilities`);
          t.ok((c.volumeMounts ?? []).some((m: any) => m.mountPath === "/tmp"), `${name}: a writable /tmp`);
          const cmd: string[] = c.lifecycle?.preStop?.exec?.command ?? [];
          t.equal(cmd[0], "sleep", `${name}: preStop sleeps while endpoints update`);
          const preStopMs = Number(cmd[1]) * 1000;
          t.ok(pod.terminationGracePeriodSeconds * 1000 > preStopMs + drainMs, `${name}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}s > preStop ${preStopMs} ms + drain ${drainMs} ms`);
          const svc = find(objects, "Service", name)!;
          t.ok(svc, `${name}: a Service`);
          const grpc = svc.spec.ports.find((p: any) => p.name === "grpc");
          t.equal(grpc?.port, port, `${name}: Service port grpc is ${port}`);
          t.equal(grpc?.appProtocol, "grpc", `${name}: Service port grpc has appProtocol grpc`);
          t.ok(svc.spec.ports.some((p: any) => p.name === "http-metrics"), `${name}: Service port http-metrics`);
          if (name !== "gateway") {
            t.equal(envOf(c).get("METRICS_PORT")?.value ?? cm?.data?.METRICS_PORT, "9464", `${name}: METRICS_PORT 9464`);
            t.ok(c.ports.some((p: any) => p.name === "http-metrics" && p.containerPort === 9464), `${name}: container port http-metrics 9464`);
            t.ok(envOf(c).get("DATABASE_URL")?.valueFrom?.secretKeyRef, `${name}: DATABASE_URL from a Secret`);
          }
          const hpa = byKind(objects, "HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === name);
          t.equal(hpa?.spec.minReplicas, 2, `${name}: HPA min 2`);
          t.equal(hpa?.spec.maxReplicas, 10, `${name}: HPA max 10`);
          t.same((hpa?.spec.metrics ?? []).map((m: any) => m.resource?.name).sort(), ["cpu", "memory"], `${name}: HPA on CPU and memory`);
          const pdb = byKind(objects, "PodDisruptionBudget").find((p) => selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
          t.ok(pdb && (pdb.spec.minAvailable >= 1 || pdb.spec.maxUnavailable !== undefined), `${name}: a PodDisruptionBudget`);
          t.ok(find(objects, "ServiceAccount", `medschedule-${name}`), `${name}: ServiceAccount medschedule-${name}`);
        }
      });

      t.test("Redis: AOF, noeviction, password from a Secret, exporter sidecar", async (t) => {
        const redis = find(objects, "StatefulSet", "redis")!;
        t.ok(redis, "a Redis StatefulSet");
        const conf = byKind(objects, "ConfigMap").find((c) => c.metadata.name.startsWith("redis-config"))?.data?.["redis.conf"] ?? "";
        t.match(conf, /^appendonly yes$/m, "AOF on");
        t.match(conf, /^maxmemory-policy noeviction$/m, "maxmemory-policy noeviction");
        t.notMatch(conf, /^\s*requirepass/m, "no password in the config file");
        const containers = containersOf(redis.spec.template);
        const server = containers.find((c) => c.name === "redis");
        t.equal(envOf(server).get("REDIS_PASSWORD")?.valueFrom?.secretKeyRef?.name, "medschedule-redis", "password from the Secret");
        const scripts = byKind(objects, "ConfigMap").find((c) => c.metadata.name.startsWith("redis-scripts"))?.data ?? {};
        t.match(scripts["start-redis.sh"], /--requirepass "\$REDIS_PASSWORD"/, "the start script passes the password");
        const exporter = containers.find((c) => /redis_exporter/.test(c.image));
        t.ok(exporter?.ports?.some((p: any) => p.name === "http-metrics" && p.containerPort === 9121), "redis_exporter sidecar on http-metrics 9121");
        t.ok(redis.spec.volumeClaimTemplates?.length, "persistent data");
        for (const name of ["lock", "backup"]) {
          const env = envOf(find(objects, "Deployment", name)!.spec.template.spec.containers[0]);
          if (overlay === "prod" && name === "backup") {
            // Known limitation: the backup's Redis engine only takes REDIS_URL (services/backup), so in
            // prod it dumps through the redis Service (any pod: a replica's RDB is the same data).
            t.match(env.get("REDIS_URL")?.value, /^redis:\/\/:\$\(REDIS_PASSWORD\)@redis:6379/, "backup: REDIS_URL through the redis Service");
            t.notOk(env.has("REDIS_SENTINELS"), "backup: no REDIS_SENTINELS (REDIS_URL would win anyway)");
          } else if (overlay === "prod") {
            t.notOk(env.has("REDIS_URL"), `${name}: no REDIS_URL in prod (it would win over Sentinel)`);
            t.equal(env.get("REDIS_SENTINEL_NAME")?.value, "medschedule", `${name}: REDIS_SENTINEL_NAME`);
            const sentinels = String(env.get("REDIS_SENTINELS")?.value ?? "").split(",");
            t.equal(sentinels.length, 3, `${name}: three REDIS_SENTINELS`);
            const cfg = loadConfig({ REDIS_SENTINELS: env.get("REDIS_SENTINELS").value, REDIS_SENTINEL_NAME: "medschedule" }, { port: 0 });
            t.equal(cfg.redisSentinels.length, 3, `${name}: config.ts accepts REDIS_SENTINELS`);
          } else {
            t.match(env.get("REDIS_URL")?.value, /^redis:\/\/:\$\(REDIS_PASSWORD\)@redis:6379/, `${name}: REDIS_URL with the password from the Secret`);
          }
        }
        for (const name of ["scheduling", "queue", "gateway"]) {
          const env = envOf(find(objects, "Deployment", name)!.spec.template.spec.containers[0]);
          t.notOk(env.has("REDIS_URL") || env.has("REDIS_SENTINELS"), `${name}: no Redis (only lock and backup use it)`);
        }
        if (overlay === "prod") {
          t.equal(redis.spec.replicas, 3, "prod: three Redis pods");
          const sentinel = find(objects, "StatefulSet", "redis-sentinel");
          t.equal(sentinel?.spec.replicas, 3, "prod: three Sentinels");
          t.match(scripts["start-sentinel.sh"], /sentinel monitor medschedule \S+ 6379 2/, "Sentinel monitors master medschedule with quorum 2");
          t.match(scripts["start-redis.sh"], /--replicaof/, "Redis pods start as replicas of the master the Sentinels name");
        } else {
          t.equal(redis.spec.replicas, 1, "dev: one Redis");
        }
      });

      t.test("Postgres", async (t) => {
        const pgMajor = /postgresql-client-(\d+)/.exec(readRepoFile("Dockerfile"))?.[1];
        if (overlay === "dev") {
          const pg = find(objects, "StatefulSet", "medschedule-pg")!;
          t.ok(pg, "dev: a Postgres StatefulSet");
          const image = pg.spec.template.spec.containers[0].image;
          t.equal(/^postgres:(\d+)\./.exec(image)?.[1], pgMajor, `dev: Postgres ${image} has pg_dump's major ${pgMajor}`);
          t.notOk(find(objects, "Cluster", "medschedule-pg"), "dev: no CNPG Cluster");
        } else {
          t.notOk(find(objects, "StatefulSet", "medschedule-pg"), "prod: no Postgres StatefulSet");
          const c = find(objects, "Cluster", "medschedule-pg")!;
          // CloudNativePG has no offline schema here: structural checks.
          t.equal(c?.apiVersion, "postgresql.cnpg.io/v1", "prod: a CNPG Cluster (postgresql.cnpg.io/v1)");
          t.ok(Number.isInteger(c.spec.instances) && c.spec.instances >= 3, "instances >= 3");
          t.equal(/:(\d+)\./.exec(c.spec.imageName)?.[1], pgMajor, `imageName ${c.spec.imageName} pinned to pg_dump's major ${pgMajor}`);
          t.equal(c.spec.bootstrap?.initdb?.database, "app", "initdb database app");
          t.equal(c.spec.bootstrap?.initdb?.owner, "app", "initdb owner app (Secret medschedule-pg-app)");
          t.ok(c.spec.bootstrap?.initdb?.postInitSQL?.some((q: string) => /ALTER ROLE app CREATEDB/i.test(q)), "app may create the scratch databases VerifyBackup restores into");
          t.match(c.spec.storage?.size, /^\d+(Gi|Ti)$/, "storage size");
          const archive = parseDurationMs(String(c.spec.postgresql?.parameters?.archive_timeout ?? "").replace("min", "m"));
          t.ok(archive !== undefined && archive <= 5 * 60_000, `archive_timeout ${c.spec.postgresql?.parameters?.archive_timeout} gives a 5-minute RPO`);
          const store = c.spec.backup?.barmanObjectStore;
          t.match(store?.destinationPath, /^s3:\/\/|^gs:\/\/|^https:\/\//, "WAL archive destination");
          t.ok(store?.wal, "WAL archiving configured");
          for (const ref of [store?.s3Credentials?.accessKeyId, store?.s3Credentials?.secretAccessKey]) {
            t.ok(ref?.name && ref?.key, "object store credentials from a Secret");
            t.ok(EXTERNAL_SECRETS.prod.includes(ref.name), `Secret ${ref.name} is on the list of Secrets to create`);
          }
          t.equal(c.spec.enableSuperuserAccess, false, "no superuser Secret");
          const allowed = ["instances", "imageName", "primaryUpdateStrategy", "enableSuperuserAccess", "bootstrap", "postgresql", "storage", "walStorage", "resources", "inheritedMetadata", "monitoring", "backup"];
          t.same(Object.keys(c.spec).filter((k) => !allowed.includes(k)), [], "only known Cluster spec fields");
          const sb = find(objects, "ScheduledBackup", "medschedule-pg-daily");
          t.equal(sb?.spec.cluster?.name, "medschedule-pg", "ScheduledBackup of the Cluster");
          t.equal(sb?.spec.schedule.split(" ").length, 6, "ScheduledBackup schedule has seconds (CNPG's six fields)");
        }
      });

      t.test("migration Job and backup CronJobs", async (t) => {
        const job = find(objects, "Job", "medschedule-migrate")!;
        const jc = job.spec.template.spec.containers[0];
        t.same(jc.args, ["node", "dist/scripts/migrate.js"], "migration Job runs dist/scripts/migrate.js");
        t.ok(existsSync(path.join(REPO_ROOT, "scripts/migrate.ts")), "scripts/migrate.ts exists");
        t.equal(job.spec.template.metadata.annotations?.["sidecar.istio.io/nativeSidecar"], "true", "Job: native sidecar, so it completes");
        const schedules: Record<string, string> = { redis: "0 2 * * *", postgres: "30 2 * * *" };
        const cli = readRepoFile("services/backup/cli.ts");
        t.match(readRepoFile("package.json"), /"backup": "node dist\/services\/backup\/cli\.js"/, "npm run backup is dist/services/backup/cli.js");
        for (const [target, schedule] of Object.entries(schedules)) {
          const cj = find(objects, "CronJob", `backup-${target}`)!;
          t.equal(cj?.spec.schedule, schedule, `backup-${target} at ${schedule}`);
          t.equal(cj.spec.timeZone, "Etc/UTC", `backup-${target}: UTC`);
          t.equal(cj.spec.concurrencyPolicy, "Forbid", `backup-${target}: never two at once`);
          const pod = cj.spec.jobTemplate.spec.template;
          const c = pod.spec.containers[0];
          t.same(c.args.slice(0, 4), ["node", "dist/services/backup/cli.js", "run", target], `backup-${target}: runs the backup CLI`);
          t.equal(envOf(c).get("BACKUP_ADDR")?.value, "backup:8084", `backup-${target}: BACKUP_ADDR`);
          t.ok(envOf(c).get("BACKUP_TOKEN")?.valueFrom?.secretKeyRef, `backup-${target}: BACKUP_TOKEN from a Secret`);
          t.equal(pod.spec.serviceAccountName, "medschedule-backup-cron", `backup-${target}: the backup-cron account`);
          t.equal(pod.metadata.annotations?.["sidecar.istio.io/nativeSidecar"], "true", `backup-${target}: native sidecar`);
          t.match(cli, /process\.env\.BACKUP_ADDR/, "the CLI reads BACKUP_ADDR");
          t.match(cli, /process\.env\.BACKUP_TOKEN/, "the CLI reads BACKUP_TOKEN");
          const flags = c.args.slice(4);
          for (const f of flags.filter((a: string) => a.startsWith("--"))) t.match(cli, new RegExp(`"${f}"`), `the CLI knows ${f}`);
        }
      });

      t.test("patient data keys: from the operator's Secrets, only where needed, never in the repository", async (t) => {
        for (const name of DATA_KEY_SECRETS) t.notOk(find(objects, "Secret", name), `Secret/${name} is not rendered from the repository`);
        // Which Deployment reads which key, and from where.
        const wanted: Record<string, Record<string, string>> = {
          patient: { PATIENT_ENCRYPTION_KEYS: "medschedule-patient-keys/encryption-keys", PATIENT_INDEX_KEY: "medschedule-patient-keys/index-key" },
          scheduling: { SCHEDULING_ENCRYPTION_KEYS: "medschedule-scheduling-keys/encryption-keys" },
        };
        for (const { object, template } of podOwners(objects)) {
          for (const c of containersOf(template)) {
            const env = envOf(c);
            for (const [name, e] of env) {
              const ref = e.valueFrom?.secretKeyRef;
              const expected = wanted[object.metadata.name]?.[name];
              if (expected) {
                t.equal(ref ? `${ref.name}/${ref.key}` : e.value, expected, `${id(object)}: ${name} from ${expected}`);
                t.notOk(ref?.optional, `${id(object)}: ${name} is required (a missing key must stop the pod, not start it without)`);
              } else if (ref && DATA_KEY_SECRETS.includes(ref.name)) {
                t.fail(`${id(object)}/${c.name}: ${name} reads ${ref.name}, which only ${Object.keys(wanted).join(" and ")} need`);
              }
              if (/ENCRYPTION_KEYS|INDEX_KEY/.test(name)) t.ok(ref, `${id(object)}/${c.name}: ${name} is not a literal`);
            }
            for (const f of c.envFrom ?? []) t.notOk(f.secretRef && DATA_KEY_SECRETS.includes(f.secretRef.name), `${id(object)}/${c.name}: no envFrom of a data key Secret`);
          }
        }
        const cm = byKind(objects, "ConfigMap").find((c) => c.metadata.name.startsWith("medschedule-config"));
        t.notOk(Object.keys(cm?.data ?? {}).some((k) => /ENCRYPTION_KEYS|INDEX_KEY/.test(k)), "no data key in the ConfigMap");
        t.equal(loadConfig({ ...(cm?.data ?? {}) }, { port: 0 }).patientDefaultRegion, "TR", "PATIENT_DEFAULT_REGION TR is accepted by config.ts");
        // The README's commands create exactly the Secrets and keys the manifests read.
        // (Shell continuation lines joined.)
        const readme = readRepoFile("README.md").replace(/\\\n\s*/g, " ");
        for (const [deployment, vars] of Object.entries(wanted)) {
          for (const [name, ref] of Object.entries(vars)) {
            const [secret, key] = ref.split("/");
            t.match(readme, new RegExp(`create secret generic ${secret} [^\\n]*--from-literal=${key}=`), `README: the kubectl command creating ${secret} with ${key} (${deployment}'s ${name})`);
          }
        }
      });

      t.test("every *_ADDR names a Service's grpc port; the patient service's callers and callees", async (t) => {
        for (const { object, template } of podOwners(objects)) {
          for (const c of containersOf(template)) {
            for (const [name, e] of envOf(c)) {
              if (!name.endsWith("_ADDR") || IMAGE_ENV[c.name]?.includes(name)) continue;
              for (const a of String(e.value).split(",")) {
                const [host, port] = a.split(":");
                const svc = find(objects, "Service", host);
                t.ok(svc?.spec.ports.some((p: any) => p.name === "grpc" && p.port === Number(port)), `${id(object)}: ${name} ${a} is Service/${host}'s grpc port`);
                t.equal(name, `${host.toUpperCase()}_ADDR`, `${id(object)}: ${name} points at ${host}`);
              }
            }
          }
        }
        const addrOf = (d: string, v: string) => envOf(find(objects, "Deployment", d)!.spec.template.spec.containers[0]).get(v)?.value;
        for (const caller of ["gateway", "scheduling", "queue"]) t.equal(addrOf(caller, "PATIENT_ADDR"), "patient:8085", `${caller}: PATIENT_ADDR (ResolvePatient, or the gateway forwarding)`);
        t.equal(addrOf("patient", "SCHEDULING_ADDR"), "scheduling:8081", "patient: SCHEDULING_ADDR (merges reassign appointments)");
        t.equal(addrOf("patient", "QUEUE_ADDR"), "queue:8082", "patient: QUEUE_ADDR (merges reassign tickets)");
      });

      t.test("no credentials in ConfigMaps", async (t) => {
        for (const cm of byKind(objects, "ConfigMap")) {
          for (const [k, v] of Object.entries(cm.data ?? {})) {
            t.notMatch(`${k}=${v}`, /(PASSWORD|SECRET|TOKEN)=\S|:\/\/[^/\s:@]+:[^@\s$]+@/i, `${id(cm)} ${k}: no credential`);
          }
        }
      });
    });
  }
}

