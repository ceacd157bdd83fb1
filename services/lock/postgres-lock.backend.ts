// The Postgres lock backend: a lease table (lock.leases) with row checks. Every operation is one
// statement, so it is atomic on real Postgres (the row lock of INSERT ... ON CONFLICT DO UPDATE
// serializes contenders; the loser re-checks the WHERE on the winner's row and gets no row) and on
// PGlite (one session, statements serialized by our dialect). Times are the database's clock.
import { EventEmitter } from "node:events";
import { sql, type Kysely } from "kysely";
import type { LeaseRow } from "./db/lease.table.js";
import { fencingToken, type AcquireInput, type AcquireOutcome, type LeaseRecord, type LockBackend } from "./lock-backend.port.js";

/** HeldLeaseRow is a lock.leases row holding a live lease (every statement here selects only those). */
type HeldLeaseRow = LeaseRow & { lease_id: string; acquired_at: Date; expires_at: Date };

function toLease(row: HeldLeaseRow): LeaseRecord {
  return {
    resource: row.resource,
    leaseId: row.lease_id,
    owner: row.owner ?? "",
    fencingToken: fencingToken(BigInt(row.epoch), BigInt(row.counter)),
    acquiredAt: row.acquired_at,
    expiresAt: row.expires_at,
    backend: "postgres",
  };
}

const COLUMNS = sql`resource, lease_id, owner, epoch, counter, acquired_at, expires_at`;

/** PostgresLockBackend keeps leases in lock.leases; the token's epoch is read in the same statement. */
export class PostgresLockBackend implements LockBackend {
  /** kind is "postgres". */
  readonly kind = "postgres" as const;
  readonly #db: Kysely<any>;
  readonly #released = new EventEmitter();

  constructor(db: Kysely<any>) {
    this.#db = db;
    this.#released.setMaxListeners(0);
  }

