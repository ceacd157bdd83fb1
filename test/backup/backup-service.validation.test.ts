// BackupServiceImpl alone: every RPC rejects malformed requests with INVALID_ARGUMENT naming exactly the
// bad fields before it touches anything, and lets well-formed ones through to the catalog. The catalog
// here is a stand-in that only records that it was reached (no database behaviour is faked: the
// service's real work is tested against real Postgres in the other backup tests).
import t from "tap";
import { create, type DescMethod, type MessageInitShape } from "@bufbuild/protobuf";
import { BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import {
  BackupService,
  GetBackupRequestSchema,
  ListBackupsRequestSchema,
  PruneBackupsRequestSchema,
  RestoreBackupRequestSchema,
  StartBackupRequestSchema,
  VerifyBackupRequestSchema,
} from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { BACKUPS_PAGE, BackupServiceImpl } from "../../services/backup/backup-service.js";
import { PAGE_TOKEN_MAX_LENGTH, PageTokens } from "../../services/runtime/page-token.js";
import {
  validateListBackups,
  validatePruneBackups,
  validateRestoreBackup,
  validateStartBackup,
} from "../../services/backup/backup.validation.js";
import { createFakeClock } from "../../services/runtime/clock.js";
import { describe, failure, invalidArgument as invalid, violatedFields as violations } from "../helpers/call-outcome.js";
import { testContext } from "../helpers/handler-context.js";

/** REACHED is what the stand-in catalog throws when a call got past validation. */
const REACHED = "reached the catalog";
const unreachable = new Proxy({}, { get: () => () => { throw new Error(REACHED); } });
const pageTokens = new PageTokens("backup-validation-test-page-token-secret-0123");
const svc = new BackupServiceImpl({ db: unreachable as never, clock: createFakeClock(), redisEngine: null, config: {}, pageTokens }, { schedule: false });

const ctx = (m: DescMethod) => testContext(m);

/** "passed validation" when the call reached the catalog, or what happened instead. */
async function passes(p: Promise<unknown>): Promise<string> {
  const err = await failure(p);
  if (!(err instanceof Error) || err.message !== REACHED) return `expected to reach the catalog, got ${describe(err)}`;
  return "passed validation";
}

const chars = (n: number, c = "x") => c.repeat(n);

t.test("every RPC of the service is covered here", async (t) => {
  t.same(Object.keys(BackupService.method).sort(), [
    "getBackup",
    "listBackups",
    "pruneBackups",
    "restoreBackup",
    "startBackup",
    "verifyBackup",
  ]);
});

t.test("StartBackup", async (t) => {
  const call = (init: MessageInitShape<typeof StartBackupRequestSchema>) =>
    svc.startBackup(create(StartBackupRequestSchema, init), ctx(BackupService.method.startBackup));

  t.equal(await passes(call({ target: BackupTarget.POSTGRES, requestId: "cron-2026-01-05T02:00Z" })), "passed validation");
  t.equal(await passes(call({ target: BackupTarget.REDIS, requestId: chars(128) })), "passed validation");
  t.same(await violations(call({})), ["requestId", "target"], "empty request");
  t.same(await violations(call({ requestId: "r1" })), ["target"], "target is required");
  t.same(await violations(call({ target: 99 as BackupTarget, requestId: "r1" })), ["target"], "unknown target");
  t.same(await violations(call({ target: BackupTarget.POSTGRES })), ["requestId"], "requestId is required");
  t.same(await violations(call({ target: BackupTarget.POSTGRES, requestId: "a b" })), ["requestId"], "requestId with a space");
  t.same(await violations(call({ target: BackupTarget.POSTGRES, requestId: chars(129) })), ["requestId"], "requestId too long");
  t.same(validateStartBackup(create(StartBackupRequestSchema, { target: BackupTarget.REDIS, requestId: "r1" })), {
    target: BackupTarget.REDIS,
    requestId: "r1",
  });
});

t.test("GetBackup", async (t) => {
  const call = (init: MessageInitShape<typeof GetBackupRequestSchema>) =>
    svc.getBackup(create(GetBackupRequestSchema, init), ctx(BackupService.method.getBackup));

  t.equal(await passes(call({ backupId: "b-20260105-0200_pg" })), "passed validation");
  t.equal(await passes(call({ backupId: chars(64) })), "passed validation", "64 characters");
  t.same(await violations(call({})), ["backupId"], "backupId is required");
  t.same(await violations(call({ backupId: "../etc/passwd" })), ["backupId"], "path characters");
  t.same(await violations(call({ backupId: chars(65) })), ["backupId"], "too long");
});

t.test("ListBackups", async (t) => {
  const call = (init: MessageInitShape<typeof ListBackupsRequestSchema>) =>
    svc.listBackups(create(ListBackupsRequestSchema, init), ctx(BackupService.method.listBackups));

  t.equal(await passes(call({})), "passed validation", "empty request lists all targets");
  t.equal(
    await passes(call({ target: BackupTarget.REDIS, pageSize: 500, pageToken: pageTokens.seal(BACKUPS_PAGE, { startedAt: new Date("2026-01-05T02:00:00.000Z"), backupId: "b-1" }, ["REDIS"]) })),
    "passed validation",
  );
  const handWritten = Buffer.from(JSON.stringify({ startedAt: "2026-01-05T02:00:00.000Z", backupId: "b-1" })).toString("base64url");
  t.same(await violations(call({ target: BackupTarget.REDIS, pageToken: handWritten })), ["pageToken"], "hand-written page token");
  const postgresPage = pageTokens.seal(BACKUPS_PAGE, { startedAt: new Date("2026-01-05T02:00:00.000Z"), backupId: "b-1" }, ["POSTGRES"]);
  t.same(await violations(call({ target: BackupTarget.REDIS, pageToken: postgresPage })), ["pageToken"], "page token of another target");
  t.same(await violations(call({ target: 3 as BackupTarget })), ["target"], "unknown target");
  t.same(await violations(call({ pageSize: -1 })), ["pageSize"], "negative page size");
  t.same(await violations(call({ pageSize: 501 })), ["pageSize"], "page size over 500");
  t.same(await violations(call({ pageToken: "not a token" })), ["pageToken"], "malformed page token");
  t.same(
    await violations(call({ target: -1 as BackupTarget, pageSize: 100_000, pageToken: chars(PAGE_TOKEN_MAX_LENGTH + 1) })),
    ["pageSize", "pageToken", "target"],
    "every bad field at once",
  );
  t.same(validateListBackups(create(ListBackupsRequestSchema, {})), { target: undefined, pageSize: 50, pageToken: "" });
  t.same(validateListBackups(create(ListBackupsRequestSchema, { target: BackupTarget.POSTGRES, pageSize: 3 })), {
    target: BackupTarget.POSTGRES,
    pageSize: 3,
    pageToken: "",
  });
});

t.test("VerifyBackup", async (t) => {
  const call = (init: MessageInitShape<typeof VerifyBackupRequestSchema>) =>
    svc.verifyBackup(create(VerifyBackupRequestSchema, init), ctx(BackupService.method.verifyBackup));

  t.equal(await passes(call({ backupId: "b-1" })), "passed validation");
  t.same(await violations(call({})), ["backupId"], "backupId is required");
  t.same(await violations(call({ backupId: "b 1" })), ["backupId"], "space");
  t.same(await violations(call({ backupId: chars(65) })), ["backupId"], "too long");
});

t.test("RestoreBackup", async (t) => {
  const call = (init: MessageInitShape<typeof RestoreBackupRequestSchema>) =>
    svc.restoreBackup(create(RestoreBackupRequestSchema, init), ctx(BackupService.method.restoreBackup));

  t.equal(await passes(call({ backupId: "b-1", confirm: "b-1" })), "passed validation");
  t.same(await violations(call({})), ["backupId", "confirm"], "empty request");
  t.same(await violations(call({ backupId: "b-1" })), ["confirm"], "confirm is required");
  t.same(await violations(call({ backupId: "b-1", confirm: "b-2" })), ["confirm"], "confirm differs");
  t.same(await violations(call({ backupId: "b-1", confirm: "B-1" })), ["confirm"], "confirm differs in case");
  t.same(await violations(call({ backupId: "b-1", confirm: " b-1" })), ["confirm"], "confirm with a space");
  t.same(await violations(call({ backupId: "b 1", confirm: "b 1" })), ["backupId"], "bad backupId, confirmed");
  t.same(await violations(call({ confirm: "b-1" })), ["backupId", "confirm"], "backupId missing");

  const err = await invalid(call({ backupId: "b-1", confirm: "b-2" }));
  t.match(typeof err === "string" ? err : err.violations, [{ field: "confirm", description: /must equal backupId/ }]);
  t.same(validateRestoreBackup(create(RestoreBackupRequestSchema, { backupId: "b-1", confirm: "b-1" })), { backupId: "b-1" });
});

t.test("PruneBackups", async (t) => {
  const call = (init: MessageInitShape<typeof PruneBackupsRequestSchema>) =>
    svc.pruneBackups(create(PruneBackupsRequestSchema, init), ctx(BackupService.method.pruneBackups));

  t.equal(await passes(call({})), "passed validation", "both targets");
  t.equal(await passes(call({ target: BackupTarget.POSTGRES, dryRun: true })), "passed validation");
  t.same(await violations(call({ target: 7 as BackupTarget })), ["target"], "unknown target");
  t.same(await violations(call({ target: 7 as BackupTarget, dryRun: true })), ["target"], "unknown target, dry run");
  t.same(validatePruneBackups(create(PruneBackupsRequestSchema, {})), { target: undefined, dryRun: false });
  t.same(validatePruneBackups(create(PruneBackupsRequestSchema, { target: BackupTarget.REDIS, dryRun: true })), {
    target: BackupTarget.REDIS,
    dryRun: true,
  });
});
