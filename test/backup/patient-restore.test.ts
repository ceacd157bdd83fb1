// A Postgres backup covers the patient schema (issue 21): a restore brings the patient records back as
// at backup time, still sealed and readable with the same PATIENT_ENCRYPTION_KEYS, keeps the patient
// audit rows written since (append-only: patient.restore_carry_over), and moves the version of a
// record changed since past the live one, so that no version a client has seen names other content.
// Appointment reasons come back sealed and readable with the same SCHEDULING_ENCRYPTION_KEYS.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { sql } from "kysely";
import { BackupTarget, BackupState } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { vaultFromConfig, type PatientData } from "../../services/patient/patient-vault.js";
import { clientOf, waitForBackup } from "../helpers/backup.js";
import { schedulingClient, setUpProvider } from "../helpers/scheduling.js";
import { startTestSystem, TEST_KEYS_ENV } from "../helpers/system.js";

t.setTimeout(120_000);

const vault = vaultFromConfig({ patientEncryptionKeys: TEST_KEYS_ENV.PATIENT_ENCRYPTION_KEYS, patientIndexKey: TEST_KEYS_ENV.PATIENT_INDEX_KEY });

function data(givenName: string): PatientData {
  return { givenName, familyName: "Yedekoğlu", birthDate: "1981-03-04", phones: ["+905321112233"], email: "", medicalRecordNumber: "", nationalId: "", relatedPersons: [], notes: "" };
}

t.test("backup and restore cover the patient schema", async (t) => {
  const sys = await startTestSystem(t);
  const db = (await sys.runtime.ready).db;
  const admin = clientOf(t, sys, BackupService, await sys.token(["admin"], "adm-1"));
  const insertPatient = async (patientId: string, givenName: string, version: number) => {
    const sealed = vault.seal(patientId, data(givenName));
    await sql`insert into patient.patients (patient_id, location_id, data, key_id, gender, preferred_language, version, created_at, updated_at)
      values (${patientId}, 'default', ${sealed.data}, ${sealed.key_id}, 'UNKNOWN', 'tr', ${version}, now(), now())`.execute(db);
  };
  const audit = (actor: string) =>
    sql`insert into patient.audit_log (actor, role, action, record_type, record_id) values (${actor}, 'receptionist', 'GetPatient', 'patient', 'pat-kept')`.execute(db);
  await insertPatient("pat-kept", "Yedek", 2);
  await audit("before-backup");
  const staff = await schedulingClient(sys, "receptionist", "rec-1");
  const providerId = await setUpProvider(staff, { slotMinutes: 30 });
  const start = timestampFromDate(new Date(Math.ceil((Date.now() + 48 * 3_600_000) / 3_600_000) * 3_600_000));
  const booked = (await staff.bookAppointment({ requestId: "b-r", providerId, patientId: "pat-kept", startTime: start, reason: "yedek muayene sebebi" })).appointment!;

  const started = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: "pr-1" });
  const done = await waitForBackup(admin, started.backup!.backupId);
  t.equal(done.state, BackupState.SUCCEEDED, done.error);
  t.same(done.recordedTables.filter((s) => s.name === "patient.patients" || s.name === "patient.audit_log").map((s) => [s.name, s.rows]), [["patient.audit_log", 1n], ["patient.patients", 1n]], "the backup's checksummed tables include the patient schema");

  // After the backup: the record changes twice, another one is registered, its reads are audited.
  const changed = vault.seal("pat-kept", data("Değişmiş"));
  await sql`update patient.patients set data = ${changed.data}, version = 4 where patient_id = 'pat-kept'`.execute(db);
  await insertPatient("pat-late", "Geç", 1);
  await audit("after-backup");

  await admin.restoreBackup({ backupId: done.backupId, confirm: done.backupId });
  const { rows } = await sql<{ patient_id: string; data: string; version: string }>`select patient_id, data, version::text from patient.patients order by patient_id`.execute(db);
  t.same(rows.map((r) => r.patient_id), ["pat-kept"], "the record registered after the backup is gone, the one before is back");
  t.equal(vault.open("pat-kept", rows[0].data).givenName, "Yedek", "its data as at backup time, opened with the same keys");
  t.equal(rows[0].version, "5", "its version moved past the live one (4)");
  const { rows: audited } = await sql<{ actor: string }>`select actor from patient.audit_log order by id`.execute(db);
  t.same(audited.map((r) => r.actor), ["before-backup", "after-backup"], "the audit rows written since the backup are kept");
  const leftovers = await sql<{ nspname: string }>`select nspname from pg_namespace where nspname like '%before_restore'`.execute(db);
  t.same(leftovers.rows, []);
  const again = await staff.getAppointment({ appointmentId: booked.appointmentId });
  t.equal(again.appointment?.reason, "yedek muayene sebebi", "an appointment's sealed reason reads back after the restore");
});
