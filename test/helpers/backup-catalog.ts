// A BackupServiceImpl called directly, with its catalog on a fresh real Postgres database.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { DescMethod } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { backupModule } from "../../services/backup/backup.module.js";
import { BackupServiceImpl, type BackupServiceDeps, type BackupServiceOptions } from "../../services/backup/backup-service.js";
import type { Principal } from "../../services/runtime/auth/principal.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { type DatabaseConnection } from "../../services/runtime/db/index.js";
import type { Peers } from "../../services/runtime/clients/peers.js";
import { lockModule } from "../../services/lock/lock.module.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { testContext } from "./handler-context.js";
import { type TeardownHost } from "./postgres.js";
import { createModuleDatabase } from "./module-database.js";

/** CatalogDb is a fresh database with the backup (and optionally queue and lock) schemas migrated. */
export interface CatalogDb extends DatabaseConnection {
  /** databaseUrl is its URL. */
  databaseUrl: string;
}

/** createCatalogDb opens a fresh Postgres database with the backup, queue and lock schemas migrated. */
export async function createCatalogDb(t: TeardownHost): Promise<CatalogDb> {
  return createModuleDatabase(t, [backupModule, queueModule, lockModule], { maxConnections: 4 });
}

/** tempDir makes a temp directory removed at teardown. */
export async function tempDir(t: TeardownHost, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** AdvanceEpochCall is one call the fake LockService client saw. */
export interface FakeLockPeer {
  /** peers hands out the fake LockService client. */
  peers: Peers;
  /** reasons are the AdvanceEpoch reasons seen. */
  reasons: string[];
}

/** fakeLockPeer is a LockService client answering AdvanceEpoch with growing epochs (DESIGN.md 5: unit tests may fake peer clients). */
export function fakeLockPeer(): FakeLockPeer {
  const reasons: string[] = [];
  let epoch = 100n;
  const client = {
    advanceEpoch: async (req: { reason: string }) => {
      reasons.push(req.reason);
      epoch += 1n;
      return { previousEpoch: epoch - 1n, epoch };
    },
  };
  return { reasons, peers: { client: () => client as never } };
}

/** createService builds a BackupServiceImpl with the schedule off unless asked, closed at teardown. */
export function createService(t: TeardownHost, deps: BackupServiceDeps, options: BackupServiceOptions = {}): BackupServiceImpl {
  const svc = new BackupServiceImpl(deps, { schedule: false, ...options });
  t.teardown(() => svc.close());
  return svc;
}

/** ctxAs is a HandlerContext for a BackupService method called by `role`. */
export function ctxAs(method: DescMethod, role: Role = "admin", subject = `${role}-1`): HandlerContext {
  const principal: Principal = { subject, roles: [role], grantedRole: role, ownOnly: false };
  return testContext(method, { principal });
}
