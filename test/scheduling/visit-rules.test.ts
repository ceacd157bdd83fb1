// A visit type's booking rules as a client sees them over the network (issue 20's check "Booking
// rules"): a patient booking inside the minimum notice, past the visit type's horizon, or cancelling
// past the cutoff gets FAILED_PRECONDITION with the rule named in google.rpc.ErrorInfo (reason and
// metadata.rule); a patient's overrideReason is PERMISSION_DENIED; a receptionist's override books
// and the audit log keeps its reason. A test system over gRPC with role tokens, real Postgres.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { schedulingClient, setUpProvider, systemDb, testReasonVault } from "../helpers/scheduling.js";
import { startTestSystem } from "../helpers/system.js";

t.setTimeout(120_000);
const MIN = 60_000;
const HOUR = 60 * MIN;

t.test("the rules over gRPC, as a patient and as reception", async (t) => {
  const sys = await startTestSystem(t);
  const reception = await schedulingClient(sys, "receptionist", "rec-1");
  const admin = await schedulingClient(sys, "admin", "admin-1");
  const patient = await schedulingClient(sys, "patient", "pat-w");
  const providerId = await setUpProvider(reception, { slotMinutes: 15 });
  await admin.createVisitType({
    requestId: "vt-rules-1",
    visitType: {
      visitTypeId: "vt-consult",
      displayName: "Consultation",
      duration: { seconds: 1800n },
      providerIds: [providerId],
      patientBookable: true,
      rules: { minNotice: { seconds: BigInt(24 * 3600) }, horizon: { seconds: BigInt(7 * 24 * 3600) }, patientCancelCutoff: { seconds: BigInt(48 * 3600) } },
    },
  });
  // Whole hours from now, on the 15-minute grid.
  const hoursAhead = (h: number) => timestampFromDate(new Date(Math.ceil((Date.now() + h * HOUR) / (15 * MIN)) * 15 * MIN));
  const book = (client: typeof patient, h: number, requestId: string, overrideReason = "") =>
    client.bookAppointment({ requestId, providerId, patientId: "pat-w", startTime: hoursAhead(h), visitTypeId: "vt-consult", overrideReason });

  const soon = await rpcErrorInfoOf(book(patient, 2, "b-soon"));
  t.equal(soon.code, Code.FailedPrecondition);
  t.equal(soon.reason, "MIN_NOTICE");
  t.equal(soon.metadata?.rule, "minNotice");
  t.equal(soon.metadata?.visitTypeName, "Consultation");
  const far = await rpcErrorInfoOf(book(patient, 10 * 24, "b-far"));
  t.equal(far.code, Code.FailedPrecondition);
  t.equal(far.reason, "VISIT_TYPE_HORIZON");
  t.equal(far.metadata?.rule, "horizon");
  const denied = await rpcErrorInfoOf(book(patient, 2, "b-own-override", "I am in a hurry"));
  t.equal(denied.code, Code.PermissionDenied);
  t.equal(denied.reason, "OVERRIDE_NOT_ALLOWED");

  const overridden = (await book(reception, 2, "b-override", "urgent, seen today")).appointment!;
  const db = await systemDb(sys);
  const { rows } = await sql<{ override_reason: string; override_reason_key_id: string | null }>`select override_reason, override_reason_key_id from scheduling.audit_log
    where action = 'BookAppointment' and record_id = ${overridden.appointmentId}`.execute(db);
  t.equal(rows.length, 1);
  t.notMatch(rows[0].override_reason, /urgent/, "the override's reason is sealed in the audit log");
  t.equal(testReasonVault().openOverride({ value: rows[0].override_reason, keyId: rows[0].override_reason_key_id }), "urgent, seen today", "and opens with SCHEDULING_ENCRYPTION_KEYS");

  const late = await rpcErrorInfoOf(patient.cancelAppointment({ appointmentId: overridden.appointmentId, requestId: "c-late" }));
  t.equal(late.code, Code.FailedPrecondition);
  t.equal(late.reason, "PATIENT_CANCEL_CUTOFF");
  t.equal(late.metadata?.rule, "patientCancelCutoff");
  const ok = await patient.bookAppointment({ requestId: "b-ok", providerId, patientId: "pat-w", startTime: hoursAhead(3 * 24), visitTypeId: "vt-consult" });
  t.equal(ok.appointment?.visitTypeId, "vt-consult", "inside the rules the patient books");
  t.equal((await patient.cancelAppointment({ appointmentId: ok.appointment!.appointmentId, requestId: "c-ok" })).appointment?.status, AppointmentStatus.CANCELLED, "and cancels before the cutoff");
  t.equal((await reception.cancelAppointment({ appointmentId: overridden.appointmentId, requestId: "c-staff" })).appointment?.status, AppointmentStatus.CANCELLED, "reception cancels past it");
});
