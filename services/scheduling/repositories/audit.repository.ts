import { AuditLog } from "../../runtime/audit.js";

/** AUDIT_LOG is scheduling.audit_log: who read or changed which appointment or waitlist entry (runtime/audit.ts). */
export const AUDIT_LOG = new AuditLog("scheduling.audit_log");
