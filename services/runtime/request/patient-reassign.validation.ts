// ReassignPatient's request, the same in scheduling and queue (PatientService's MergePatients calls both).
import { validate } from "./validation.js";

/** ValidReassignPatient is a checked ReassignPatientRequest of either service. */
export interface ValidReassignPatient {
  requestId: string;
  /** fromPatientId is the merged record. */
  fromPatientId: string;
  /** toPatientId is the surviving record. */
  toPatientId: string;
}

/** validateReassignPatient checks a ReassignPatientRequest: a requestId and two different patient ids (SAME_PATIENT). */
export function validateReassignPatient(req: ValidReassignPatient): ValidReassignPatient {
  return validate((v) => {
    v.requestId("requestId", req.requestId);
    v.id("fromPatientId", req.fromPatientId);
    v.id("toPatientId", req.toPatientId);
    if (req.fromPatientId !== "" && req.fromPatientId === req.toPatientId) v.add("toPatientId", "must differ from fromPatientId: a record is not merged into itself", "SAME_PATIENT");
    return { requestId: req.requestId, fromPatientId: req.fromPatientId, toPatientId: req.toPatientId };
  });
}
