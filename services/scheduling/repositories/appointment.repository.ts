import { sql, type RawBuilder } from "kysely";
import type { AuditBase } from "../../runtime/audit.js";
import type { AppointmentRow, AppointmentStatusName } from "../db/appointment.table.js";
import type { Db } from "../db/database.js";
import type { SealedText } from "../reason-vault.js";
import type { Interval } from "../slots.js";
import { ACTIVE, COLUMNS, insertAppointmentSql, insertRoomsSql, isActive, liveAt, statusList, timeTaken, type NewAppointment } from "./appointment.sql.js";
import { expireHoldsInTheWay } from "./hold.repository.js";

/**
 * insertAppointment inserts an appointment and its room bookings, after expiring the lapsed holds in
 * its way (they block nobody). TimeTakenError when an exclusion constraint finds the time taken; the
 * caller's transaction then rolls back as a whole.
 */
export async function insertAppointment(db: Db, a: NewAppointment): Promise<AppointmentRow> {
  return timeTaken(
    (async () => {
      await expireHoldsInTheWay(db, a);
      const { rows } = await sql<AppointmentRow>`${insertAppointmentSql(a)} returning ${COLUMNS}`.execute(db);
      if (a.resourceIds.length > 0) await insertRoomsSql(a).execute(db);
      return rows[0];
    })(),
  );
}

/** UPCOMING are the statuses of an appointment a patient holds (not a waitlist offer): what their limit counts. */
const UPCOMING = statusList(["BOOKED", "CHECKED_IN"]);

/** findAppointment reads one appointment (FOR UPDATE with `forUpdate`). */
export async function findAppointment(db: Db, appointmentId: string, opts: { forUpdate?: boolean } = {}): Promise<AppointmentRow | undefined> {
  const { rows } = await sql<AppointmentRow>`select ${COLUMNS} from scheduling.appointments a where a.appointment_id = ${appointmentId}
    ${opts.forUpdate ? sql`for update` : sql``}`.execute(db);
  return rows[0];
}

/**
 * findAppointmentAndKey reads an appointment (by its id, or `by` its hold_id) and the committed first
 * use of a requestId in one statement (a write RPC's read before it takes the lock).
 */
export async function findAppointmentAndKey(
  db: Db,
  appointmentId: string,
  key: { caller: string; rpc: string; requestId: string },
  by: "appointment_id" | "hold_id" = "appointment_id",
): Promise<{ appointment: AppointmentRow | undefined; requestKey: { request_hash: string; response: Buffer | null } | undefined }> {
  const { rows } = await sql<AppointmentRow & { rk_hash: string | null; rk_response: Buffer | null; found: boolean }>`
    select rk.request_hash as rk_hash, rk.response as rk_response, a.appointment_id is not null as found, ${COLUMNS}
    from (select 1) as one
      left join scheduling.request_keys rk on rk.caller = ${key.caller} and rk.rpc = ${key.rpc} and rk.request_id = ${key.requestId}
      left join scheduling.appointments a on ${sql.ref(`a.${by}`)} = ${appointmentId}`.execute(db);
  const { rk_hash, rk_response, found, ...appointment } = rows[0];
  return {
    appointment: found ? appointment : undefined,
    requestKey: rk_hash === null ? undefined : { request_hash: rk_hash, response: rk_response },
  };
}

/** findAppointments reads several appointments. */
export async function findAppointments(db: Db, ids: string[]): Promise<AppointmentRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<AppointmentRow>`select ${COLUMNS} from scheduling.appointments a where a.appointment_id = any(${ids}::text[])`.execute(db);
  return rows;
}

/** AppointmentChange is what a compare-and-swap transition writes: the new status and what goes with it. */
export interface AppointmentChange {
  status: AppointmentStatusName;
  at: Date;
  /** cancelReason is sealed for this appointment (ReasonVault.seal). */
  cancelReason?: SealedText;
  ticketId?: string;
  fencingToken?: bigint;
  offerExpiresAt?: Date | null;
  /** reason replaces the visit's reason (a hold's, given when it is confirmed), sealed for this appointment. */
  reason?: SealedText;
  /** holdLiveAt: only a hold (a hold_id) not lapsed at this instant changes (confirming a hold). */
  holdLiveAt?: Date;
}

/** Expected is what, beyond its status, an appointment must still hold for a change to apply: the ticket it was read with. */
export interface Expected {
  /** ticketId is the queue ticket as read (null: none). */
  ticketId: string | null;
}

