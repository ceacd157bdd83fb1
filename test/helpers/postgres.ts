// Test helpers for a real PostgreSQL (DESIGN.md §5: Postgres is always real in tests).
// `npm test` runs scripts/ensure-test-deps.sh first, which makes DATABASE_URL answer.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** DEFAULT_DATABASE_URL is the admin URL used when DATABASE_URL is unset (see scripts/ensure-postgres.sh). */
export const DEFAULT_DATABASE_URL = 'postgres://medschedule:medschedule@127.0.0.1:5432/medschedule';

/** TeardownHost is the part of a node-tap test object the helpers use. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/** databaseUrl returns DATABASE_URL, or DEFAULT_DATABASE_URL when it is unset or empty. */
export function databaseUrl(): string {
  return process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid DATABASE_URL>';
  }
}

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `cannot connect to ${redact(adminUrl)}: ${(err as Error).message} ` +
        '(run `bash scripts/ensure-test-deps.sh`, or set DATABASE_URL)',
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** createTestDatabase creates an empty database `test_<random>` on the DATABASE_URL server, drops it WITH (FORCE) at `t`'s teardown, and returns its URL. */
export async function createTestDatabase(t: TeardownHost): Promise<string> {
  const adminUrl = databaseUrl();
  const name = `test_${randomBytes(8).toString('hex')}`;
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  t.teardown(() =>
    withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** insertOutcome is "inserted" when a write succeeded, else the SQLSTATE and constraint Postgres refused it with (e.g. "23505 queues_one_owner_per_prefix"). */
export function insertOutcome(write: Promise<unknown>): Promise<string> {
  return write.then(
    () => "inserted",
    (e: { code?: string; constraint?: string }) => `${e.code} ${e.constraint ?? ""}`.trim(),
  );
}
