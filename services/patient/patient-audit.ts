// patient.audit_log: who read or changed which patient record (runtime/audit.ts), with the sealed
// break-the-glass access reason of a call outside the caller's locations.
import { AuditLog, type NewAuditLogRow } from "../runtime/audit.js";
import type { PatientVault } from "./patient-vault.js";

/** PATIENT_AUDIT_LOG is patient.audit_log (append-only). */
export const PATIENT_AUDIT_LOG = new AuditLog("patient.audit_log");

/** withAccessReason marks audit entries with a sealed access reason (the column access_reason, which the shared row type does not have); unchanged when `reason` is empty. */
export function withAccessReason(entries: readonly NewAuditLogRow[], vault: PatientVault, reason: string): NewAuditLogRow[] {
  if (reason === "") return [...entries];
  const sealed = vault.sealReason(reason);
  return entries.map((e) => ({ ...e, access_reason: sealed }) as NewAuditLogRow);
}
