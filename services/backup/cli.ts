// `npm run backup -- <command>`: a small gRPC client of the BackupService for operators and for the
// Kubernetes CronJobs. It talks to BACKUP_ADDR (host:port[,host:port...]) with the bearer token in
// BACKUP_TOKEN or else SERVICE_TOKEN (a restore needs an admin token: DESIGN.md section 5).
//
//   run postgres|redis [--request-id ID] [--timeout 2h]
//                                          StartBackup, wait for the end; exit 1 unless SUCCEEDED
//   restore <backupId>                     RestoreBackup (the id on the command line is the confirmation)
//   verify <backupId>                      VerifyBackup; exit 1 unless ok
//   list [postgres|redis]                  ListBackups, newest first (one page)
//
// Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.
import { randomBytes } from "node:crypto";
import os from "node:os";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { BackupSchema, BackupState, BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { parseDurationMs } from "../runtime/config.js";
import { createGrpcJsTransport } from "../runtime/clients/grpc-transport.js";

const USAGE = "usage: npm run backup -- run postgres|redis [--request-id ID] [--timeout 2h] | restore <backupId> | verify <backupId> | list [postgres|redis]";

function fail(code: number, message: string): never {
  process.stderr.write(`medschedule backup: ${message}\n`);
  process.exit(code);
}

function target(arg: string | undefined): BackupTarget {
  if (arg === "postgres") return BackupTarget.POSTGRES;
  if (arg === "redis") return BackupTarget.REDIS;
  return fail(2, `unknown target ${JSON.stringify(arg ?? "")}: expected postgres or redis\n${USAGE}`);
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) fail(2, `${name} needs a value`);
  args.splice(i, 2);
  return v;
}

const args = process.argv.slice(2);
const requestId = flag(args, "--request-id");
const timeoutArg = flag(args, "--timeout");
const timeoutMs = timeoutArg === undefined ? 2 * 3_600_000 : (parseDurationMs(timeoutArg) ?? fail(2, `--timeout must be a duration like 30m or 2h, got ${JSON.stringify(timeoutArg)}`));
const [command, arg] = args;
if (!command) fail(2, USAGE);

const addresses = (process.env.BACKUP_ADDR ?? "").split(",").map((s) => s.trim()).filter(Boolean);
if (addresses.length === 0) fail(2, "BACKUP_ADDR is not set (host:port of the backup service)");
const token = process.env.BACKUP_TOKEN || process.env.SERVICE_TOKEN;
const transport = createGrpcJsTransport({ addresses, headers: token ? { authorization: `Bearer ${token}` } : {} });
const client = createClient(BackupService, transport);
const deadline = Date.now() + timeoutMs;
const left = () => Math.max(1, deadline - Date.now());

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(): Promise<number> {
  switch (command) {
    case "run": {
      const t = target(arg);
      const id = requestId ?? `cli-${arg}-${os.hostname()}-${new Date().toISOString()}-${randomBytes(3).toString("hex")}`;
      const started = await client.startBackup({ target: t, requestId: id }, { timeoutMs: Math.min(left(), 60_000) });
      let backup = started.backup!;
      process.stderr.write(`medschedule backup: ${backup.backupId} ${BackupState[backup.state]}\n`);
      while (backup.state === BackupState.RUNNING) {
        if (Date.now() >= deadline) fail(1, `gave up waiting for ${backup.backupId} after ${timeoutArg ?? "2h"}; it is still RUNNING on the server`);
        await new Promise((r) => setTimeout(r, 500));
        backup = (await client.getBackup({ backupId: backup.backupId }, { timeoutMs: Math.min(left(), 30_000) })).backup!;
      }
      print(toJson(BackupSchema, backup));
      if (backup.state !== BackupState.SUCCEEDED) {
        process.stderr.write(`medschedule backup: ${backup.backupId} FAILED: ${backup.error}\n`);
        return 1;
      }
      return 0;
    }
    case "restore": {
      if (!arg) fail(2, USAGE);
      const r = await client.restoreBackup({ backupId: arg, confirm: arg }, { timeoutMs: left() });
      print({ restored: arg, restoreDuration: `${Number(r.restoreDuration?.seconds ?? 0n) + (r.restoreDuration?.nanos ?? 0) / 1e9}s`, fencingEpoch: r.fencingEpoch.toString() });
      return 0;
    }
    case "verify": {
      if (!arg) fail(2, USAGE);
      const r = await client.verifyBackup({ backupId: arg }, { timeoutMs: left() });
      print({ backupId: arg, ok: r.ok, details: r.details });
      return r.ok ? 0 : 1;
    }
    case "list": {
      const r = await client.listBackups({ target: arg ? target(arg) : BackupTarget.UNSPECIFIED, pageSize: 50 }, { timeoutMs: Math.min(left(), 30_000) });
      for (const b of r.backups) print(toJson(BackupSchema, b));
      return 0;
    }
    default:
      return fail(2, `unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

try {
  const code = await main();
  transport.close();
  process.exit(code);
} catch (err) {
  transport.close();
  const ce = ConnectError.from(err);
  fail(1, `${command} failed: ${Code[ce.code]}: ${ce.rawMessage}`);
}
