// The SQL around a dump when it replaces live schemas, the same for pg_restore's and PGlite's dumps.
//
// Why: a restore puts back the data of the backup's moment, but some things must not go back with it.
// Change sequences (WatchQueue, WatchAppointments) and a queue's ticket numbers of the day were
// already handed out to screens and patients: handing them out again freezes open streams until the
// old high-water mark is passed and calls two patients "D-102". Audit rows are append-only: a restore
// must not erase who did what since the backup. Only the owning service knows its tables, so the
// backup service asks each schema generically.
//
// How, in the restore's one transaction (all or nothing):
//   1. every table of the schemas being replaced is locked ACCESS EXCLUSIVE (what `drop schema`
//      took before): no writer commits into the old tables while their high-water marks are read;
//   2. each live schema `s` is renamed to `s_before_restore` instead of dropped;
//   3. the dump runs and creates `s` anew, as at backup time;
//   4. for each schema whose live (renamed) copy has `restore_carry_over(previous_schema text)`, that
//      function runs: it reads what must survive from the renamed schema and writes it into the
//      restored one (each service's migrations define it, in its own schema);
//   5. the renamed schemas are dropped.
// The function of the LIVE schema runs, not the backup's: the running code's own version, present
// even when the backup predates it. A schema without the function is restored as before.

const SUFFIX = "_before_restore";

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function textArray(values: string[]): string {
  return `array[${values.map(literal).join(", ")}]::text[]`;
}

/** previousSchemaOf is the name a live schema has while a restore replaces it ("queue" -> "queue_before_restore"). */
export function previousSchemaOf(schema: string): string {
  return `${schema}${SUFFIX}`;
}

/**
 * restorePrologue is the SQL run in the restore's transaction before the dump: lock the live tables
 * of `schemas`, then move each live schema aside under previousSchemaOf() (see the file comment).
 */
export function restorePrologue(schemas: string[]): string {
  if (schemas.length === 0) return "";
  return `set local lock_timeout = '30s';
do $restore$
declare
  r record;
begin
  for r in
    select format('%I.%I', n.nspname, c.relname) as rel from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any(${textArray(schemas)}) and c.relkind in ('r', 'p')
     order by n.nspname, c.relname
  loop
    execute 'lock table ' || r.rel || ' in access exclusive mode';
  end loop;
end
$restore$;
${schemas.map((s) => `drop schema if exists ${ident(previousSchemaOf(s))} cascade;`).join("\n")}
do $restore$
declare
  s text;
begin
  foreach s in array ${textArray(schemas)} loop
    if exists (select 1 from pg_namespace where nspname = s) then
      execute format('alter schema %I rename to %I', s, s || ${literal(SUFFIX)});
    end if;
  end loop;
end
$restore$;
`;
}

/**
 * restoreEpilogue is the SQL run in the restore's transaction after the dump: each moved-aside
 * schema's `restore_carry_over(previous_schema)` when it has one, then the moved-aside schemas go.
 */
export function restoreEpilogue(schemas: string[]): string {
  if (schemas.length === 0) return "";
  return `
do $restore$
declare
  s text;
  previous text;
begin
  foreach s in array ${textArray(schemas)} loop
    previous := s || ${literal(SUFFIX)};
    if exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = previous and p.proname = 'restore_carry_over'
                  and p.pronargs = 1 and p.proargtypes[0] = 'pg_catalog.text'::pg_catalog.regtype) then
      execute format('select %I.restore_carry_over($1)', previous) using previous;
    end if;
  end loop;
end
$restore$;
${schemas.map((s) => `drop schema if exists ${ident(previousSchemaOf(s))} cascade;`).join("\n")}
`;
}
