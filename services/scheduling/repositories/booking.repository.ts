// The booking path in as few round trips as the invariants allow: what a booking must know before
// it queues for the provider's lock in one read, and the fenced write (fence, requestId, appointment,
// rooms, audit, change) in one atomic statement of data-modifying CTEs, without BEGIN/COMMIT.
import { sql } from "kysely";
import type { AuditBase } from "../../runtime/audit.js";
import type { RequestKey } from "../../runtime/idempotency.js";
import type { AvailabilityRow } from "../db/availability.table.js";
import type { Db } from "../db/database.js";
import type { ProviderRow } from "../db/provider.table.js";
import type { SealedText } from "../reason-vault.js";
import { fenceUpsertSql } from "../../runtime/clients/with-lock.js";
import { scheduleLocationsSql, type ScheduleLocations } from "./location.repository.js";
import { ACTIVE, insertAppointmentSql, insertRoomsSql, liveAt, timeTaken, type NewAppointment } from "./appointment.sql.js";
import { expireHoldsInTheWay } from "./hold.repository.js";

/** BookingContext is what a booking reads before taking the lock: all of it from one snapshot. */
export interface BookingContext {
  /** requestKey is the committed first use of the requestId, if any. */
  requestKey: { request_hash: string; response: Buffer | null } | undefined;
  /** provider is the provider, if it exists. */
  provider: ProviderRow | undefined;
  /** availability is the provider's weekly pattern, if set. */
  availability: AvailabilityRow | undefined;
  /** locations are the locations of its weekly hours, with their zones and closures. */
  locations: ScheduleLocations;
  /** foundResourceIds are the requested rooms and devices that exist. */
  foundResourceIds: string[];
  /** providerBusy: a committed active appointment blocks [start, start + duration + buffer). */
  providerBusy: boolean;
  /** resourceBusy: a requested room or device is booked in [start, start + duration). */
  resourceBusy: boolean;
}

interface ContextRow {
  rk_hash: string | null;
  rk_response: Buffer | null;
  provider_id: string | null;
  display_name: string;
  time_zone: string;
  specialty: string;
  created_at: Date;
  last_sequence: string;
  location_id: string;
  has_availability: boolean;
  weekly_hours: unknown;
  breaks: unknown;
  exceptions: unknown;
  slot_minutes: number;
  buffer_minutes: number;
  availability_updated_at: Date;
  locations: ScheduleLocations;
  found_resources: string[];
  provider_busy: boolean;
  resource_busy: boolean;
}

/**
 * readBookingContext reads, in one statement (one snapshot), the requestId's first use, the provider,
 * its availability with the locations (zones, closures) of its weekly hours, which requested rooms
 * exist and whether committed appointments already hold the time: the duration is `durationMs` or, when unset, one slot. The busy flags are hints that let a
 * booking fail before queueing for the lock; the exclusion constraints decide. Because the requestId
 * and the busy flags come from the same snapshot, time held by this very request (committed by a
 * concurrent retry) always shows up as a requestKey too. Holds lapsed at `now` are not busy.
 */
