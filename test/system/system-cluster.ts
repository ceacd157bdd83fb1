// The system under test for the fault runs: the gateway, the lock and patient services and two
// replicas each of scheduling and queue as separate processes (as `npm run cluster` runs them), over one Postgres
// database and one private Redis reached through a TCP proxy the caller controls. Each member keeps
// its port, so a replica can be SIGTERMed (or SIGSTOPped) and started again where the gateway expects it.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { memberNodeArgs } from "../../scripts/member-node-args.js";
import { TEST_KEYS_ENV } from "../helpers/system.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** MemberName names one process of the system cluster. */
export type MemberName = "lock" | "scheduling-1" | "scheduling-2" | "queue-1" | "queue-2" | "patient" | "gateway";

/** Member is one process of the cluster. */
export interface Member {
  /** name of the member. */
  readonly name: MemberName;
  /** port of its gRPC server. */
  readonly port: number;
  /** process is the current child (a new one after start()). */
  readonly process: ChildProcess;
  /** signal sends a signal to the current child (SIGTERM, SIGSTOP, SIGCONT, ...). */
  signal(sig: NodeJS.Signals): void;
  /** stop sends SIGTERM (then SIGKILL after `graceMs`) and resolves with the exit code once it has exited. */
  stop(graceMs?: number): Promise<number | null>;
  /** start starts it again on the same port and resolves once its health check says SERVING. */
  start(): Promise<void>;
  /** log is the tail of its stderr and stdout. */
  log(): string;
}

/** SystemCluster is the running system. */
export interface SystemCluster {
  /** gatewayAddress is "127.0.0.1:port" of the gateway (gRPC and Connect). */
  gatewayAddress: string;
  /** members by name. */
  members: Record<MemberName, Member>;
  /** secret is the HS256 key every member trusts. */
  secret: string;
  /** close stops every member (SIGTERM, then SIGKILL). */
  close(): Promise<void>;
}

/** SystemClusterOptions configure startSystemCluster. */
export interface SystemClusterOptions {
  /** databaseUrl is the Postgres database of every service. */
  databaseUrl: string;
  /** redisUrl is the Redis of the lock service (typically the TCP proxy). */
  redisUrl: string;
  /** secret is the HS256 token key. */
  secret: string;
  /** env adds variables to every member (e.g. LOG_LEVEL). */
  env?: Record<string, string>;
  /** startTimeoutMs bounds waiting for SERVING (default 90 s). */
  startTimeoutMs?: number;
}

const LOG_LINES = 60;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** pickPorts returns `n` consecutive free ports in 12000-18999 (below the ephemeral range, away from the cluster test's 20000+). */
export async function pickPorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 690) * 10;
    const ports = Array.from({ length: n }, (_, i) => base + i);
    let ok = true;
    for (const p of ports) if (!(await canBind(p))) ok = false;
    if (ok) return ports;
  }
  throw new Error("pickPorts: no free block of ports in 12000-18999");
}

/** waitServing polls grpc.health.v1.Health/Check at `address` until SERVING or the deadline; returns whether it did. */
export async function waitServing(address: string, timeoutMs: number, alive: () => boolean = () => true): Promise<boolean> {
  const tr = createGrpcJsTransport({ addresses: [address] });
  try {
    const health = createClient(Health, tr);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && alive()) {
      const status = await health.check({}, { timeoutMs: 1_000 }).then((r) => r.status, () => undefined);
      if (status === HealthCheckResponse_ServingStatus.SERVING) return true;
      await new Promise((r) => setTimeout(r, 150));
    }
    return false;
  } finally {
    tr.close();
  }
}

