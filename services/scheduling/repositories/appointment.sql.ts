// The SQL of scheduling.appointments that every repository shares, written once: the columns as read
// (COLUMNS, and newAppointmentRow for a row known before it is written), the columns as inserted
// (insertAppointmentSql, and its rooms), the active statuses, and the exclusion constraints' names
// turned into TimeTakenError. A new column of appointments is added here (and in
// db/appointment.table.ts and a migration), nowhere else.
import { sql, type RawBuilder } from "kysely";
import { FailedPreconditionError } from "../../runtime/errors.js";
import { isExclusionViolation } from "../../runtime/db/pg-errors.js";
import { ACTIVE_STATUSES, type AppointmentRow, type AppointmentStatusName } from "../db/appointment.table.js";
import type { SealedText } from "../reason-vault.js";

/** COLUMNS select an AppointmentRow from scheduling.appointments aliased `a`. */
export const COLUMNS = sql`a.appointment_id, a.provider_id, a.patient_id, lower(a.during) as start_at, upper(a.during) as end_at,
  a.status, a.resource_ids, a.reason, a.reason_key_id, a.cancel_reason, a.cancel_reason_key_id, a.offer_expires_at, a.waitlist_entry_id, a.ticket_id,
  a.fencing_token::text as fencing_token, a.rescheduled_from_id, a.location_id, a.visit_type_id, a.series_id, a.series_index,
  a.hold_id, a.created_at, a.updated_at`;

/** ACTIVE is ACTIVE_STATUSES as an SQL list, for `status in ${ACTIVE}`. */
export const ACTIVE = statusList(ACTIVE_STATUSES);

/** statusList is a list of statuses as an SQL list of literals, for `status in ${statusList(...)}`. */
export function statusList(statuses: readonly AppointmentStatusName[]): RawBuilder<unknown> {
  return sql`(${sql.join(statuses.map((s) => sql.lit(s)))})`;
}

/**
 * liveAt is the condition that appointment `alias` still holds its time at `now`: anything but a hold
 * (HoldSlot: PROPOSED with a hold_id) that lapsed. A lapsed hold keeps its row active for the
 * exclusion constraints until it is expired (hold.repository.ts), but no read may treat it as busy.
 */
export function liveAt(alias: string, now: Date): RawBuilder<unknown> {
  const a = sql.ref(alias);
  return sql`not (${a}.hold_id is not null and ${a}.status = 'PROPOSED' and ${a}.offer_expires_at <= ${now}::timestamptz)`;
}

/** isActive tells whether a state holds time (one of ACTIVE_STATUSES). */
export function isActive(status: AppointmentStatusName): boolean {
  return ACTIVE_STATUSES.includes(status);
}

/** NewAppointment is what insertAppointment (or bookAtomically) writes. */
export interface NewAppointment {
  appointmentId: string;
  providerId: string;
  patientId: string;
  start: Date;
  end: Date;
  bufferMs: number;
  status: AppointmentStatusName;
  resourceIds: string[];
  /** reason is the visit's reason as sealed for this appointment id (ReasonVault.seal). */
  reason: SealedText;
  offerExpiresAt: Date | null;
  waitlistEntryId: string | null;
  fencingToken: bigint;
  rescheduledFromId: string | null;
  at: Date;
  /** bufferBeforeMs is kept free before the visit (a visit type's buffer_before); 0 when absent. */
  bufferBeforeMs?: number;
  /** locationId is where the visit takes place; `default` when absent. */
  locationId?: string;
  /** visitTypeId, seriesId, seriesIndex and holdId as on the row; null when absent. */
  visitTypeId?: string | null;
  seriesId?: string | null;
  seriesIndex?: number | null;
  holdId?: string | null;
}

/** FRESH_BOOKING are the columns of a new BOOKED appointment that is neither a waitlist offer nor a reschedule. */
export const FRESH_BOOKING = { status: "BOOKED", offerExpiresAt: null, waitlistEntryId: null, rescheduledFromId: null } as const satisfies Partial<NewAppointment>;

