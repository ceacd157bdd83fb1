// Helpers for QueueService tests: a migrated queue schema on a fresh real Postgres database, a handler
// context with a caller, and replicas of the service on it over gRPC with clients calling as anyone.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient, type Client, type HandlerContext } from "@connectrpc/connect";
import { testContext } from "./handler-context.js";
import type { DescMethod } from "@bufbuild/protobuf";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import type { Principal } from "../../services/runtime/auth/principal.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { serveGrpc } from "../../services/runtime/server/grpc-server.js";
import { createRuntime } from "../../services/runtime/host.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { TEST_KEYS_ENV, TEST_PAGE_TOKEN_SECRET, TEST_SECRET } from "./system.js";
import { type TeardownHost } from "./postgres.js";
import { tokenGrpcTransport } from "./token-transport.js";
import { createModuleDatabase, type MigratedDatabase } from "./module-database.js";

/** createQueueDatabase opens a fresh Postgres database with the queue schema migrated; closed at teardown. */
export async function createQueueDatabase(t: TeardownHost, opts: { maxConnections?: number } = {}): Promise<MigratedDatabase> {
  return createModuleDatabase(t, [queueModule], opts);
}

/** queueCtx is a HandlerContext for a QueueService method, with a principal when `as` is given. */
export function queueCtx(method: DescMethod, as?: { role: Role; subject: string; ownOnly?: boolean }, signal?: AbortSignal): HandlerContext {
  const principal: Principal | undefined = as && { subject: as.subject, roles: [as.role], grantedRole: as.role, ownOnly: as.ownOnly ?? false };
  return testContext(method, { principal, signal });
}

/** QueueServer is one QueueService process-equivalent: its own runtime (pool, feed) and grpc-js server. */
export interface QueueServer {
  /** port is the grpc-js server's port on 127.0.0.1. */
  port: number;
  /** client calls it over gRPC with `token`. */
  client: Client<typeof QueueService>;
  /** close stops the server and its runtime. */
  close(): Promise<void>;
}

/**
 * startQueueServers starts `count` queue-only runtimes, each with its own database pool and grpc-js
 * server, all on the same Postgres database: replicas of the QueueService.
 */
export async function startQueueServers(t: TeardownHost, databaseUrl: string, count: number, token: string, env: Record<string, string> = {}): Promise<QueueServer[]> {
  const servers: QueueServer[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-queue-replica-"));
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
    const runtime = await createRuntime({
      name: `queue-${i}`,
      modules: [queueModule],
      defaultPort: 0,
      env: { AUTH_HS256_SECRET: TEST_SECRET, PAGE_TOKEN_SECRET: TEST_PAGE_TOKEN_SECRET, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent", METRICS_PORT: "0", DATA_DIR: dataDir, DATABASE_URL: databaseUrl, ...TEST_KEYS_ENV, ...env },
    });
    await runtime.ready;
    const grpc = await serveGrpc({ port: 0, host: "127.0.0.1", services: runtime.registrations });
    const transport = tokenGrpcTransport(grpc.port, token);
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await grpc.close(200);
      await runtime.close();
    };
    t.teardown(close);
    servers.push({ port: grpc.port, client: createClient(QueueService, transport), close });
  }
  return servers;
}

/** queueClientAs is a QueueService client over gRPC to the server at `port`, calling as `subject` with `roles`. */
export async function queueClientAs(port: number, subject: string, roles: Role[]): Promise<Client<typeof QueueService>> {
  return createClient(QueueService, tokenGrpcTransport(port, await signToken(TEST_SECRET, subject, roles)));
}

/** QueueReplicas are two QueueService replicas on one fresh queue database. */
export interface QueueReplicas {
  /** database is the migrated queue database both replicas use. */
  database: MigratedDatabase;
  /** a and b are the replicas; their `client`s call as the scheduling service. */
  a: QueueServer;
  b: QueueServer;
  /** serviceToken is the scheduling service's token the replicas' clients carry. */
  serviceToken: string;
  /** clientAs is a client of replica a (or of the server at `port`) calling as `subject` with `roles`. */
  clientAs(subject: string, roles: Role[], port?: number): Promise<Client<typeof QueueService>>;
}

/** startQueueReplicas migrates a fresh queue database and starts two QueueService replicas on it. */
export async function startQueueReplicas(t: TeardownHost): Promise<QueueReplicas> {
  const database = await createQueueDatabase(t);
  const serviceToken = await signToken(TEST_SECRET, "scheduling", ["service"]);
  const [a, b] = await startQueueServers(t, database.databaseUrl, 2, serviceToken);
  return { database, a, b, serviceToken, clientAs: (subject, roles, port = a.port) => queueClientAs(port, subject, roles) };
}
