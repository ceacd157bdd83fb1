import { OperatorAuditLog } from "../../runtime/audit.js";

/** AUDIT_LOG is backup.audit_log: restores, refused restores and prunes (runtime/audit.ts). */
export const AUDIT_LOG = new OperatorAuditLog("backup.audit_log");