/** insertValues are the inserted columns of `a` with their values (typed: they may be selected rather than given as VALUES). */
function insertValues(a: NewAppointment): [string, RawBuilder<unknown>][] {
  const blockedStart = new Date(a.start.getTime() - (a.bufferBeforeMs ?? 0));
  const blockedEnd = new Date(a.end.getTime() + a.bufferMs);
  return [
    ["appointment_id", sql`${a.appointmentId}::text`],
    ["provider_id", sql`${a.providerId}::text`],
    ["patient_id", sql`${a.patientId}::text`],
    ["during", sql`tstzrange(${a.start}, ${a.end}, '[)')`],
    ["blocked", sql`tstzrange(${blockedStart}, ${blockedEnd}, '[)')`],
    ["status", sql`${a.status}::text`],
    ["resource_ids", sql`${a.resourceIds}::text[]`],
    ["reason", sql`${a.reason.value}::text`],
    ["reason_key_id", sql`${a.reason.keyId}::text`],
    ["offer_expires_at", sql`${a.offerExpiresAt}::timestamptz`],
    ["waitlist_entry_id", sql`${a.waitlistEntryId}::text`],
    ["fencing_token", sql`${a.fencingToken.toString()}::numeric`],
    ["rescheduled_from_id", sql`${a.rescheduledFromId}::text`],
    ["location_id", sql`${a.locationId ?? "default"}::text`],
    ["visit_type_id", sql`${a.visitTypeId ?? null}::text`],
    ["series_id", sql`${a.seriesId ?? null}::text`],
    ["series_index", sql`${a.seriesIndex ?? null}::integer`],
    ["hold_id", sql`${a.holdId ?? null}::text`],
    ["created_at", sql`${a.at}::timestamptz`],
    ["updated_at", sql`${a.at}::timestamptz`],
  ];
}

/**
 * insertAppointmentSql is the INSERT of `a` into scheduling.appointments (aliased `a`), without
 * RETURNING: its values given, or, with `from`, selected once per row of that CTE of the caller's
 * statement (none: nothing inserted).
 */
export function insertAppointmentSql(a: NewAppointment, from?: string): RawBuilder<unknown> {
  const columns = insertValues(a);
  const names = sql.join(columns.map(([name]) => sql.id(name)));
  const values = sql.join(columns.map(([, value]) => value));
  const source = from === undefined ? sql`values (${values})` : sql`select ${values} from ${sql.id(from)}`;
  return sql`insert into scheduling.appointments as a (${names}) ${source}`;
}

/**
 * insertRoomsSql is the INSERT of `a`'s room and device bookings into scheduling.appointment_resources
 * (in the order asked), without RETURNING; with `from`, only when that CTE of the caller's statement
 * has a row.
 */
export function insertRoomsSql(a: NewAppointment, from?: string): RawBuilder<unknown> {
  const source = from === undefined ? sql`` : sql`cross join ${sql.id(from)}`;
  return sql`insert into scheduling.appointment_resources (appointment_id, resource_id, during, active)
      select ${a.appointmentId}, r.resource_id, tstzrange(${a.start}, ${a.end}, '[)'), ${isActive(a.status)}
      from unnest(${a.resourceIds}::text[]) with ordinality as r(resource_id, n) ${source}
      order by r.n`;
}

/** newAppointmentRow is the row insertAppointment (or bookAtomically) stores for `a`, as read back. */
export function newAppointmentRow(a: NewAppointment): AppointmentRow {
  return {
    appointment_id: a.appointmentId,
    provider_id: a.providerId,
    patient_id: a.patientId,
    start_at: a.start,
    end_at: a.end,
    status: a.status,
    resource_ids: a.resourceIds,
    reason: a.reason.value,
    reason_key_id: a.reason.keyId,
    cancel_reason: "",
    cancel_reason_key_id: null,
    offer_expires_at: a.offerExpiresAt,
    waitlist_entry_id: a.waitlistEntryId,
    ticket_id: null,
    fencing_token: a.fencingToken.toString(),
    rescheduled_from_id: a.rescheduledFromId,
    location_id: a.locationId ?? "default",
    visit_type_id: a.visitTypeId ?? null,
    series_id: a.seriesId ?? null,
    series_index: a.seriesIndex ?? null,
    hold_id: a.holdId ?? null,
    created_at: a.at,
    updated_at: a.at,
  };
}

/** ROOMS_NO_OVERLAP is the exclusion constraint that keeps bookings of a room or device apart (the provider's is appointments_no_provider_overlap). */
const ROOMS_NO_OVERLAP = "appointment_resources_no_overlap";

/**
 * TimeTakenError is a write of an appointment refused by an exclusion constraint: `taken` says whose
 * time it was, the provider's (SLOT_TAKEN) or a requested room's or device's (RESOURCE_TAKEN). The
 * service turns it into the message that names the provider and time (slotTakenError).
 */
export class TimeTakenError extends FailedPreconditionError {
  constructor(readonly taken: "provider" | "resource", cause?: unknown) {
    super(taken === "provider" ? "SLOT_TAKEN" : "RESOURCE_TAKEN", taken === "provider" ? "the provider is booked at this time" : "a requested room or device is booked at this time", { cause });
  }
}

/** timeTaken runs a write of appointments, turning an exclusion violation into TimeTakenError (other errors pass through). */
export async function timeTaken<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (isExclusionViolation(err)) throw new TimeTakenError(isExclusionViolation(err, ROOMS_NO_OVERLAP) ? "resource" : "provider", err);
    throw err;
  }
}
