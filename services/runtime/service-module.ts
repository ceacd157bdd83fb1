import type { DescService } from "@bufbuild/protobuf";
import type { Redis } from "ioredis";
import type { Kysely } from "kysely";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { DatabaseConnection } from "./db/index.js";
import type { Logger } from "./observability/logger.js";
import type { PageTokens } from "./page-token.js";
import type { Peers } from "./clients/peers.js";

/** ServiceDeps is what a service class gets from its process: database, clock, logger, config. */
export interface ServiceDeps {
  /** db is the Kysely handle (Postgres or embedded PGlite). */
  db: Kysely<any>;
  /** clock tells the time. */
  clock: Clock;
  /** logger is the process logger. */
  logger: Logger;
  /** config is the validated configuration. */
  config: Config;
  /** redis is the lock Redis (REDIS_URL or Sentinels); undefined when none is configured. */
  redis?: Redis;
  /** pageTokens seal and open the page tokens of List RPCs (PAGE_TOKEN_SECRET, shared by every replica). */
  pageTokens: PageTokens;
  /** peers are clients of the other services (in-process or over gRPC to *_ADDR), calling with SERVICE_TOKEN. */
  peers: Peers;
  /** database is the open database behind db (its kind, and the PGlite instance in embedded mode), for tools such as backups. */
  database?: DatabaseConnection;
}

/** MountedService is one gRPC service and its implementation. */
export interface MountedService {
  /** service is the generated descriptor. */
  service: DescService;
  /** impl is the ServiceImpl class instance. */
  impl: object;
  /** close stops the service's background work (loops, subscriptions) before the process closes its connections. */
  close?: () => Promise<void>;
}

/** ServiceModule is a MedSchedule service as a process or the gateway mounts it. */
export interface ServiceModule {
  /** name is the short name: "scheduling", "queue", "lock", "backup". */
  name: string;
  /** defaultPort is its gRPC port in distributed mode. */
  defaultPort: number;
  /** schema is the Postgres schema holding its tables. */
  schema: string;
  /** migrationsFolder holds its migration files. */
  migrationsFolder: string;
  /** services are the gRPC services `create` returns, known before the database is up. */
  services: DescService[];
  /** create builds its service classes. */
  create(deps: ServiceDeps): MountedService[];
  /** privateDirs are the directories it keeps data in, by the variable that sets them (BACKUP_DIR); the host makes them owner-only. */
  privateDirs?(config: Config): Record<string, string>;
}
