// The reads of recurring series: the occurrences of a series from a place on (CancelSeries), whether
// a patient has a series (so that another's stays NOT_FOUND), and the bookings of candidate rooms
// and devices over a series' span (BookSeries choosing them per occurrence).
import { sql } from "kysely";
import type { AppointmentRow } from "../db/appointment.table.js";
import type { Db } from "../db/database.js";
import type { Interval } from "../slots.js";
import { COLUMNS } from "./appointment.sql.js";

/** seriesOccurrencesFrom lists the appointments of a series whose series_index is `fromIndex` or later, in occurrence order (a rescheduled one after the one it replaced). */
export async function seriesOccurrencesFrom(db: Db, seriesId: string, fromIndex: number): Promise<AppointmentRow[]> {
  const { rows } = await sql<AppointmentRow>`select ${COLUMNS} from scheduling.appointments a
    where a.series_id = ${seriesId} and a.series_index >= ${fromIndex}
    order by a.series_index, a.created_at, a.appointment_id`.execute(db);
  return rows;
}

/** patientHasSeries tells whether a series has an appointment of `patientId`. */
export async function patientHasSeries(db: Db, seriesId: string, patientId: string): Promise<boolean> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from scheduling.appointments a
    where a.series_id = ${seriesId} and a.patient_id = ${patientId}`.execute(db);
  return Number(rows[0].n) > 0;
}

/** ResourceBooking is an active booking of a room or device. */
export interface ResourceBooking extends Interval {
  /** resourceId is the room or device. */
  resourceId: string;
}

/** resourceBookings lists the active bookings of the rooms and devices `resourceIds` overlapping `range`. */
export async function resourceBookings(db: Db, resourceIds: string[], range: Interval): Promise<ResourceBooking[]> {
  if (resourceIds.length === 0) return [];
  const { rows } = await sql<{ resource_id: string; s: Date; e: Date }>`select r.resource_id, lower(r.during) as s, upper(r.during) as e
    from scheduling.appointment_resources r
    where r.resource_id = any(${resourceIds}::text[]) and r.active
      and r.during && tstzrange(${new Date(range.start)}::timestamptz, ${new Date(range.end)}::timestamptz, '[)')`.execute(db);
  return rows.map((r) => ({ resourceId: r.resource_id, start: r.s.getTime(), end: r.e.getTime() }));
}
