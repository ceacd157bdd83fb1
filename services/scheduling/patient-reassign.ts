// ReassignPatient: after PatientService's MergePatients, every appointment (holds and waitlist offers
// are appointments too) and every waitlist entry of the merged record moves to the survivor, in one
// transaction, so that the survivor's calendar is complete and the merged id has nothing left here.
//
// How: both patients' booking lock (lockPatientBookings, in id order) serializes the move with their
// own bookings and waitlist joins; each moved appointment gets a change event under its provider's
// next sequence and goes through WriteTransactions' after-commit step, as every other write, so
// WatchAppointments of its provider and location see it. Every moved row is audited
// (ReassignPatient). A waitlist entry of the merged record that overlaps an active entry of the
// survivor for the same provider cannot move as it is (one active entry per patient, provider and
// window): the one that is only WAITING is expired instead (an OFFERED one is kept), audited too.
//
// Idempotent by effect: a repeat finds nothing with the merged id and moves nothing (reassigned 0);
// a booking made with the merged id just before the merge is moved by the patient service's later
// pass (merge-reassigner.ts). No requestId replay is stored, for that reason.
import { sql } from "kysely";
import { auditBase, type NewAuditLogRow } from "../runtime/audit.js";
import type { Caller } from "../runtime/caller.js";
import type { ValidReassignPatient } from "../runtime/request/patient-reassign.validation.js";
import type { AppointmentStatusName } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import { lockPatientBookings } from "./repositories/appointment.repository.js";
import { AUDIT_LOG } from "./repositories/audit.repository.js";
import { appendChange } from "./repositories/change.repository.js";
import type { SchedulingContext } from "./scheduling-context.js";

/** ACTION is the audit action of every row this moves. */
const ACTION = "ReassignPatient";

/** reassignPatient moves the merged record's appointments and waitlist entries to the survivor (see the file comment); answers how many rows moved. */
export async function reassignPatient(c: SchedulingContext, caller: Caller, v: ValidReassignPatient): Promise<{ reassigned: number }> {
  const now = c.clock.now();
  return c.writes.transaction(async (trx, after) => {
    for (const id of [v.fromPatientId, v.toPatientId].sort()) await lockPatientBookings(trx, id);
    const expired = await expireOverlappingEntries(trx, v, now);
    const entries = await sql<{ entry_id: string }>`
      update scheduling.waitlist set patient_id = ${v.toPatientId}, updated_at = ${now}
      where patient_id = ${v.fromPatientId} returning entry_id`.execute(trx);
    const { rows: moved } = await sql<{ appointment_id: string; provider_id: string; status: AppointmentStatusName }>`
      update scheduling.appointments set patient_id = ${v.toPatientId}, updated_at = ${now}
      where patient_id = ${v.fromPatientId} returning appointment_id, provider_id, status`.execute(trx);
    const base = auditBase(caller, ACTION, now);
    const audit: NewAuditLogRow[] = [
      ...[...expired, ...entries.rows.map((r) => r.entry_id)].map((id) => ({ ...base, record_type: "waitlist", record_id: id })),
      ...moved.map((r) => ({ ...base, record_type: "appointment", record_id: r.appointment_id })),
    ];
    await AUDIT_LOG.append(trx, audit);
    // Change events last, providers in id order: appendChange row-locks the provider.
    moved.sort((a, b) => (a.provider_id < b.provider_id ? -1 : a.provider_id > b.provider_id ? 1 : a.appointment_id < b.appointment_id ? -1 : 1));
    for (const r of moved) {
      await appendChange(trx, { providerId: r.provider_id, appointmentId: r.appointment_id, at: now });
      after.changed(r.provider_id, r.status);
    }
    return { reassigned: moved.length + entries.rows.length };
  });
}

/**
 * expireOverlappingEntries expires, of two overlapping active waitlist entries of the two records for
 * the same provider, the one only WAITING (the survivor's when the merged one holds an offer, else the
 * merged one's); returns the ids expired.
 */
async function expireOverlappingEntries(trx: Db, v: ValidReassignPatient, now: Date): Promise<string[]> {
  const overlaps = (keep: string, drop: string, dropStatuses: string) => sql`
    update scheduling.waitlist d set status = 'EXPIRED', updated_at = ${now}
    where d.patient_id = ${drop} and d.status in (${sql.raw(dropStatuses)})
      and exists (select 1 from scheduling.waitlist k
        where k.patient_id = ${keep} and k.provider_id = d.provider_id and k.status in ${keep === v.toPatientId ? sql`('WAITING', 'OFFERED')` : sql`('OFFERED')`}
          and tstzrange(k.window_start, k.window_end, '[)') && tstzrange(d.window_start, d.window_end, '[)'))
    returning d.entry_id`;
  const survivors = await overlaps(v.fromPatientId, v.toPatientId, "'WAITING'").execute(trx);
  const merged = await overlaps(v.toPatientId, v.fromPatientId, "'WAITING', 'OFFERED'").execute(trx);
  return [...survivors.rows, ...merged.rows].map((r) => (r as { entry_id: string }).entry_id);
}
