// scheduling.waitlist: patients waiting for a provider's freed time, in join order.
import type { Db } from "../db/database.js";
import type { WaitlistRow } from "../db/waitlist.table.js";

/**
 * insertWaitlistEntry adds a waiting patient; undefined, and nothing written, when the patient already
 * has an active (WAITING or OFFERED) entry for the provider whose window overlaps this one (the
 * table's exclusion constraint decides, also between concurrent joins: DO NOTHING waits for them).
 */
export async function insertWaitlistEntry(
  db: Db,
  e: Omit<WaitlistRow, "seq" | "status" | "offered_appointment_id" | "updated_at">,
): Promise<WaitlistRow | undefined> {
  return db
    .insertInto("scheduling.waitlist")
    .values({ ...e, status: "WAITING", offered_appointment_id: null, updated_at: e.created_at })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** findOverlappingEntry reads the patient's active entry for a provider whose window overlaps [start, end), if any (the earliest joined). */
export async function findOverlappingEntry(db: Db, q: { providerId: string; patientId: string; start: Date; end: Date }): Promise<WaitlistRow | undefined> {
  return db
    .selectFrom("scheduling.waitlist")
    .selectAll()
    .where("provider_id", "=", q.providerId)
    .where("patient_id", "=", q.patientId)
    .where("status", "in", ["WAITING", "OFFERED"])
    .where("window_start", "<", q.end)
    .where("window_end", ">", q.start)
    .orderBy("seq")
    .limit(1)
    .executeTakeFirst();
}

/**
 * waitingEntries lists a provider's WAITING entries whose window overlaps `within` (the time that can
 * be offered), in join order, locked (SKIP LOCKED) for an offer. Entries whose window has passed are
 * never read, so they cannot crowd out the ones still waiting.
 */
export async function waitingEntries(db: Db, providerId: string, within: { start: Date; end: Date }, limit: number): Promise<WaitlistRow[]> {
  return db
    .selectFrom("scheduling.waitlist")
    .selectAll()
    .where("provider_id", "=", providerId)
    .where("status", "=", "WAITING")
    .where("window_start", "<", within.end)
    .where("window_end", ">", within.start)
    .orderBy("seq")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** setWaitlistStatus moves an entry to a new status. */
export async function setWaitlistStatus(db: Db, entryId: string, status: WaitlistRow["status"], offeredAppointmentId: string | null, at: Date): Promise<void> {
  await db
    .updateTable("scheduling.waitlist")
    .set({ status, offered_appointment_id: offeredAppointmentId, updated_at: at })
    .where("entry_id", "=", entryId)
    .execute();
}

/** findWaitlistEntry reads an entry. */
export async function findWaitlistEntry(db: Db, entryId: string): Promise<WaitlistRow | undefined> {
  return db.selectFrom("scheduling.waitlist").selectAll().where("entry_id", "=", entryId).executeTakeFirst();
}

/**
 * countActiveEntries counts a patient's active waitlist entries, all providers: WAITING or OFFERED
 * with a window that has not ended at `now` (one that has can never be offered anything).
 */
export async function countActiveEntries(db: Db, patientId: string, now: Date): Promise<number> {
  const row = await db
    .selectFrom("scheduling.waitlist")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("patient_id", "=", patientId)
    .where("status", "in", ["WAITING", "OFFERED"])
    .where("window_end", ">", now)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** countWaiting counts the waitlist entries still WAITING (all providers). */
export async function countWaiting(db: Db): Promise<number> {
  const row = await db
    .selectFrom("scheduling.waitlist")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("status", "=", "WAITING")
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** hasWaitingEntries tells whether a provider has any WAITING waitlist entry. */
export async function hasWaitingEntries(db: Db, providerId: string): Promise<boolean> {
  const row = await db
    .selectFrom("scheduling.waitlist")
    .select("entry_id")
    .where("provider_id", "=", providerId)
    .where("status", "=", "WAITING")
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