export async function readBookingContext(
  db: Db,
  q: { key: RequestKey; providerId: string; resourceIds: string[]; start: Date; durationMs: number | undefined; now: Date },
): Promise<BookingContext> {
  const duration = q.durationMs === undefined ? sql`av.slot_minutes * 60000` : sql`${q.durationMs}::float8`;
  const { rows } = await sql<ContextRow>`
    select rk.request_hash as rk_hash, rk.response as rk_response,
      p.provider_id, p.display_name, p.time_zone, p.specialty, p.created_at, p.last_sequence, p.location_id,
      av.provider_id is not null as has_availability, av.weekly_hours, av.breaks, av.exceptions, av.slot_minutes, av.buffer_minutes,
      av.updated_at as availability_updated_at, ${scheduleLocationsSql(sql`p.location_id`, sql`av.weekly_hours`)} as locations,
      array(select r.resource_id from scheduling.resources r where r.resource_id = any(${q.resourceIds}::text[])) as found_resources,
      coalesce(exists (select 1 from scheduling.appointments x where x.provider_id = ${q.providerId} and x.status in ${ACTIVE} and ${liveAt("x", q.now)}
        and x.blocked && tstzrange(${q.start}::timestamptz, ${q.start}::timestamptz + (${duration} + av.buffer_minutes * 60000) * interval '1 millisecond', '[)')), false) as provider_busy,
      coalesce(exists (select 1 from scheduling.appointment_resources x join scheduling.appointments h on h.appointment_id = x.appointment_id
        where x.resource_id = any(${q.resourceIds}::text[]) and x.active and ${liveAt("h", q.now)}
        and x.during && tstzrange(${q.start}::timestamptz, ${q.start}::timestamptz + ${duration} * interval '1 millisecond', '[)')), false) as resource_busy
    from (select 1) as one
      left join scheduling.request_keys rk on rk.caller = ${q.key.caller} and rk.rpc = ${q.key.rpc} and rk.request_id = ${q.key.requestId}
      left join scheduling.providers p on p.provider_id = ${q.providerId}
      left join scheduling.availability av on av.provider_id = ${q.providerId}`.execute(db);
  const r = rows[0];
  const provider: ProviderRow | undefined =
    r.provider_id === null
      ? undefined
      : { provider_id: r.provider_id, display_name: r.display_name, time_zone: r.time_zone, specialty: r.specialty, created_at: r.created_at, last_sequence: r.last_sequence, location_id: r.location_id };
  const availability: AvailabilityRow | undefined =
    provider && r.has_availability
      ? {
          provider_id: provider.provider_id,
          weekly_hours: r.weekly_hours,
          breaks: r.breaks,
          exceptions: r.exceptions,
          slot_minutes: r.slot_minutes,
          buffer_minutes: r.buffer_minutes,
          updated_at: r.availability_updated_at,
        }
      : undefined;
  return {
    requestKey: r.rk_hash === null ? undefined : { request_hash: r.rk_hash, response: r.rk_response },
    provider,
    availability,
    locations: r.locations,
    foundResourceIds: r.found_resources,
    providerBusy: r.provider_busy,
    resourceBusy: r.resource_busy,
  };
}

/** AtomicBooking is what bookAtomically writes. */
export interface AtomicBooking {
  /** appointment is the row to insert (status BOOKED or PROPOSED, with its rooms). */
  appointment: NewAppointment;
  /** key and hash claim the requestId; response is the first response, stored with the claim. */
  key: RequestKey;
  hash: string;
  response: Uint8Array;
  /** fence is the lock's resource and fencing token (absent without the lock: the constraints alone decide). */
  fence: Fence | undefined;
  /** audit is the appointment's audit entry (record_id: the appointment's). */
  audit: AuditBase;
  /** lockTimeoutMs bounds every row wait of the statement (lock_timeout, local to it). */
  lockTimeoutMs: number;
  /** overrideReason is staff's reason for overriding a visit type's rule, sealed (ReasonVault.sealOverride), kept on the audit entry (absent: none). */
  overrideReason?: SealedText;
}

/** AtomicBookingResult says how far bookAtomically got; nothing was written unless `booked`. */
export type AtomicBookingResult = { outcome: "booked"; sequence: bigint } | { outcome: "fenced" } | { outcome: "claimed" };

/** Fence is the lock's resource and fencing token a write is made under. */
type Fence = { schema: string; resource: string; token: bigint };

/**
 * claimCtes are the first CTEs of every fenced write: `cfg` sets lock_timeout for the rest of the
 * transaction; `fence` is checkFence's conditional upsert (one row without the lock); `claim`
 * claims the requestId, fed by the fence's row so that a fenced-out call claims nothing. `response`
 * is stored with the key (null: written later in the same transaction).
 */
function claimCtes(c: { lockTimeoutMs: number; fence: Fence | undefined; key: RequestKey; hash: string; response: Buffer | null; at: Date }) {
  const fence = c.fence ? fenceUpsertSql(c.fence.schema, c.fence.resource, c.fence.token, "cfg") : sql`select 1 as ok from cfg`;
  return sql`cfg as (
      select set_config('lock_timeout', ${`${c.lockTimeoutMs}ms`}, true) as lock_timeout
    ), fence as (
      ${fence}
    ), claim as (
      insert into scheduling.request_keys (caller, rpc, request_id, request_hash, response, created_at)
      select ${c.key.caller}, ${c.key.rpc}, ${c.key.requestId}, ${c.hash}, ${c.response}::bytea, ${c.at} from fence
      on conflict (caller, rpc, request_id) do nothing
      returning 1 as ok
    )`;
}

