import { OperatorAuditLog } from "../../runtime/audit.js";

/** AUDIT_LOG is lock.audit_log: the operators' ForceRelease and AdvanceEpoch (runtime/audit.ts). */
export const AUDIT_LOG = new OperatorAuditLog("lock.audit_log");
