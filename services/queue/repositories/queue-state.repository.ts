import { sql } from "kysely";
import type { CounterRow } from "../db/counter.table.js";
import type { StoredRequest } from "../../runtime/idempotency.js";
import type { Db } from "../db/database.js";
import type { QueueRow } from "../db/queue.table.js";
import type { TicketPriorityName, TicketRow } from "../db/ticket.table.js";

/** QueueState is everything a ranking and a wait estimate need of a queue, read in one round trip. */
export interface QueueState {
  /** queue is the queue row. */
  queue: QueueRow;
  /** active are its WAITING and CALLED tickets (unordered). */
  active: TicketRow[];
  /** counters are its counters by id. */
  counters: CounterRow[];
  /** serviceTimesMs are the service times of its latest completed tickets, newest first. */
  serviceTimesMs: number[];
  /** waits are, for its latest first-called tickets, the class, the issue estimate and the real wait. */
  waits: { priority: TicketPriorityName; predictedMs: number; actualMs: number }[];
}

type Json = Record<string, unknown>;

/** The service_ms and waits columns of readQueueState: the samples, or empty ones. */
function sampleColumns(queueId: string, samples: { serviceTimes: number; waits: number } | undefined) {
  if (!samples) return sql`'[]'::jsonb as service_ms, '[[], [], []]'::jsonb as waits`;
  return sql`
      (select coalesce(jsonb_agg(s.ms order by s.ended_at desc), '[]'::jsonb) from (
         select (extract(epoch from ended_at - called_at) * 1000)::float8 as ms, ended_at
         from queue.tickets where queue_id = ${queueId} and status = 'COMPLETED'
         order by ended_at desc limit ${samples.serviceTimes}) s) as service_ms,
      (select jsonb_build_array(coalesce(array_agg(w.priority order by w.first_called_at desc), '{}'),
                                coalesce(array_agg(w.issue_estimate_ms order by w.first_called_at desc), '{}'),
                                coalesce(array_agg(w.actual_ms order by w.first_called_at desc), '{}')) from (
         select priority, issue_estimate_ms, first_called_at, (extract(epoch from first_called_at - enqueued_at) * 1000)::float8 as actual_ms
         from queue.tickets where queue_id = ${queueId} and first_called_at is not null and issue_estimate_ms is not null
         order by first_called_at desc limit ${samples.waits}) w) as waits`;
}

const TICKET_DATES = ["appointment_time", "arrived_at", "enqueued_at", "rank_at", "called_at", "first_called_at", "ended_at", "updated_at"] as const;

function date(v: unknown): Date | null {
  return v === null || v === undefined ? null : new Date(v as string);
}

/** ticketFromJson maps a ticket row as to_jsonb renders it (seq as text) back to a TicketRow. */
function ticketFromJson(o: Json): TicketRow {
  const row = { ...o } as Record<string, unknown>;
  for (const k of TICKET_DATES) row[k] = date(o[k]);
  return row as unknown as TicketRow;
}

function counterFromJson(o: Json): CounterRow {
  return { ...(o as unknown as CounterRow), opened_at: date(o.opened_at), closed_at: date(o.closed_at) };
}

function waitsFrom([priorities, predicted, actual]: [TicketPriorityName[], number[], number[]]): QueueState["waits"] {
  return priorities.map((priority, i) => ({ priority, predictedMs: Number(predicted[i]), actualMs: Math.max(0, Number(actual[i])) }));
}

function parsed<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

/**
 * readQueueState reads a queue with its active tickets, counters, recent service times and recent
 * waits in one statement (one snapshot), and, when `requestKey` is given, that stored requestId, and
 * with `appointmentId`, that appointment's active ticket in any queue. `queue` is undefined when the
 * queue does not exist. Without `samples` the service times and waits are not read (empty): the
 * caller has them from a recent read.
 */
export async function readQueueState(
  db: Db,
  queueId: string,
  samples: { serviceTimes: number; waits: number } | undefined,
  requestKey?: { caller: string; rpc: string; requestId: string },
  appointmentId?: string,
): Promise<{ state: QueueState | undefined; requestKey: StoredRequest | undefined; appointmentTicket?: TicketRow }> {
  const appointment = appointmentId
    ? sql`(select to_jsonb(t) || jsonb_build_object('seq', t.seq::text) from queue.tickets t
           where t.appointment_id = ${appointmentId} and t.status in ('WAITING', 'CALLED'))`
    : sql`null::jsonb`;
  const key = requestKey
    ? sql`(select to_jsonb(k) - 'response' || jsonb_build_object('response', encode(k.response, 'base64')) from queue.request_keys k
           where k.caller = ${requestKey.caller} and k.rpc = ${requestKey.rpc} and k.request_id = ${requestKey.requestId})`
    : sql`null::jsonb`;
  const r = await sql<{
    queue: Json | string | null;
    active: unknown;
    counters: unknown;
    service_ms: unknown;
    waits: unknown;
    request_key: Json | string | null;
    appointment_ticket: Json | string | null;
  }>`
    select
      (select to_jsonb(q) || jsonb_build_object('last_sequence', q.last_sequence::text) from queue.queues q where q.queue_id = ${queueId}) as queue,
      (select coalesce(jsonb_agg(to_jsonb(t) || jsonb_build_object('seq', t.seq::text)), '[]'::jsonb)
         from queue.tickets t where t.queue_id = ${queueId} and t.status in ('WAITING', 'CALLED')) as active,
      (select coalesce(jsonb_agg(to_jsonb(c) order by c.counter_id), '[]'::jsonb)
         from queue.counters c where c.queue_id = ${queueId}) as counters,
      ${sampleColumns(queueId, samples)},
      ${key} as request_key,
      ${appointment} as appointment_ticket
  `.execute(db);
  const row = r.rows[0];
  const k = row?.request_key ? parsed<Json>(row.request_key) : undefined;
  const requestKeyState: StoredRequest | undefined = k
    ? { request_hash: k.request_hash as string, response: typeof k.response === "string" ? Buffer.from(k.response, "base64") : null }
    : undefined;
  const appointmentTicket = row?.appointment_ticket ? ticketFromJson(parsed<Json>(row.appointment_ticket)) : undefined;
  if (!row?.queue) return { state: undefined, requestKey: requestKeyState, appointmentTicket };
  const q = parsed<Json>(row.queue);
  const queue = { ...(q as unknown as QueueRow), created_at: new Date(q.created_at as string) };
  return {
    state: {
      queue,
      active: parsed<Json[]>(row.active).map(ticketFromJson),
      counters: parsed<Json[]>(row.counters).map(counterFromJson),
      serviceTimesMs: parsed<unknown[]>(row.service_ms).map(Number).filter((ms) => Number.isFinite(ms) && ms >= 0),
      waits: waitsFrom(parsed<[TicketPriorityName[], number[], number[]]>(row.waits)),
    },
    requestKey: requestKeyState,
    appointmentTicket,
  };
}