/** casUpdate is the compare-and-swap UPDATE of one appointment (without RETURNING). */
function casUpdate(appointmentId: string, from: AppointmentStatusName[], set: AppointmentChange, expect?: Expected) {
  return sql`update scheduling.appointments a set status = ${set.status}, updated_at = ${set.at}
      ${set.cancelReason !== undefined ? sql`, cancel_reason = ${set.cancelReason.value}, cancel_reason_key_id = ${set.cancelReason.keyId}::text` : sql``}
      ${set.ticketId !== undefined ? sql`, ticket_id = ${set.ticketId}` : sql``}
      ${set.fencingToken !== undefined ? sql`, fencing_token = ${set.fencingToken.toString()}::numeric` : sql``}
      ${set.offerExpiresAt !== undefined ? sql`, offer_expires_at = ${set.offerExpiresAt}` : sql``}
      ${set.reason !== undefined ? sql`, reason = ${set.reason.value}, reason_key_id = ${set.reason.keyId}::text` : sql``}
    where a.appointment_id = ${appointmentId} and a.status = any(${from}::text[])
      ${set.holdLiveAt !== undefined ? sql`and a.hold_id is not null and a.offer_expires_at > ${set.holdLiveAt}` : sql``}
      ${expect ? sql`and a.ticket_id is not distinct from ${expect.ticketId}::text` : sql``}`;
}

/**
 * updateAppointmentIf changes an appointment only while it is in one of `from` (compare-and-swap);
 * undefined when it was not. Room bookings follow the new state in the same statement's transaction.
 */
export async function updateAppointmentIf(
  db: Db,
  appointmentId: string,
  from: AppointmentStatusName[],
  set: AppointmentChange,
): Promise<AppointmentRow | undefined> {
  const { rows } = await sql<AppointmentRow>`
    ${casUpdate(appointmentId, from, set)}
    returning ${COLUMNS}`.execute(db);
  const row = rows[0];
  if (row) {
    await sql`update scheduling.appointment_resources set active = ${isActive(set.status)} where appointment_id = ${appointmentId}`.execute(db);
  }
  return row;
}

/**
 * changeAppointmentIf is updateAppointmentIf plus what every change records, in one statement: the
 * compare-and-swap update, the rooms following the new state, the audit row and the change event
 * under the provider's next sequence (provider row locked last). Nothing is written when the
 * appointment is not in one of `from`, or (with `expect`) no longer holds the ticket it was read with
 * (undefined).
 */
export async function changeAppointmentIf(
  db: Db,
  appointmentId: string,
  from: AppointmentStatusName[],
  set: AppointmentChange,
  audit: AuditBase,
  expect?: Expected,
): Promise<AppointmentRow | undefined> {
  const { rows } = await sql<AppointmentRow>`
    with upd as (
      ${casUpdate(appointmentId, from, set, expect)}
      returning ${COLUMNS}
    ), rooms as (
      update scheduling.appointment_resources r set active = ${isActive(set.status)}
      from upd where r.appointment_id = upd.appointment_id
      returning 1
    ), audit as (
      insert into scheduling.audit_log (at, actor, role, action, record_type, record_id, on_behalf_of)
      select ${audit.at}, ${audit.actor}, ${audit.role}, ${audit.action}, 'appointment', upd.appointment_id, ${audit.on_behalf_of ?? null}::text from upd
      returning 1
    ), bumped as (
      update scheduling.providers p set last_sequence = p.last_sequence + 1
      from upd where p.provider_id = upd.provider_id and (select count(*) from rooms) >= 0
      returning p.last_sequence
    ), change as (
      insert into scheduling.changes (provider_id, sequence, at, appointment_id)
      select upd.provider_id, bumped.last_sequence, ${set.at}, upd.appointment_id from upd, bumped
      returning 1
    )
    select upd.*, (select count(*) from audit) as audited, (select count(*) from change) as changed from upd`.execute(db);
  const row = rows[0] as (AppointmentRow & { audited?: unknown; changed?: unknown }) | undefined;
  if (!row) return undefined;
  delete row.audited;
  delete row.changed;
  return row;
}

/** providerBusy lists the blocked time (visit plus buffer) of a provider's active appointments overlapping a range, but holds lapsed at `now`. */
export async function providerBusy(db: Db, providerId: string, range: Interval, now: Date): Promise<Interval[]> {
  return (await providersBusy(db, [providerId], range, now)).get(providerId) ?? [];
}

/**
 * providersBusy lists, by provider, the blocked time (visit plus buffers) of the providers' active
 * appointments overlapping a range, but holds lapsed at `now`, sorted and merged: one query for all.
 */
export async function providersBusy(db: Db, providerIds: string[], range: Interval, now: Date): Promise<Map<string, Interval[]>> {
  if (providerIds.length === 0) return new Map();
  // One index probe per provider (the exclusion constraint's gist index, index-only, on provider and
  // range): `provider_id = any(...)` would read every appointment a provider ever had.
  const { rows } = await sql<Spans>`select a.provider_id as id, ${spansOf(sql`a.blocked`)} as spans
    from unnest(${providerIds}::text[]) as p(id) join scheduling.appointments a on a.provider_id = p.id
    where a.status in ${ACTIVE} and ${liveAt("a", now)} and a.blocked && tstzrange(${new Date(range.start)}, ${new Date(range.end)}, '[)')
    group by a.provider_id`.execute(db);
  return parseSpans(rows);
}