/**
 * bookAtomically books in ONE statement, so it is atomic without BEGIN/COMMIT (after one statement of
 * its own that expires the lapsed holds in the appointment's way: committed alone, that is always
 * right, and they then block nobody): lock_timeout for the
 * statement, then, each step fed by the row of the one before so that a step that writes nothing
 * stops the rest: checkFence's conditional upsert (outcome "fenced" when a newer token was recorded:
 * nothing written), the requestId claim with its response (outcome "claimed" when the key was
 * committed by another call: only the fence token, ours, was recorded), the appointment and its rooms
 * (an exclusion violation fails the whole statement: TimeTakenError), the audit row, and the change
 * event under the provider's next sequence (the provider row is locked last, as appendChange does).
 */
export async function bookAtomically(db: Db, b: AtomicBooking): Promise<AtomicBookingResult> {
  const a = b.appointment;
  await expireHoldsInTheWay(db, a);
  const { rows } = await timeTaken(sql<{ fenced: string; claimed: string; sequence: string | null }>`
    with ${claimCtes({ lockTimeoutMs: b.lockTimeoutMs, fence: b.fence, key: b.key, hash: b.hash, response: Buffer.from(b.response), at: a.at })}, appt as (
      ${insertAppointmentSql(a, "claim")}
      returning appointment_id
    ), rooms as (
      ${insertRoomsSql(a, "appt")}
      returning 1
    ), audit as (
      insert into scheduling.audit_log (at, actor, role, action, record_type, record_id, on_behalf_of, override_reason, override_reason_key_id)
      select ${b.audit.at}, ${b.audit.actor}, ${b.audit.role}, ${b.audit.action}, 'appointment', appt.appointment_id, ${b.audit.on_behalf_of ?? null}::text,
        ${b.overrideReason?.value ?? null}::text, ${b.overrideReason?.keyId ?? null}::text
      from appt
      returning 1
    ), bumped as (
      update scheduling.providers p set last_sequence = p.last_sequence + 1
      where p.provider_id = ${a.providerId} and (select count(*) from rooms) >= 0 and exists (select 1 from appt)
      returning p.last_sequence
    ), change as (
      insert into scheduling.changes (provider_id, sequence, at, appointment_id)
      select ${a.providerId}, bumped.last_sequence, ${a.at}, ${a.appointmentId} from bumped
      returning sequence
    )
    select (select count(*) from fence) as fenced, (select count(*) from claim) as claimed,
      (select sequence::text from change) as sequence, (select count(*) from audit) as audited`.execute(db));
  const r = rows[0];
  if (Number(r.fenced) === 0) return { outcome: "fenced" };
  if (Number(r.claimed) === 0) return { outcome: "claimed" };
  if (r.sequence === null) throw new Error(`bookAtomically: provider ${a.providerId} does not exist`);
  return { outcome: "booked", sequence: BigInt(r.sequence) };
}

/**
 * claimAndFence starts a write transaction in one statement: lock_timeout for the rest of the
 * transaction, checkFence's conditional upsert (when under the lock), then the requestId claim, fed
 * by the fence's row so that a fenced-out call claims nothing. The caller rolls back unless both
 * `fenced` and `claimed`; when not `claimed`, the key is another call's (read it in a new statement).
 */
export async function claimAndFence(
  trx: Db,
  c: { key: RequestKey; hash: string; at: Date; fence: Fence | undefined; lockTimeoutMs: number },
): Promise<{ fenced: boolean; claimed: boolean }> {
  const { rows } = await sql<{ fenced: string; claimed: string }>`
    with ${claimCtes({ ...c, response: null })}
    select (select count(*) from fence) as fenced, (select count(*) from claim) as claimed`.execute(trx);
  return { fenced: Number(rows[0].fenced) > 0, claimed: Number(rows[0].claimed) > 0 };
}
