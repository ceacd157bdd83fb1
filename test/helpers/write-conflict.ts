// A real deadlock with a request's transaction, on demand: the next row written to a table takes
// two advisory locks in order (A then B) from a trigger, while a session of the test holds B and,
// once the request waits for B, asks for A. Postgres finds the cycle and rolls the request back
// (40P01, or 55P03 first where the service bounds lock waits); the test's session, whose
// deadlock_timeout is long, is never the one chosen.
import pg from "pg";

const KEY_CLASS = 7019;

/** DeadlockTrap makes the next write to a table deadlock once; `release` lets later writes through. */
export interface DeadlockTrap {
  /** release frees the test's locks and removes the trigger. */
  release(): Promise<void>;
}

/** trapNextWrite installs the trigger on `table` (schema-qualified) in the database at `url` and holds lock B. */
export async function trapNextWrite(url: string, table: string): Promise<DeadlockTrap> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const fn = `deadlock_trap_${table.replace(/\W/g, "_")}`;
  await admin.query(`
    create or replace function public.${fn}() returns trigger language plpgsql as $$
    begin
      perform pg_advisory_xact_lock(${KEY_CLASS}, 1);
      perform pg_advisory_xact_lock(${KEY_CLASS}, 2);
      return new;
    end $$`);
  await admin.query(`create trigger ${fn} before insert or update on ${table} for each row execute function public.${fn}()`);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query("set deadlock_timeout = '60s'");
  await holder.query(`select pg_advisory_lock(${KEY_CLASS}, 2)`);
  let released = false;
  const sprung = (async () => {
    while (!released) {
      const waiting = await admin.query(
        `select 1 from pg_locks where locktype = 'advisory' and classid = ${KEY_CLASS} and objid = 2 and not granted`
          + ` and database = (select oid from pg_database where datname = current_database())`,
      );
      if (waiting.rowCount) {
        // Closes the cycle; granted once Postgres has rolled the request back.
        await holder.query(`select pg_advisory_lock(${KEY_CLASS}, 1)`);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async release() {
      released = true;
      await sprung.catch(() => {});
      await holder.query("select pg_advisory_unlock_all()");
      await admin.query(`drop trigger if exists ${fn} on ${table}`);
      await Promise.all([holder.end(), admin.end()]);
    },
  };
}
