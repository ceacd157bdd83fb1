// Holds (HoldSlot) in scheduling.appointments: a hold is a PROPOSED appointment with a hold_id and
// offer_expires_at, its end. Once lapsed it must block nobody, yet the exclusion constraints count it
// until its row changes: so every insert of an appointment first expires the lapsed holds in its way
// (expireHoldsInTheWay), the sweep expires the rest (expireLapsedHolds), and reads leave them out
// (liveAt). Expiring is conditional on status PROPOSED and offer_expires_at <= now, so it can never
// touch a confirmed (BOOKED) hold; it needs no provider lock: a lapsed hold can only become CANCELLED
// (confirming requires offer_expires_at > now), so two expiries or an expiry and a confirmation
// serialize on the row and the later one changes nothing.
import { sql, type RawBuilder } from "kysely";
import { SYSTEM_CALLER } from "../../runtime/caller.js";
import type { Db } from "../db/database.js";
import { liveAt, type NewAppointment } from "./appointment.sql.js";

/** HOLD_EXPIRED_REASON is the cancel_reason of an expired hold (written in plaintext by SQL: no patient's words; the sealer seals it like any other). */
export const HOLD_EXPIRED_REASON = "hold expired";

/** countLiveHolds counts a patient's holds not yet lapsed at `now` (all providers). */
export async function countLiveHolds(db: Db, patientId: string, now: Date): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from scheduling.appointments a
    where a.patient_id = ${patientId} and a.hold_id is not null and a.status = 'PROPOSED' and a.offer_expires_at > ${now}`.execute(db);
  return Number(rows[0].n);
}

/** ExpiredHold is a hold just expired. */
export interface ExpiredHold {
  appointment_id: string;
  provider_id: string;
}

/**
 * expireHolds expires, in one statement, the lapsed holds among `candidates` (a query of appointment
 * ids): PROPOSED -> CANCELLED ('hold expired') only while still PROPOSED and lapsed at `now`, their
 * rooms inactive, an audit row each (actor: the system) and a change event each under its provider's
 * next sequences. A hold is not a waitlist offer: no waitlist entry is touched. Returns the expired.
 */
async function expireHolds(db: Db, now: Date, candidates: RawBuilder<unknown>): Promise<ExpiredHold[]> {
  const { rows } = await sql<ExpiredHold>`
    with upd as (
      update scheduling.appointments a set status = 'CANCELLED', cancel_reason = ${HOLD_EXPIRED_REASON}, cancel_reason_key_id = null, updated_at = ${now}
      where a.appointment_id in (${candidates})
        and a.hold_id is not null and a.status = 'PROPOSED' and a.offer_expires_at <= ${now}
      returning a.appointment_id, a.provider_id
    ), rooms as (
      update scheduling.appointment_resources r set active = false from upd where r.appointment_id = upd.appointment_id
      returning 1
    ), audit as (
      insert into scheduling.audit_log (at, actor, role, action, record_type, record_id, on_behalf_of)
      select ${now}, ${SYSTEM_CALLER.subject}, ${SYSTEM_CALLER.role}, 'ExpireHold', 'appointment', upd.appointment_id, null from upd
      returning 1
    ), per_provider as (
      select provider_id, count(*) as n from upd group by provider_id
    ), bumped as (
      update scheduling.providers p set last_sequence = p.last_sequence + per_provider.n
      from per_provider where p.provider_id = per_provider.provider_id and (select count(*) from rooms) >= 0
      returning p.provider_id, p.last_sequence, per_provider.n
    ), change as (
      insert into scheduling.changes (provider_id, sequence, at, appointment_id)
      select upd.provider_id, bumped.last_sequence - bumped.n + row_number() over (partition by upd.provider_id order by upd.appointment_id), ${now}, upd.appointment_id
      from upd join bumped on bumped.provider_id = upd.provider_id
      returning 1
    )
    select upd.appointment_id, upd.provider_id, (select count(*) from audit) as audited, (select count(*) from change) as changed from upd`.execute(db);
  return rows.map((r) => ({ appointment_id: r.appointment_id, provider_id: r.provider_id }));
}

/**
 * expireHoldsInTheWay expires the lapsed holds whose time `a` would take (the provider's blocked time,
 * or a room or device of `a` at its time), lapsed at a.at: run before inserting `a`, in its
 * transaction or (committing alone is always right) just before its statement.
 */
export async function expireHoldsInTheWay(db: Db, a: NewAppointment): Promise<ExpiredHold[]> {
  const blocked = sql`tstzrange(${new Date(a.start.getTime() - (a.bufferBeforeMs ?? 0))}::timestamptz, ${new Date(a.end.getTime() + a.bufferMs)}::timestamptz, '[)')`;
  const during = sql`tstzrange(${a.start}::timestamptz, ${a.end}::timestamptz, '[)')`;
  const lapsed = sql`h.hold_id is not null and h.status = 'PROPOSED' and h.offer_expires_at <= ${a.at}`;
  return expireHolds(
    db,
    a.at,
    sql`select h.appointment_id from scheduling.appointments h where h.provider_id = ${a.providerId} and h.blocked && ${blocked} and ${lapsed}
      union all
      select h.appointment_id from scheduling.appointment_resources r join scheduling.appointments h on h.appointment_id = r.appointment_id
      where r.resource_id = any(${a.resourceIds}::text[]) and r.active and r.during && ${during} and ${lapsed}`,
  );
}

/** expireLapsedHolds expires up to `limit` holds lapsed at `now`, oldest first (the sweep). */
export async function expireLapsedHolds(db: Db, now: Date, limit: number): Promise<ExpiredHold[]> {
  return expireHolds(
    db,
    now,
    sql`select h.appointment_id from scheduling.appointments h
      where h.hold_id is not null and h.status = 'PROPOSED' and h.offer_expires_at <= ${now} order by h.offer_expires_at limit ${limit}`,
  );
}

/** busyResourceIds are those of `resourceIds` booked (holds lapsed at `now` aside) at some time in [start, end). */
export async function busyResourceIds(db: Db, resourceIds: string[], during: { start: Date; end: Date }, now: Date): Promise<Set<string>> {
  if (resourceIds.length === 0) return new Set();
  const { rows } = await sql<{ resource_id: string }>`select distinct r.resource_id from scheduling.appointment_resources r
    join scheduling.appointments a on a.appointment_id = r.appointment_id
    where r.resource_id = any(${resourceIds}::text[]) and r.active and ${liveAt("a", now)}
      and r.during && tstzrange(${during.start}::timestamptz, ${during.end}::timestamptz, '[)')`.execute(db);
  return new Set(rows.map((r) => r.resource_id));
}
