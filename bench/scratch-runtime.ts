/**
 * A scratch Postgres database with the scheduling and lock services' runtime on it, for the
 * benchmarks that write straight into the tables: created under DATABASE_URL, dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import pg from "pg";
import { lockModule } from "../services/lock/lock.module.js";
import { createRuntime } from "../services/runtime/host.js";
import { schedulingModule } from "../services/scheduling/scheduling.module.js";

/** BENCH_SECRET signs the benchmarks' tokens. */
export const BENCH_SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789";

/** ScratchRuntime is the runtime on a scratch database, with that database's URL. */
export interface ScratchRuntime {
  /** runtime serves the scheduling and lock modules. */
  runtime: Awaited<ReturnType<typeof createRuntime>>;
  /** databaseUrl is the scratch database's URL. */
  databaseUrl: string;
}

/**
 * withScratchDatabase creates a scratch database under DATABASE_URL and a temp data directory, runs
 * `fn` with them, and drops both afterwards.
 */
export async function withScratchDatabase(fn: (databaseUrl: string, dataDir: string) => Promise<void>): Promise<void> {
  const adminUrl = process.env.DATABASE_URL || "postgres://medschedule:medschedule@127.0.0.1:5432/medschedule";
  const name = `bench_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(os.tmpdir(), "medschedule-bench-"));
  try {
    await fn(url.toString(), dataDir);
  } finally {
    await admin.query(`drop database if exists "${name}" with (force)`).catch(() => undefined);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * withScratchRuntime creates a scratch database and the runtime on it (env: extra settings such as
 * SCHEDULING_BOOKING_HORIZON), runs `fn`, and drops the database and the runtime's data directory.
 */
export async function withScratchRuntime(env: Record<string, string>, fn: (s: ScratchRuntime) => Promise<void>): Promise<void> {
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  await withScratchDatabase(async (databaseUrl, dataDir) => {
    const runtime = await createRuntime({
      name: "bench",
      modules: [schedulingModule, lockModule],
      defaultPort: 0,
      env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, AUTH_HS256_SECRET: BENCH_SECRET, LOG_LEVEL: "silent", METRICS_PORT: "0", DATA_DIR: dataDir, ...env },
    });
    await fn({ runtime, databaseUrl });
  });
}
