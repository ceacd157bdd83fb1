import { sql } from "kysely";
import { isUniqueViolation } from "../../runtime/db/pg-errors.js";
import { RequestInProgressError } from "../../runtime/idempotency.js";
import type { Db } from "../db/database.js";
import type { NewTicketRow, TicketRow, TicketStatusName, TicketUpdate } from "../db/ticket.table.js";
import { AppointmentTicketTakenError, CounterCalledMeanwhileError, PatientWalkInTakenError } from "../queue.errors.js";
import { rankOrderBySql, yieldJoinSql, type RankPolicy } from "../ranking.js";

/**
 * refused turns a unique violation of the tickets' own indexes (migrations) into the named error the
 * service handles: tickets_one_active_per_appointment, tickets_one_active_walk_in_per_patient,
 * tickets_one_called_per_counter and, for the requestId stored with a new ticket, request_keys_pkey
 * (the same requestId, first used concurrently: REQUEST_IN_PROGRESS until its response is read).
 * Any other error is returned as it is.
 */
function refused(err: unknown, counterId = ""): unknown {
  if (isUniqueViolation(err, "tickets_one_active_per_appointment")) return new AppointmentTicketTakenError({ cause: err });
  if (isUniqueViolation(err, "tickets_one_active_walk_in_per_patient")) return new PatientWalkInTakenError({ cause: err });
  if (isUniqueViolation(err, "tickets_one_called_per_counter")) return new CounterCalledMeanwhileError(counterId, { cause: err });
  if (isUniqueViolation(err, "request_keys_pkey")) return new RequestInProgressError();
  return err;
}

/**
 * insertTicket inserts a ticket; AppointmentTicketTakenError or PatientWalkInTakenError when the
 * appointment or the patient (a walk-in) already has an active ticket there.
 */
export async function insertTicket(db: Db, row: NewTicketRow): Promise<TicketRow> {
  try {
    return await db.insertInto("queue.tickets").values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    throw refused(err);
  }
}

