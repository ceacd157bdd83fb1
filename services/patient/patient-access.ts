// Who may read or change which patient record, decided in one place for every patient RPC:
// * a patient: their own record only (the token's subject is the patientId);
// * staff limited to locations (the token's `locations`, runtime/auth/location-scope.ts): the
//   patients of those locations, that is with a patient_locations row there (registered there, or
//   booked or ticketed there: ResolvePatient records it). Any other record only with an accessReason
//   (break-the-glass), which is sealed into the audit row; without one, PERMISSION_DENIED
//   ACCESS_REASON_REQUIRED, and the refusal is audited too;
// * staff without the claim, and administrators without it: every record;
// * display boards never reach here (the role table refuses them), the service role only
//   GetContactDetails (whose purpose is audited like an accessReason).
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { auditBase, auditEntries } from "../runtime/audit.js";
import { OWN_RECORDS_ONLY } from "../runtime/auth/auth-interceptor.js";
import { scopeOf } from "../runtime/auth/location-scope.js";
import type { Caller } from "../runtime/caller.js";
import type { Clock } from "../runtime/clock.js";
import { PermissionDeniedError } from "../runtime/errors.js";
import type { Database, Db } from "./db/database.js";
import type { PatientRow } from "./db/patient.table.js";
import { accessReasonRequiredError } from "./patient.errors.js";
import type { PatientVault } from "./patient-vault.js";
import { AUDIT_LOG, isPatientAt, withAccessReason } from "./repositories/patient.repository.js";

/** RECORD_TYPE is the audit log's record_type of a patient record. */
export const RECORD_TYPE = "patient";

/** Access is what a granted call records in its audit row: the sealed accessReason, when one was given. */
export interface Access {
  sealedReason: string | undefined;
}

/** PatientAccess decides access to patient records and writes their audit rows (see the file comment). */
export class PatientAccess {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly vault: PatientVault,
    private readonly clock: Clock,
  ) {}

  /**
   * requireOwn refuses (PERMISSION_DENIED OWN_RECORDS_ONLY, audited as `deniedAction`) a patient
   * naming another patient's record; nothing to do for staff. Checked before anything is read.
   */
  async requireOwn(caller: Caller, patientId: string, action: string, deniedAction: string, field: string): Promise<void> {
    if (caller.role !== "patient" || patientId === caller.subject) return;
    await this.denied(caller, deniedAction, patientId);
    throw new PermissionDeniedError(`a patient may ${action} only for their own record: ${field} must be your own id`, OWN_RECORDS_ONLY, {
      metadata: { role: caller.role, field },
    });
  }

  /**
   * check decides whether the caller may read or change `row` (see the file comment); a refusal is
   * audited as `deniedAction`. Returns the accessReason sealed for the audit row (when one was given).
   */
  async check(ctx: HandlerContext, caller: Caller, row: PatientRow, accessReason: string, deniedAction: string): Promise<Access> {
    const sealedReason = accessReason === "" ? undefined : this.vault.sealReason(accessReason);
    if (caller.role === "patient") {
      await this.requireOwn(caller, row.patient_id, "do this", deniedAction, "patientId");
      return { sealedReason: undefined };
    }
    const scope = scopeOf(ctx);
    if (scope.all || sealedReason !== undefined || (await isPatientAt(this.db, row.patient_id, [...scope.locations]))) return { sealedReason };
    await this.denied(caller, deniedAction, row.patient_id);
    throw accessReasonRequiredError();
  }

  /** audit appends the audit row of a granted call on a record (in the caller's transaction when given one). */
  async audit(db: Db, caller: Caller, action: string, patientId: string, access: Access, at = this.clock.now()): Promise<void> {
    await AUDIT_LOG.append(db, withAccessReason(auditEntries(caller, action, at, RECORD_TYPE, [patientId]), access.sealedReason));
  }

  /** denied audits a refused call on a record. */
  private async denied(caller: Caller, action: string, patientId: string): Promise<void> {
    await AUDIT_LOG.append(this.db, [{ ...auditBase(caller, action, this.clock.now()), record_type: RECORD_TYPE, record_id: patientId }]);
  }
}