  /** acquire inserts or takes over the resource's row when it is free or its lease expired. */
  async acquire(input: AcquireInput): Promise<AcquireOutcome> {
    // The epoch comes from lock.fencing_epoch inside the statement: a token is always issued under
    // the epoch in force when it is written, and the counter restarts only when the epoch moved up.
    // An epoch bumped for Redis is Redis's alone: then nothing is inserted and the caller is told.
    // KEY SHARE on the epoch row orders this statement with bumpEpoch's FOR UPDATE: a bump waits for an
    // acquire that read the old epoch (it may be waiting for the resource's row) to commit, and an
    // acquire that meets a bump waits for it and reads the new epoch. Without it, an acquire could read
    // the epoch, wait, and issue under the old epoch after AdvanceEpoch had answered.
    const { rows } = await sql<HeldLeaseRow>`
      insert into lock.leases as l (resource, lease_id, owner, epoch, counter, acquired_at, expires_at)
      select ${input.resource}, ${input.leaseId}, ${input.owner}, e.epoch, 1,
             clock_timestamp(), clock_timestamp() + ${input.ttlMs} * interval '1 millisecond'
      from lock.fencing_epoch e where e.id = 1 and e.issued_by = 'postgres'
      for key share of e
      on conflict (resource) do update set
        lease_id = excluded.lease_id,
        owner = excluded.owner,
        epoch = greatest(l.epoch, excluded.epoch),
        counter = case when excluded.epoch > l.epoch then 1 else l.counter + 1 end,
        -- Not excluded.*: those times were read before this statement waited for the row's lock,
        -- and a takeover after the wait would be dated before the lease it follows (and could be
        -- born expired). Here the lock is held, so the times are those of the grant.
        acquired_at = clock_timestamp(),
        expires_at = clock_timestamp() + ${input.ttlMs} * interval '1 millisecond'
      where l.lease_id is null or l.expires_at <= clock_timestamp()
      returning ${COLUMNS}`.execute(this.#db);
    if (rows[0]) return { kind: "acquired", lease: toLease(rows[0]) };
    const state = await sql<{ ms: string | null; epoch: string; issued_by: string }>`
      select e.epoch, e.issued_by,
             (select greatest(0, extract(epoch from (expires_at - clock_timestamp())) * 1000)::bigint
              from lock.leases where resource = ${input.resource} and lease_id is not null) as ms
      from lock.fencing_epoch e where e.id = 1`.execute(this.#db);
    const s = state.rows[0];
    if (s && s.issued_by !== "postgres") return { kind: "epoch", seenEpoch: Number(s.epoch), sameServer: false };
    return { kind: "held", retryAfterMs: s?.ms != null ? Number(s.ms) : 0 };
  }

  /** release frees the row when `leaseId` holds a live lease on it. */
  async release(resource: string, leaseId: string): Promise<boolean> {
    const { rows } = await sql<{ resource: string }>`
      update lock.leases set lease_id = null, owner = null, acquired_at = null, expires_at = null
      where resource = ${resource} and lease_id = ${leaseId} and expires_at > clock_timestamp()
      returning resource`.execute(this.#db);
    if (rows.length > 0) this.#released.emit("released", resource);
    return rows.length > 0;
  }

  /** extend moves a live lease's expiry to now + ttlMs when `leaseId` holds it. */
  async extend(resource: string, leaseId: string, ttlMs: number): Promise<LeaseRecord | undefined> {
    const { rows } = await sql<HeldLeaseRow>`
      update lock.leases set expires_at = clock_timestamp() + ${ttlMs} * interval '1 millisecond'
      where resource = ${resource} and lease_id = ${leaseId} and expires_at > clock_timestamp()
      returning ${COLUMNS}`.execute(this.#db);
    return rows[0] ? toLease(rows[0]) : undefined;
  }

  /** forceRelease frees the row whoever holds it. */
  async forceRelease(resource: string): Promise<LeaseRecord | undefined> {
    const { rows } = await sql<HeldLeaseRow>`
      update lock.leases l set lease_id = null, owner = null, acquired_at = null, expires_at = null
      from (select ${COLUMNS} from lock.leases where resource = ${resource} and lease_id is not null
            and expires_at > clock_timestamp() for update) old
      where l.resource = old.resource
      returning old.resource, old.lease_id, old.owner, old.epoch, old.counter, old.acquired_at, old.expires_at`.execute(this.#db);
    if (rows.length > 0) this.#released.emit("released", resource);
    return rows[0] ? toLease(rows[0]) : undefined;
  }

  /** holder reads the live lease on resource. */
  async holder(resource: string): Promise<LeaseRecord | undefined> {
    const { rows } = await sql<HeldLeaseRow>`
      select ${COLUMNS} from lock.leases
      where resource = ${resource} and lease_id is not null and expires_at > clock_timestamp()`.execute(this.#db);
    return rows[0] ? toLease(rows[0]) : undefined;
  }

  /** latestExpiry returns the latest expiry of any live lease (undefined when none is live). */
  async latestExpiry(): Promise<Date | undefined> {
    const { rows } = await sql<{ at: Date | null }>`
      select max(expires_at) as at from lock.leases where lease_id is not null and expires_at > clock_timestamp()`.execute(this.#db);
    return rows[0]?.at ?? undefined;
  }

  /** list pages through live leases, oldest first. */
  async list(prefix: string, offset: number, limit: number): Promise<LeaseRecord[]> {
    const { rows } = await sql<HeldLeaseRow>`
      select ${COLUMNS} from lock.leases
      where lease_id is not null and expires_at > clock_timestamp() and starts_with(resource, ${prefix})
      order by acquired_at, resource offset ${offset} limit ${limit}`.execute(this.#db);
    return rows.map(toLease);
  }

  /** count counts live leases and those acquired before stuckBefore. */
  async count(stuckBefore: Date): Promise<{ active: number; stuck: number }> {
    const { rows } = await sql<{ active: string; stuck: string }>`
      select count(*) as active, count(*) filter (where acquired_at < ${stuckBefore}) as stuck
      from lock.leases where lease_id is not null and expires_at > clock_timestamp()`.execute(this.#db);
    return { active: Number(rows[0]?.active ?? 0), stuck: Number(rows[0]?.stuck ?? 0) };
  }

  /** onRelease hears releases made through this backend object (other processes: waiters poll). */
  onRelease(listener: (resource: string) => void): () => void {
    this.#released.on("released", listener);
    return () => this.#released.off("released", listener);
  }
}