/** findTicket reads a ticket; with `forUpdate` it row-locks it until commit. */
export async function findTicket(db: Db, ticketId: string, opts: { forUpdate?: boolean } = {}): Promise<TicketRow | undefined> {
  let q = db.selectFrom("queue.tickets").selectAll().where("ticket_id", "=", ticketId);
  if (opts.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** findActiveForAppointment reads an appointment's WAITING or CALLED ticket (at most one: tickets_one_active_per_appointment). */
export async function findActiveForAppointment(db: Db, appointmentId: string): Promise<TicketRow | undefined> {
  return db.selectFrom("queue.tickets").selectAll().where("appointment_id", "=", appointmentId).where("status", "in", ["WAITING", "CALLED"]).executeTakeFirst();
}

/**
 * findActiveOfPatient reads the WAITING or CALLED ticket a patient holds in a queue: their walk-in
 * ticket (at most one: tickets_one_active_walk_in_per_patient), else a ticket of one of their appointments.
 */
export async function findActiveOfPatient(db: Db, queueId: string, patientId: string): Promise<TicketRow | undefined> {
  return db
    .selectFrom("queue.tickets")
    .selectAll()
    .where("queue_id", "=", queueId)
    .where("patient_id", "=", patientId)
    .where("status", "in", ["WAITING", "CALLED"])
    .orderBy(sql`appointment_id is null`, "desc")
    .orderBy("seq")
    .limit(1)
    .executeTakeFirst();
}

/** findTickets reads several tickets by id. */
export async function findTickets(db: Db, ticketIds: readonly string[]): Promise<TicketRow[]> {
  if (ticketIds.length === 0) return [];
  return db.selectFrom("queue.tickets").selectAll().where("ticket_id", "in", [...ticketIds]).execute();
}

/** findCalledAt reads the ticket a counter holds CALLED, if any. */
export async function findCalledAt(db: Db, queueId: string, counterId: string): Promise<TicketRow | undefined> {
  return db
    .selectFrom("queue.tickets")
    .selectAll()
    .where("queue_id", "=", queueId)
    .where("counter_id", "=", counterId)
    .where("status", "=", "CALLED")
    .executeTakeFirst();
}

/**
 * updateTicketIf changes a ticket only while it is in one of `from` states (and, with `counterId`,
 * held by that counter): a compare-and-swap. Undefined when the ticket was not in that state.
 */
export async function updateTicketIf(
  db: Db,
  ticketId: string,
  from: readonly TicketStatusName[],
  update: TicketUpdate,
  opts: { counterId?: string } = {},
): Promise<TicketRow | undefined> {
  let q = db.updateTable("queue.tickets").set(update).where("ticket_id", "=", ticketId).where("status", "in", [...from]);
  if (opts.counterId !== undefined) q = q.where("counter_id", "=", opts.counterId);
  return q.returningAll().executeTakeFirst();
}

/** listActive reads a queue's WAITING and CALLED tickets (unordered). */
export async function listActive(db: Db, queueId: string): Promise<TicketRow[]> {
  return db.selectFrom("queue.tickets").selectAll().where("queue_id", "=", queueId).where("status", "in", ["WAITING", "CALLED"]).execute();
}

/** listEnded reads a page of a queue's tickets in the given final states, most recently ended first. */
export async function listEnded(db: Db, queueId: string, statuses: readonly TicketStatusName[], offset: number, limit: number): Promise<TicketRow[]> {
  if (statuses.length === 0 || limit <= 0) return [];
  return db
    .selectFrom("queue.tickets")
    .selectAll()
    .where("queue_id", "=", queueId)
    .where("status", "in", [...statuses])
    .orderBy("ended_at", "desc")
    .orderBy("ticket_id")
    .offset(offset)
    .limit(limit)
    .execute();
}

/** countWaitingByQueue counts WAITING tickets per queue (for appointment_queue_length). */
export async function countWaitingByQueue(db: Db): Promise<{ queueId: string; count: number }[]> {
  const rows = await db
    .selectFrom("queue.tickets")
    .select(["queue_id", sql<string>`count(*)`.as("n")])
    .where("status", "=", "WAITING")
    .groupBy("queue_id")
    .execute();
  return rows.map((r) => ({ queueId: r.queue_id, count: Number(r.n) }));
}

/** countWaiting counts a queue's WAITING tickets. */
export async function countWaiting(db: Db, queueId: string): Promise<number> {
  const row = await db
    .selectFrom("queue.tickets")
    .select(sql<string>`count(*)`.as("n"))
    .where("queue_id", "=", queueId)
    .where("status", "=", "WAITING")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** AuditActor is who an audit entry written by a statement below names. */
export interface AuditActor {
  /** actor is the caller's subject. */
  actor: string;
  /** role is the caller's role. */
  role: string;
  /** action is the RPC. */
  action: string;
  /** onBehalfOf is the end user a service acts for. */
  onBehalfOf: string | null;
}

/** auditOf is the CTE body that audits every patient ticket of `from` (anonymous tickets carry no PHI). */
function auditOf(from: string, audit: AuditActor, at: Date) {
  return sql`insert into queue.audit_log (at, actor, role, action, record_type, record_id, on_behalf_of)
    select ${at}::timestamptz, ${audit.actor}::text, ${audit.role}::text, ${audit.action}::text, 'ticket', x.ticket_id, ${audit.onBehalfOf}::text
    from ${sql.table(from)} x where x.patient_id is not null`;
}

/** changeOf is the CTE body that records a (pending) change for every ticket of `from`. */
function changeOf(from: string, at: Date) {
  return sql`insert into queue.changes (queue_id, at, kind, ticket_id) select x.queue_id, ${at}::timestamptz, 'ticket', x.ticket_id from ${sql.table(from)} x`;
}

/**
 * insertIssuedTicket inserts a new ticket with its pending change, its audit entry and its requestId
 * (with the response already) in one statement: one round trip, one commit. A requestId used
 * concurrently fails the whole statement (nothing is inserted) with RequestInProgressError; an
 * appointment or a walk-in patient that got an active ticket meanwhile with
 * AppointmentTicketTakenError or PatientWalkInTakenError.
 */
export async function insertIssuedTicket(
  db: Db,
  row: NewTicketRow,
  key: { caller: string; rpc: string; requestId: string; hash: string; at: Date; response: Uint8Array },
  audit: AuditActor,
): Promise<TicketRow> {
  const cols = Object.keys(row) as (keyof NewTicketRow)[];
  const r = await sql<TicketRow>`
    with k as (
      insert into queue.request_keys (caller, rpc, request_id, request_hash, response, created_at)
      values (${key.caller}, ${key.rpc}, ${key.requestId}, ${key.hash}, ${Buffer.from(key.response)}, ${key.at})
    ), t as (
      insert into queue.tickets (${sql.join(cols.map((c) => sql.ref(c)))}) values (${sql.join(cols.map((c) => sql`${row[c]}`))}) returning *
    ), c as (${changeOf("t", key.at)}), a as (${auditOf("t", audit, key.at)})
    select * from t`
    .execute(db)
    .catch((err: unknown) => {
      throw refused(err);
    });
  return r.rows[0];
}

/**
 * takeDayNumber takes the next ticket number of a queue on a local day in a statement of its own, on
 * the database (never inside a transaction), committed without waiting for the WAL flush: the row
 * lock on the day's counter is held for microseconds, not through a disk flush, so concurrent issues
 * of a queue do not queue up behind each other. Safe: the ticket that uses the number commits later
 * with a synchronous commit, which flushes the WAL up to and including this earlier commit; if
 * Postgres crashes before that, no committed ticket has the number and it may be handed out again.
 * A ticket insert that fails after this leaves a gap in the day's numbers.
 */
export async function takeDayNumber(db: Db, queueId: string, localDay: string): Promise<number> {
  if (db.isTransaction) throw new Error("takeDayNumber must run in a statement of its own, outside a transaction");
  const r = await sql<{ last_number: number }>`
    insert into queue.ticket_days (queue_id, local_day, last_number)
    select ${queueId}, ${localDay}::date, 1 from (select set_config('synchronous_commit', 'off', true)) as async_commit
    on conflict (queue_id, local_day) do update set last_number = queue.ticket_days.last_number + 1
    returning last_number`.execute(db);
  return r.rows[0].last_number;
}

/** CallNextResult says what an atomic CallNext found: a closed or unknown counter, the held ticket, or the newly called one. */
export interface CallNextResult {
  /** counterOpen is false when the counter is not open on the queue (or either does not exist). */
  counterOpen: boolean;
  /** held is the ticket the counter already holds CALLED (returned again, nothing changes). */
  held?: TicketRow;
  /** called is the ticket just called. */
  called?: TicketRow;
}

/**
 * callNextAtomic calls the highest-ranked WAITING ticket of a queue to an open counter in one
 * statement: it row-locks the counter (serializing calls and closes of that counter), returns the
 * ticket the counter already holds if any, otherwise takes the next ticket with
 * `FOR UPDATE SKIP LOCKED` in ranking order (ranking.ts), so concurrent counters take different
 * tickets and never wait on each other, marks it CALLED, and records the change and the audit entry.
 * One ticket per counter is guaranteed by the unique index tickets_one_called_per_counter: a
 * concurrent call at the same counter that this statement's snapshot missed fails with
 * CounterCalledMeanwhileError, and the caller retries.
 */
export async function callNextAtomic(db: Db, queueId: string, counterId: string, now: Date, policy: RankPolicy, audit: AuditActor): Promise<CallNextResult> {
  const r = await sql<TicketRow & { counter_open: number; call_kind: "held" | "called" | null }>`
    with c as (
      select counter_id from queue.counters where queue_id = ${queueId} and counter_id = ${counterId} and is_open for update
    ), held as (
      select * from queue.tickets where queue_id = ${queueId} and counter_id = ${counterId} and status = 'CALLED'
    ), nxt as (
      select t.ticket_id from queue.tickets t
      left join queue.tickets y on ${yieldJoinSql()}
      where t.queue_id = ${queueId} and t.status = 'WAITING' and exists (select 1 from c) and not exists (select 1 from held)
      order by ${sql.join(rankOrderBySql(now, policy))}
      limit 1 for update of t skip locked
    ), upd as (
      update queue.tickets t
      set status = 'CALLED', counter_id = ${counterId}, called_at = ${now}, first_called_at = coalesce(t.first_called_at, ${now}), updated_at = ${now}
      from nxt where t.ticket_id = nxt.ticket_id and t.status = 'WAITING'
      returning t.*
    ), ch as (${changeOf("upd", now)}), au as (${auditOf("upd", audit, now)})
    select (select count(*) from c)::int as counter_open, x.*
    from (select 1) as one
    left join (select 'held' as call_kind, h.* from held h union all select 'called', u.* from upd u) as x on true`
    .execute(db)
    .catch((err: unknown) => {
      throw refused(err, counterId);
    });
  const counterOpen = r.rows[0]?.counter_open > 0;
  let held: TicketRow | undefined;
  let called: TicketRow | undefined;
  for (const row of r.rows) {
    const { counter_open: _open, call_kind, ...ticket } = row;
    if (call_kind === "held") held = ticket as TicketRow;
    else if (call_kind === "called") called = ticket as TicketRow;
  }
  return { counterOpen, held, called };
}

/** nextWaiting reads the ticket a queue's next CallNext would call at `now` (ranking.ts), without locking it. */
export async function nextWaiting(db: Db, queueId: string, now: Date, policy: RankPolicy): Promise<Pick<TicketRow, "ticket_id" | "skip_count"> | undefined> {
  const r = await sql<Pick<TicketRow, "ticket_id" | "skip_count">>`
    select t.ticket_id, t.skip_count from queue.tickets t
    left join queue.tickets y on ${yieldJoinSql()}
    where t.queue_id = ${queueId} and t.status = 'WAITING'
    order by ${sql.join(rankOrderBySql(now, policy))}
    limit 1`.execute(db);
  return r.rows[0];
}

/**
 * updateCalledTicket changes a ticket only while it is CALLED at `counterId` (and, with `expect`,
 * while its counts are those seen), recording the change and the audit entry in the same statement:
 * a compare-and-swap in one round trip. Undefined when the ticket was not in that state.
 */
export async function updateCalledTicket(
  db: Db,
  ticketId: string,
  counterId: string,
  update: TicketUpdate,
  now: Date,
  audit: AuditActor,
  expect: { recall_count?: number; skip_count?: number } = {},
): Promise<TicketRow | undefined> {
  const sets = Object.entries(update).filter(([, v]) => v !== undefined).map(([k, v]) => sql`${sql.ref(k)} = ${v}`);
  const checks = Object.entries(expect).filter(([, v]) => v !== undefined).map(([k, v]) => sql` and ${sql.ref(k)} = ${v}`);
  const r = await sql<TicketRow>`
    with upd as (
      update queue.tickets set ${sql.join(sets)}
      where ticket_id = ${ticketId} and status = 'CALLED' and counter_id = ${counterId}${sql.join(checks, sql``)}
      returning *
    ), ch as (${changeOf("upd", now)}), au as (${auditOf("upd", audit, now)})
    select * from upd`.execute(db);
  return r.rows[0];
}