/** resourceBusy lists the active bookings of rooms and devices overlapping a range, but those of holds lapsed at `now`. */
export async function resourceBusy(db: Db, resourceIds: string[], range: Interval, now: Date): Promise<Interval[]> {
  return [...(await resourcesBusy(db, resourceIds, range, now)).values()].flat();
}

/** resourcesBusy lists, by room or device, their active bookings overlapping a range, but those of holds lapsed at `now`, sorted and merged: one query for all. */
export async function resourcesBusy(db: Db, resourceIds: string[], range: Interval, now: Date): Promise<Map<string, Interval[]>> {
  if (resourceIds.length === 0) return new Map();
  const { rows } = await sql<Spans>`select r.resource_id as id, ${spansOf(sql`r.during`)} as spans
    from unnest(${resourceIds}::text[]) as q(id) join scheduling.appointment_resources r on r.resource_id = q.id
      join scheduling.appointments a on a.appointment_id = r.appointment_id
    where r.active and ${liveAt("a", now)} and r.during && tstzrange(${new Date(range.start)}, ${new Date(range.end)}, '[)')
    group by r.resource_id`.execute(db);
  return parseSpans(rows);
}

/** Spans is one id's ranges as "start,end,start,end,..." in epoch seconds, by start. */
export interface Spans {
  id: string;
  spans: string;
}

/**
 * spansOf aggregates a range column into one text per group: the ranges merged (range_agg), in
 * order, as "start,end,..." epoch seconds. A busy week of 20 providers is 10,000 ranges; parsing each
 * bound into a Date (and collecting the garbage) cost more than the slot search itself, and merged
 * they are a third as many. date_part is double precision, much cheaper than extract's numeric.
 */
export function spansOf(column: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`(select string_agg(date_part('epoch', lower(m)) || ',' || date_part('epoch', upper(m)), ',') from unnest(range_agg(${column})) as m)`;
}

/** parseSpans reads Spans rows into sorted intervals per id, overlapping and touching ones merged (what the slot engine asks of busy time). */
export function parseSpans(rows: Spans[]): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>();
  for (const r of rows) {
    const n = r.spans.split(",");
    const list: Interval[] = [];
    let last: Interval | undefined;
    for (let i = 0; i + 1 < n.length; i += 2) {
      const start = Math.round(Number(n[i]) * 1000);
      const end = Math.round(Number(n[i + 1]) * 1000);
      if (last && start <= last.end) last.end = Math.max(last.end, end);
      else list.push((last = { start, end }));
    }
    out.set(r.id, list);
  }
  return out;
}

/** AppointmentFilter selects appointments for ListAppointments and WatchAppointments. */
export interface AppointmentFilter {
  providerId?: string;
  patientId?: string;
  /** only appointments at one of these locations (a location-scoped caller's) */
  locationIds?: readonly string[];
  /** only appointments at this location */
  locationId?: string;
  /** only appointments that take this room or device */
  resourceId?: string;
  /** only appointments ending after it */
  start?: Date;
  /** only appointments starting before it */
  end?: Date;
  statuses?: AppointmentStatusName[];
  /** keyset: after this (start, id) */
  after?: { start: Date; id: string };
  limit: number;
}

/** listAppointments pages appointments by start time, then id. */
export async function listAppointments(db: Db, f: AppointmentFilter): Promise<AppointmentRow[]> {
  const conditions = [sql`true`];
  if (f.providerId !== undefined) conditions.push(sql`a.provider_id = ${f.providerId}`);
  if (f.patientId !== undefined) conditions.push(sql`a.patient_id = ${f.patientId}`);
  if (f.locationIds !== undefined) conditions.push(sql`a.location_id = any(${[...f.locationIds]}::text[])`);
  if (f.locationId !== undefined) conditions.push(sql`a.location_id = ${f.locationId}`);
  if (f.resourceId !== undefined) {
    // appointment_resources_by_resource; a room's booking spans the appointment's own time.
    conditions.push(sql`a.appointment_id in (select r.appointment_id from scheduling.appointment_resources r where r.resource_id = ${f.resourceId}
      ${f.start ? sql`and upper(r.during) > ${f.start}` : sql``} ${f.end ? sql`and lower(r.during) < ${f.end}` : sql``})`);
  }
  if (f.start) conditions.push(sql`upper(a.during) > ${f.start}`);
  if (f.end) conditions.push(sql`lower(a.during) < ${f.end}`);
  if (f.statuses && f.statuses.length > 0) conditions.push(sql`a.status = any(${f.statuses}::text[])`);
  if (f.after) conditions.push(sql`(lower(a.during), a.appointment_id) > (${f.after.start}::timestamptz, ${f.after.id})`);
  const { rows } = await sql<AppointmentRow>`select ${COLUMNS} from scheduling.appointments a
    where ${sql.join(conditions, sql` and `)}
    order by lower(a.during), a.appointment_id limit ${f.limit}`.execute(db);
  return rows;
}

