// `npm run cluster`: distributed mode on one machine. The gateway and the five services run as
// separate processes against real Postgres and Redis (DATABASE_URL / REDIS_URL, or the local servers
// scripts/ensure-postgres.sh and ensure-redis.sh start), with two replicas of scheduling and queue
// and the gateway spreading calls over them. Each process has its own METRICS_PORT. Dev tokens are
// written to DATA_DIR/dev-tokens.json as in `npm start`, and every process gets the same
// PAGE_TOKEN_SECRET. The data keys are kept in DATA_DIR as by `npm start` (unless set): the patient
// service gets PATIENT_ENCRYPTION_KEYS and PATIENT_INDEX_KEY, the scheduling replicas get the same
// SCHEDULING_ENCRYPTION_KEYS, and no other member gets either. SIGINT/SIGTERM drains every process.
//
// Ports: PORT for the gateway (default 8080); the services from CLUSTER_PORT_BASE (default 8081):
// scheduling base and base+6, queue base+1 and base+7, lock base+2, backup base+3, patient base+4; metrics from
// CLUSTER_METRICS_BASE (default 9464), one per process, the gateway serving its own on PORT.
// Each member's heap is capped at CLUSTER_HEAP_MB (default 96; see member-node-args.ts) and
// CLUSTER_NODE_ARGS adds Node options to every member (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof",
// which NODE_OPTIONS does not accept).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { ensureDevAuth } from "../services/runtime/auth/dev-tokens.js";
import { newKeySpec } from "../services/runtime/crypto/field-cipher.js";
import { readOrCreateSecretFile } from "../services/runtime/process/secret-file.js";
import { memberNodeArgs } from "./member-node-args.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