/** startSystemCluster starts the seven processes and resolves once every one of them is SERVING. */
export async function startSystemCluster(opts: SystemClusterOptions): Promise<SystemCluster> {
  const startTimeoutMs = opts.startTimeoutMs ?? 90_000;
  const [gw, lock, s1, s2, q1, q2, patient] = await pickPorts(7);
  const addr = (...ports: number[]) => ports.map((p) => `127.0.0.1:${p}`).join(",");
  const serviceToken = await signToken(opts.secret, "medschedule", ["service"], { ttlSeconds: 7 * 86_400 });
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    AUTH_HS256_SECRET: opts.secret,
    // Every replica opens the page tokens of the others.
    PAGE_TOKEN_SECRET: randomBytes(32).toString("base64url"),
    SERVICE_TOKEN: serviceToken,
    SCHEDULING_ADDR: addr(s1, s2),
    QUEUE_ADDR: addr(q1, q2),
    LOCK_ADDR: addr(lock),
    // The workload never calls the BackupService; its calls answer UNIMPLEMENTED from the lock process.
    BACKUP_ADDR: addr(lock),
    PATIENT_ADDR: addr(patient),
    // The same data keys on every replica (synthetic data only; PATIENT_CHECK off as in the test system).
    ...TEST_KEYS_ENV,
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "0",
    SHUTDOWN_GRACE: "5s",
    ...opts.env,
  };
  const specs: { name: MemberName; script: string; port: number }[] = [
    { name: "lock", script: "dist/services/lock/main.js", port: lock },
    { name: "scheduling-1", script: "dist/services/scheduling/main.js", port: s1 },
    { name: "scheduling-2", script: "dist/services/scheduling/main.js", port: s2 },
    { name: "queue-1", script: "dist/services/queue/main.js", port: q1 },
    { name: "queue-2", script: "dist/services/queue/main.js", port: q2 },
    { name: "patient", script: "dist/services/patient/main.js", port: patient },
    { name: "gateway", script: "dist/gateway/main.js", port: gw },
  ];
  const live = new Set<ChildProcess>();
  const killAll = () => {
    for (const c of live) c.kill("SIGKILL");
  };
  process.once("exit", killAll);

  const makeMember = (spec: (typeof specs)[number]): Member => {
    let child!: ChildProcess;
    const lines: string[] = [];
    const spawnIt = () => {
      child = spawn(process.execPath, [...memberNodeArgs(), path.join(root, spec.script)], {
        cwd: root,
        env: { ...common, PORT: String(spec.port) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      live.add(child);
      child.once("exit", () => live.delete(child));
      const collect = (d: Buffer) => {
        for (const line of d.toString("utf8").split("\n")) {
          if (line.trim() === "") continue;
          lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
          if (lines.length > LOG_LINES) lines.shift();
        }
      };
      child.stdout?.on("data", collect);
      child.stderr?.on("data", collect);
    };
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    const member: Member = {
      name: spec.name,
      port: spec.port,
      get process() {
        return child;
      },
      signal: (sig) => {
        if (!exited()) child.kill(sig);
      },
      stop: (graceMs = 15_000) => {
        if (exited()) return Promise.resolve(child.exitCode);
        return new Promise((resolve) => {
          const c = child;
          const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
          c.once("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
          });
          c.kill("SIGCONT");
          c.kill("SIGTERM");
        });
      },
      start: async () => {
        if (child && !exited()) throw new Error(`${spec.name} is still running`);
        // A process that exits while starting (e.g. "cannot reach Postgres" within its 5 s on a loaded
        // machine) is started again, as Kubernetes restarts a pod, up to three times.
        const deadline = Date.now() + startTimeoutMs;
        for (let attempt = 1; ; attempt++) {
          spawnIt();
          const ok = await waitServing(`127.0.0.1:${spec.port}`, Math.max(1_000, deadline - Date.now()), () => !exited());
          if (ok) return;
          if (!exited() || attempt >= 3 || Date.now() >= deadline) {
            child.kill("SIGKILL");
            throw new Error(`${spec.name} on port ${spec.port} did not become SERVING within ${startTimeoutMs} ms (${attempt} start(s)):\n${lines.join("\n")}`);
          }
          await new Promise((r) => setTimeout(r, 1_000));
        }
      },
      log: () => lines.join("\n"),
    };
    return member;
  };

  const members = Object.fromEntries(specs.map((s) => [s.name, makeMember(s)])) as Record<MemberName, Member>;
  const close = async () => {
    await Promise.all(Object.values(members).map((m) => m.stop(10_000)));
    process.removeListener("exit", killAll);
  };
  try {
    // All at once: the gateway answers UNAVAILABLE for a service until one of its replicas listens.
    await Promise.all(specs.map((s) => members[s.name].start()));
  } catch (err) {
    await close();
    throw err;
  }
  return { gatewayAddress: `127.0.0.1:${gw}`, members, secret: opts.secret, close };
}
