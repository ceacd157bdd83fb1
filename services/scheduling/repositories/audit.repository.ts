import { AuditLog, type NewAuditLogRow } from "../../runtime/audit.js";
import type { ReasonVault } from "../reason-vault.js";

/** AUDIT_LOG is scheduling.audit_log: who read or changed which appointment or waitlist entry (runtime/audit.ts). */
export const AUDIT_LOG = new AuditLog("scheduling.audit_log");

/**
 * withOverride marks audit entries with the reason staff gave for overriding a booking rule (the
 * column scheduling.audit_log.override_reason, which the shared row type does not have), sealed by
 * `reasons` (it may say anything about the patient); unchanged when `reason` is empty.
 */
export function withOverride(entries: readonly NewAuditLogRow[], reason: string, reasons: ReasonVault): NewAuditLogRow[] {
  if (reason === "") return [...entries];
  return entries.map((e) => {
    const sealed = reasons.sealOverride(reason);
    return { ...e, override_reason: sealed.value, override_reason_key_id: sealed.keyId } as NewAuditLogRow;
  });
}