/** expiredOffers lists waitlist offers (PROPOSED, not holds) whose hold ran out before `now`. */
export async function expiredOffers(db: Db, now: Date, limit: number): Promise<AppointmentRow[]> {
  const { rows } = await sql<AppointmentRow>`select ${COLUMNS} from scheduling.appointments a
    where a.status = 'PROPOSED' and a.hold_id is null and a.offer_expires_at <= ${now} order by a.offer_expires_at limit ${limit}`.execute(db);
  return rows;
}

/** openOffersOf lists the waitlist offers (PROPOSED, not holds) still held for a patient at `now`, all providers. */
export async function openOffersOf(db: Db, patientId: string, now: Date): Promise<AppointmentRow[]> {
  const { rows } = await sql<AppointmentRow>`select ${COLUMNS} from scheduling.appointments a
    where a.patient_id = ${patientId} and a.status = 'PROPOSED' and a.hold_id is null and a.offer_expires_at > ${now} order by a.offer_expires_at`.execute(db);
  return rows;
}

/** nextOfferExpiry is the earliest hold end of an open offer, if any. */
export async function nextOfferExpiry(db: Db): Promise<Date | undefined> {
  const { rows } = await sql<{ t: Date | null }>`select min(offer_expires_at) as t from scheduling.appointments where status = 'PROPOSED'`.execute(db);
  return rows[0]?.t ?? undefined;
}

/**
 * lockPatientBookings serializes, until the end of the caller's transaction, the self-bookings and
 * own waitlist joins of one patient (a transaction-scoped advisory lock keyed by a hash of the id:
 * nothing is stored, a hash collision only makes two patients wait for each other). Take it before
 * countUpcoming or countActiveEntries: in READ COMMITTED the count, a new statement, then sees every
 * booking or entry committed by the lock's last holder.
 */
export async function lockPatientBookings(trx: Db, patientId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('medschedule.scheduling.patient-bookings'), hashtext(${patientId}))`.execute(trx);
}

/** countUpcoming counts a patient's BOOKED and CHECKED_IN appointments that have not ended at `now` (`except`: one not to count). */
export async function countUpcoming(db: Db, patientId: string, now: Date, except?: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointments a
    where a.patient_id = ${patientId} and a.status in ${UPCOMING} and upper(a.during) > ${now}
      ${except === undefined ? sql`` : sql`and a.appointment_id <> ${except}`}`.execute(db);
  return Number(rows[0].n);
}

/**
 * patientCommitments lists the time a patient has promised away at `now`: their BOOKED and
 * CHECKED_IN appointments that have not ended, and the waitlist offers (PROPOSED) still held for
 * them, all providers (`offers: false`: the appointments alone, what AcceptOffer counts). A waitlist
 * offer goes only to a patient who could take it (offerFreedTime).
 */
export async function patientCommitments(db: Db, patientId: string, now: Date, opts: { offers: boolean } = { offers: true }): Promise<Interval[]> {
  const { rows } = await sql<{ s: Date; e: Date }>`select lower(a.during) as s, upper(a.during) as e from scheduling.appointments a
    where a.patient_id = ${patientId} and a.status in ${opts.offers ? ACTIVE : UPCOMING} and upper(a.during) > ${now}
      and (a.status <> 'PROPOSED' or a.offer_expires_at > ${now})`.execute(db);
  return rows.map((r) => ({ start: r.s.getTime(), end: r.e.getTime() }));
}

/**
 * slotHolders reads the active appointments of a provider whose blocked time (visit plus buffer)
 * overlaps `blocked`, but `except`: their status, their hold_id and, for a waitlist offer or a hold,
 * when it ends. Read after a booking found the time taken, to say whether it is booked or only held.
 */
export async function slotHolders(
  db: Db,
  providerId: string,
  blocked: Interval,
  except?: string,
): Promise<{ status: AppointmentStatusName; offer_expires_at: Date | null; hold_id: string | null }[]> {
  const { rows } = await sql<{ status: AppointmentStatusName; offer_expires_at: Date | null; hold_id: string | null }>`select a.status, a.offer_expires_at, a.hold_id from scheduling.appointments a
    where a.provider_id = ${providerId} and a.status in ${ACTIVE}
      and a.blocked && tstzrange(${new Date(blocked.start)}, ${new Date(blocked.end)}, '[)')
      ${except === undefined ? sql`` : sql`and a.appointment_id <> ${except}`}`.execute(db);
  return rows;
}
