import { AuditLog, type NewAuditLogRow } from "../../runtime/audit.js";

/** AUDIT_LOG is scheduling.audit_log: who read or changed which appointment or waitlist entry (runtime/audit.ts). */
export const AUDIT_LOG = new AuditLog("scheduling.audit_log");

/**
 * withOverride marks audit entries with the reason staff gave for overriding a booking rule (the
 * column scheduling.audit_log.override_reason, which the shared row type does not have); unchanged
 * when `reason` is empty.
 */
export function withOverride(entries: readonly NewAuditLogRow[], reason: string): NewAuditLogRow[] {
  return reason === "" ? [...entries] : entries.map((e) => ({ ...e, override_reason: reason }) as NewAuditLogRow);
}
