import { AuditLog } from "../../runtime/audit.js";

/** AUDIT_LOG is queue.audit_log: who read or changed which patient's ticket (runtime/audit.ts). */
export const AUDIT_LOG = new AuditLog("queue.audit_log");
