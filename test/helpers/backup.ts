// Helpers for the BackupService tests over the test system (test/backup).
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { BackupState, type Backup } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import type { TestSystem } from "./system.js";

/** DOMAIN is what a Postgres backup holds. */
export const DOMAIN = ["scheduling", "queue", "lock", "patient"];

/** clientOf returns a client of `service` on the test system's grpc-js server, calling with `token`. */
export function clientOf<S extends DescService>(t: { teardown(fn: () => unknown): void }, sys: TestSystem, service: S, token: string): Client<S> {
  const transport = createGrpcJsTransport({ addresses: [`127.0.0.1:${sys.grpc.port}`], headers: { authorization: `Bearer ${token}` } });
  t.teardown(() => transport.close());
  return createClient(service, transport);
}

/** waitForBackup polls GetBackup until the backup is no longer RUNNING (at most `timeoutMs`). */
export async function waitForBackup(client: Client<typeof BackupService>, backupId: string, timeoutMs = 60_000): Promise<Backup> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { backup } = await client.getBackup({ backupId });
    if (backup!.state !== BackupState.RUNNING) return backup!;
    if (Date.now() > deadline) throw new Error(`backup ${backupId} still RUNNING after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** snapshotDomain reads every row of every table of the domain schemas, in a stable order, as text. */
export async function snapshotDomain(db: Kysely<any>): Promise<Record<string, string[]>> {
  const tables = await sql<{ s: string; t: string }>`
    select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any(${DOMAIN}::text[]) and c.relkind in ('r', 'p') order by 1, 2`.execute(db);
  const out: Record<string, string[]> = {};
  for (const { s, t } of tables.rows) {
    const rows = await sql<{ r: string }>`select x::text as r from ${sql.table(`${s}.${t}`)} x order by x::text`.execute(db);
    out[`${s}.${t}`] = rows.rows.map((r) => r.r);
  }
  return out;
}

/** hasTable tells whether schema.table exists. */
export async function hasTable(db: Kysely<any>, schema: string, table: string): Promise<boolean> {
  const r = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = ${schema} and table_name = ${table}`.execute(db);
  return r.rows[0].n > 0;
}

/**
 * seedAppointments inserts a provider and `count` BOOKED appointments straight into
 * scheduling.appointments (when that table exists; returns false otherwise).
 */
export async function seedAppointments(db: Kysely<any>, providerId: string, count: number, startAt = Date.parse("2026-12-01T09:00:00Z")): Promise<boolean> {
  if (!(await hasTable(db, "scheduling", "appointments")) || !(await hasTable(db, "scheduling", "providers"))) return false;
  // Written "now" (to the second), as the service would: a change older than the scheduling service's
  // retention is pruned at its next write, which could fall between a backup and the comparison.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  await sql`insert into scheduling.providers (provider_id, display_name, time_zone, created_at) values (${providerId}, ${"Dr. " + providerId}, 'Europe/Istanbul', ${now}) on conflict do nothing`.execute(db);
  for (let i = 0; i < count; i++) {
    const from = new Date(startAt + i * 30 * 60_000).toISOString();
    const to = new Date(startAt + i * 30 * 60_000 + 20 * 60_000).toISOString();
    await sql`insert into scheduling.appointments (appointment_id, provider_id, patient_id, during, blocked, status, created_at, updated_at)
      values (${`${providerId}-a${i}`}, ${providerId}, ${`pat-${i}`}, tstzrange(${from}::timestamptz, ${to}::timestamptz), tstzrange(${from}::timestamptz, ${to}::timestamptz), 'BOOKED', ${now}, ${now})`.execute(db);
  }
  // Number the location changes the inserts left pending now, as the service would after its own
  // writes, rather than at the service's next sweep (which could fall between a snapshot and a backup).
  const stamp = await sql<{ f: string | null }>`select to_regprocedure('scheduling.stamp_location_changes(integer)')::text as f`.execute(db);
  if (stamp.rows[0].f) await sql`select * from scheduling.stamp_location_changes(100000)`.execute(db);
  return true;
}

/**
 * CARRIED_OVER are the tables a restore does not simply put back: WatchQueue/WatchAppointments
 * sequences move past the live ones, today's ticket numbers go on, audit rows written since the
 * backup are kept (each schema's restore_carry_over), and AdvanceEpoch moves the fencing epoch.
 */
export const CARRIED_OVER = ["lock.fencing_epoch", "lock.audit_log", "queue.audit_log", "scheduling.audit_log", "patient.audit_log", "queue.ticket_days", "queue.queues", "scheduling.providers", "scheduling.locations"];

/** SEQUENCED are the tables whose `last_sequence` a restore moves past the live one, by their key. */
const SEQUENCED = { "queue.queues": "queue_id", "scheduling.providers": "provider_id", "scheduling.locations": "location_id" } as const;

/** withoutSequences reads queue.queues, scheduling.providers and scheduling.locations without last_sequence (the rest a restore puts back). */
export async function withoutSequences(db: Kysely<any>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of Object.keys(SEQUENCED)) {
    const rows = await sql<{ r: string }>`select (to_jsonb(x) - 'last_sequence')::text as r from ${sql.table(table)} x order by 1`.execute(db);
    out[table] = rows.rows.map((r) => r.r);
  }
  return out;
}

/** lastSequences reads every queue's, provider's and location's last_sequence, as "queue.queues/<id>" -> sequence. */
export async function lastSequences(db: Kysely<any>): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const [table, key] of Object.entries(SEQUENCED)) {
    const rows = await sql<{ k: string; s: string }>`select ${sql.ref(key)} as k, last_sequence::text as s from ${sql.table(table)}`.execute(db);
    for (const r of rows.rows) out.set(`${table}/${r.k}`, BigInt(r.s));
  }
  return out;
}
