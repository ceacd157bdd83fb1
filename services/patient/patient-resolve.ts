// ResolvePatient (service role): whether a patient id exists and which record survived its merges,
// nothing else (no patient data). Scheduling and queue ask it before a new booking or ticket
// (runtime/clients/patient-directory.ts). With a location it also records, in patient_locations, that
// the surviving record is served there: the "holding an appointment there" that lets staff of that
// location read the record. Audit: a plain existence check reads no patient data and is not audited
// (it comes with every booking); a location added to the record changes who may read it and is
// audited (ResolvePatient, the service as actor, the end user as on_behalf_of).
import { sql, type Kysely } from "kysely";
import { auditEntries } from "../runtime/audit.js";
import type { Caller } from "../runtime/caller.js";
import { validate } from "../runtime/request/validation.js";
import type { Database, Db } from "./db/database.js";
import { PATIENT_AUDIT_LOG } from "./patient-audit.js";

/** MAX_MERGE_HOPS bounds how many merges are followed (a record merged into one merged later, and so on). */
const MAX_MERGE_HOPS = 32;

/** ValidResolvePatient is a checked ResolvePatientRequest. */
export interface ValidResolvePatient {
  patientId: string;
  /** locationId is where the patient is booked or ticketed; "" for none. */
  locationId: string;
}

/** validateResolvePatient checks a ResolvePatientRequest. */
export function validateResolvePatient(req: ValidResolvePatient): ValidResolvePatient {
  return validate((v) => {
    v.id("patientId", req.patientId);
    v.id("locationId", req.locationId, { optional: true });
    return { patientId: req.patientId, locationId: req.locationId };
  });
}

/** survivorOf is the id of the record `patientId` ends at after following merged_into (itself when not merged); undefined when there is no such record. */
export async function survivorOf(db: Db, patientId: string): Promise<string | undefined> {
  const { rows } = await sql<{ patient_id: string }>`
    with recursive chain (patient_id, merged_into, hops) as (
      select patient_id, merged_into, 0 from patient.patients where patient_id = ${patientId}
      union all
      select p.patient_id, p.merged_into, c.hops + 1 from chain c join patient.patients p on p.patient_id = c.merged_into
      where c.hops < ${MAX_MERGE_HOPS}
    )
    select patient_id from chain where merged_into is null`.execute(db);
  return rows[0]?.patient_id;
}

/** resolvePatient answers ResolvePatient (see the file comment). */
export async function resolvePatient(db: Kysely<Database>, caller: Caller, v: ValidResolvePatient, now: Date): Promise<{ exists: boolean; survivorPatientId: string }> {
  const survivor = await survivorOf(db, v.patientId);
  if (survivor === undefined) return { exists: false, survivorPatientId: "" };
  if (v.locationId !== "") {
    await db.transaction().execute(async (trx) => {
      const added = await trx
        .insertInto("patient.patient_locations")
        .values({ patient_id: survivor, location_id: v.locationId, since: now })
        .onConflict((oc) => oc.columns(["patient_id", "location_id"]).doNothing())
        .returning("patient_id")
        .executeTakeFirst();
      if (added) await PATIENT_AUDIT_LOG.append(trx, auditEntries(caller, "ResolvePatient", now, "patient", [survivor]));
    });
  }
  return { exists: true, survivorPatientId: survivor };
}