interface Member {
  name: string;
  script: string;
  port: number;
  metricsPort: number;
  /** env is what this member alone gets (its data keys). */
  env?: NodeJS.ProcessEnv;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`medschedule cluster: configuration error: ${name} must be a port number, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

/** ensure runs one of the scripts/ensure-*.sh helpers (local Postgres or Redis) when no URL is given. */
function ensure(script: string): void {
  const r = spawnSync("bash", [path.join(root, "scripts", script)], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    process.stderr.write(`medschedule cluster: scripts/${script} failed (exit ${r.status})\n`);
    process.exit(1);
  }
}

const gatewayPort = int("PORT", 8080);
const base = int("CLUSTER_PORT_BASE", 8081);
const metricsBase = int("CLUSTER_METRICS_BASE", 9464);
let nodeArgs: string[];
try {
  nodeArgs = memberNodeArgs();
} catch (err) {
  process.stderr.write(`medschedule cluster: configuration error: ${(err as Error).message}\n`);
  process.exit(2);
}
const dataDir = path.resolve(process.env.DATA_DIR ?? path.join(root, "data"));
if (!process.env.DATABASE_URL) ensure("ensure-postgres.sh");
if (!process.env.REDIS_URL && !process.env.REDIS_SENTINELS) ensure("ensure-redis.sh");
const databaseUrl = process.env.DATABASE_URL ?? "postgres://medschedule:medschedule@127.0.0.1:5432/medschedule";
const redisUrl = process.env.REDIS_SENTINELS ? undefined : (process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

// One HS256 key for every process (the one `npm start` keeps in DATA_DIR unless AUTH_HS256_SECRET is set).
const dev = process.env.AUTH_HS256_SECRET ? undefined : await ensureDevAuth(dataDir, { issuer: process.env.AUTH_ISSUER, audience: process.env.AUTH_AUDIENCE });
const secret = process.env.AUTH_HS256_SECRET ?? dev!.secret;
const serviceToken = process.env.SERVICE_TOKEN ?? dev?.tokens.service;
if (!serviceToken) {
  process.stderr.write("medschedule cluster: configuration error: with AUTH_HS256_SECRET set, also set SERVICE_TOKEN (a token with the service role)\n");
  process.exit(2);
}

// One page-token secret for every process, so a next page can be asked of any replica (kept in
// DATA_DIR as by `npm start`, unless PAGE_TOKEN_SECRET is set).
const pageTokenSecret = process.env.PAGE_TOKEN_SECRET || (await readOrCreateSecretFile(path.join(dataDir, "page-token-secret"))).secret;

// The data keys, in the same DATA_DIR files as `npm start` (README "Patient data and its keys"): every
// replica of a service must seal and open with the same keys.
const keep = async (name: string, file: string, make: () => string) => process.env[name] || (await readOrCreateSecretFile(path.join(dataDir, file), make)).secret;
const patientKeys = {
  PATIENT_ENCRYPTION_KEYS: await keep("PATIENT_ENCRYPTION_KEYS", "patient-encryption-keys", () => newKeySpec()),
  PATIENT_INDEX_KEY: await keep("PATIENT_INDEX_KEY", "patient-index-key", () => randomBytes(32).toString("base64")),
};
const schedulingKeys = { SCHEDULING_ENCRYPTION_KEYS: await keep("SCHEDULING_ENCRYPTION_KEYS", "scheduling-encryption-keys", () => newKeySpec()) };

const services: Member[] = [
  { name: "scheduling-1", script: "dist/services/scheduling/main.js", port: base, metricsPort: metricsBase, env: schedulingKeys },
  { name: "scheduling-2", script: "dist/services/scheduling/main.js", port: base + 6, metricsPort: metricsBase + 1, env: schedulingKeys },
  { name: "queue-1", script: "dist/services/queue/main.js", port: base + 1, metricsPort: metricsBase + 2 },
  { name: "queue-2", script: "dist/services/queue/main.js", port: base + 7, metricsPort: metricsBase + 3 },
  { name: "lock", script: "dist/services/lock/main.js", port: base + 2, metricsPort: metricsBase + 4 },
  { name: "backup", script: "dist/services/backup/main.js", port: base + 3, metricsPort: metricsBase + 5 },
  { name: "patient", script: "dist/services/patient/main.js", port: base + 4, metricsPort: metricsBase + 6, env: patientKeys },
];
const addr = (prefix: string) =>
  services
    .filter((s) => s.name.startsWith(prefix))
    .map((s) => `127.0.0.1:${s.port}`)
    .join(",");
const upstreams = { SCHEDULING_ADDR: addr("scheduling"), QUEUE_ADDR: addr("queue"), LOCK_ADDR: addr("lock"), BACKUP_ADDR: addr("backup"), PATIENT_ADDR: addr("patient") };
// The data keys reach only their own service (the members above carry them).
const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in patientKeys) && !(k in schedulingKeys)));
const common: NodeJS.ProcessEnv = {
  ...inherited,
  DATABASE_URL: databaseUrl,
  ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  AUTH_HS256_SECRET: secret,
  PAGE_TOKEN_SECRET: pageTokenSecret,
  SERVICE_TOKEN: serviceToken,
  DATA_DIR: dataDir,
  ...upstreams,
};

const children = new Map<string, ChildProcess>();
let stopping = false;

function start(m: Member): void {
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, m.script)], {
    cwd: root,
    env: { ...common, ...m.env, PORT: String(m.port), METRICS_PORT: String(m.metricsPort) },
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.set(m.name, child);
  child.on("exit", (code, signal) => {
    children.delete(m.name);
    if (stopping) {
      if (children.size === 0) process.exit(0);
      return;
    }
    // One member failing takes the cluster down: a half cluster would only confuse whoever uses it.
    process.stderr.write(`medschedule cluster: ${m.name} exited (${signal ?? `code ${code}`}); stopping the others\n`);
    stop(code === 2 ? 2 : 1);
  });
}

function stop(exitCode = 0): void {
  if (stopping) return;
  stopping = true;
  for (const c of children.values()) c.kill("SIGTERM");
  if (children.size === 0) process.exit(exitCode);
  setTimeout(() => {
    for (const c of children.values()) c.kill("SIGKILL");
    process.exit(exitCode || 1);
  }, 30_000).unref();
}

process.on("SIGINT", () => stop());
process.on("SIGTERM", () => stop());
for (const s of services) start(s);
// The gateway serves its metrics on its own port (/metrics), so METRICS_PORT=0 for it.
start({ name: "gateway", script: "dist/gateway/main.js", port: gatewayPort, metricsPort: 0 });
const lines = [
  "",
  `MedSchedule cluster: gateway http://localhost:${gatewayPort} (pid ${children.get("gateway")?.pid})`,
  ...services.map((s) => `  ${s.name.padEnd(13)} grpc 127.0.0.1:${s.port}  metrics http://127.0.0.1:${s.metricsPort}/metrics  (pid ${children.get(s.name)?.pid})`),
  `  database ${databaseUrl.replace(/:[^:@/]*@/, ":***@")}, redis ${redisUrl ?? process.env.REDIS_SENTINELS}`,
  dev ? `  dev tokens: ${dev.tokensFile}` : "",
  "",
];
process.stdout.write(lines.join("\n") + "\n");
