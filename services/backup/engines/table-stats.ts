import type { TableStat } from "../db/backup.table.js";

/** DOMAIN_SCHEMAS are the schemas a Postgres backup holds; the backup catalog (schema backup) is never in it. */
export const DOMAIN_SCHEMAS = ["scheduling", "queue", "lock", "patient"] as const;

/** Query runs one SQL statement with positional parameters and returns its rows. */
export type Query = <R = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<R[]>;

/**
 * SESSION_SETTINGS make a row's text form the same on every server and session, so checksums taken
 * at dump time and after a restore compare equal.
 */
export const SESSION_SETTINGS = [
  "set time zone 'UTC'",
  "set datestyle = 'ISO, YMD'",
  "set intervalstyle = 'postgres'",
  "set extra_float_digits = 3",
  "set bytea_output = 'hex'",
];

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** existingSchemas lists which of `schemas` exist. */
export async function existingSchemas(q: Query, schemas: readonly string[] = DOMAIN_SCHEMAS): Promise<string[]> {
  const rows = await q<{ nspname: string }>("select nspname from pg_namespace where nspname = any($1::text[]) order by nspname", [schemas]);
  return rows.map((r) => r.nspname);
}

/**
 * tableStats counts the rows of every table in `schemas` and checksums their content: md5 over the
 * sorted md5s of the rows' text forms, so it does not depend on physical row order. Run it in the
 * snapshot the dump reads (or on the restored copy) with SESSION_SETTINGS applied.
 */
export async function tableStats(q: Query, schemas: readonly string[]): Promise<TableStat[]> {
  const tables = await q<{ s: string; t: string }>(
    `select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1::text[]) and c.relkind in ('r', 'p') order by 1, 2`,
    [schemas],
  );
  const out: TableStat[] = [];
  for (const { s, t } of tables) {
    const [row] = await q<{ rows: string | number; checksum: string }>(
      `select count(*)::int8 as rows, md5(coalesce(string_agg(h, '' order by h), '')) as checksum
         from (select md5(x::text) as h from ${ident(s)}.${ident(t)} x) y`,
    );
    out.push({ name: `${s}.${t}`, rows: Number(row.rows), checksum: row.checksum });
  }
  return out;
}

/** InvariantReport is what the domain checks found on a restored copy. */
export interface InvariantReport {
  /** problems break an invariant: the backup is not good. */
  problems: string[];
  /** notes say what was checked or skipped. */
  notes: string[];
}

const ACTIVE_STATUSES = ["PROPOSED", "BOOKED", "CHECKED_IN"];

/**
 * checkDomainInvariants checks a restored copy against DESIGN.md invariant 1: no two active
 * appointments of a provider overlap, nor two active bookings of a room or device. It adapts to the
 * scheduling tables that exist (a `blocked` or `during` range, or start/end columns; status as a
 * name, a prefixed name or a number) and says in a note what it skipped and why.
 */
export async function checkDomainInvariants(q: Query): Promise<InvariantReport> {
  const problems: string[] = [];
  const notes: string[] = [];
  const cols = new Set(
    (
      await q<{ column_name: string }>(
        "select column_name from information_schema.columns where table_schema = 'scheduling' and table_name = 'appointments'",
      )
    ).map((r) => r.column_name),
  );
  if (cols.size === 0) {
    notes.push("invariant 1 (no overlapping active appointments): skipped, the backup has no scheduling.appointments table");
    return { problems, notes };
  }
  let range: (a: string) => string;
  // `blocked` (the visit plus the provider's buffer) is what the exclusion constraint guards.
  if (cols.has("blocked")) range = (a) => `${a}.blocked`;
  else if (cols.has("during")) range = (a) => `${a}.during`;
  else if (cols.has("start_time") && cols.has("end_time")) range = (a) => `tstzrange(${a}.start_time, ${a}.end_time)`;
  else if (cols.has("starts_at") && cols.has("ends_at")) range = (a) => `tstzrange(${a}.starts_at, ${a}.ends_at)`;
  else {
    notes.push("invariant 1: skipped, scheduling.appointments has no during or start_time/end_time columns");
    return { problems, notes };
  }
  if (!cols.has("provider_id") || !cols.has("status")) {
    notes.push("invariant 1: skipped, scheduling.appointments has no provider_id or status column");
    return { problems, notes };
  }
  const active = [
    ...ACTIVE_STATUSES,
    ...ACTIVE_STATUSES.map((s) => `APPOINTMENT_STATUS_${s}`),
    ...ACTIVE_STATUSES.map((s) => s.toLowerCase()),
    "1",
    "2",
    "3",
  ];
  const isActive = (a: string) => `${a}.status::text = any($1::text[])`;
  const [row] = await q<{ n: string | number }>(
    `select count(*)::int8 as n from scheduling.appointments a join scheduling.appointments b
       on a.provider_id = b.provider_id and a.ctid < b.ctid and ${range("a")} && ${range("b")}
      where ${isActive("a")} and ${isActive("b")}`,
    [active],
  );
  const n = Number(row.n);
  if (n > 0) problems.push(`invariant 1 broken: ${n} pair(s) of active appointments of one provider overlap`);
  else notes.push("invariant 1: no overlapping active appointments per provider");

  const rooms = new Set(
    (
      await q<{ column_name: string }>(
        "select column_name from information_schema.columns where table_schema = 'scheduling' and table_name = 'appointment_resources'",
      )
    ).map((r) => r.column_name),
  );
  if (rooms.has("resource_id") && rooms.has("during") && rooms.has("active")) {
    const [r] = await q<{ n: string | number }>(
      `select count(*)::int8 as n from scheduling.appointment_resources a join scheduling.appointment_resources b
         on a.resource_id = b.resource_id and a.ctid < b.ctid and a.during && b.during
        where a.active and b.active`,
    );
    const m = Number(r.n);
    if (m > 0) problems.push(`invariant 1 broken: ${m} pair(s) of active bookings of one room or device overlap`);
    else notes.push("invariant 1: no overlapping active bookings per room or device");
  }
  return { problems, notes };
}

/** compareStats lines up the stats recorded at dump time with those of a restored copy. */
export function compareStats(expected: TableStat[], actual: TableStat[]): {
  name: string;
  expectedRows: number;
  actualRows: number;
  expectedChecksum: string;
  actualChecksum: string;
  ok: boolean;
}[] {
  const got = new Map(actual.map((s) => [s.name, s]));
  const names = [...new Set([...expected.map((s) => s.name), ...actual.map((s) => s.name)])].sort();
  const want = new Map(expected.map((s) => [s.name, s]));
  return names.map((name) => {
    const e = want.get(name);
    const a = got.get(name);
    return {
      name,
      expectedRows: e?.rows ?? -1,
      actualRows: a?.rows ?? -1,
      expectedChecksum: e?.checksum ?? "",
      actualChecksum: a?.checksum ?? "",
      ok: e !== undefined && a !== undefined && e.rows === a.rows && e.checksum === a.checksum,
    };
  });
}
