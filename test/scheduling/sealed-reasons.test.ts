// An appointment's free text is patient data (DESIGN.md invariant 10, issue 21): the reason and the
// cancellation reason are sealed in scheduling.appointments, and so are the stored first responses of
// requestId replay that carry them; reads and replays open them. Rows left in plaintext by an older
// version are sealed when the service starts (without a change anybody watching sees), a key rotation
// re-encrypts them, a server without the right SCHEDULING_ENCRYPTION_KEYS answers REASON_UNREADABLE
// (naming the setting, never the text), and without the setting the service does not start.
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { GetAppointmentRequestSchema, SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { ConfigError, loadConfig } from "../../services/runtime/config.js";
import { newKeySpec } from "../../services/runtime/crypto/field-cipher.js";
import { ReasonSealer } from "../../services/scheduling/reason-sealer.js";
import { reasonVaultFromConfig } from "../../services/scheduling/reason-vault.js";
import { schedulingModule } from "../../services/scheduling/scheduling.module.js";
import { domainFailure, rpcErrorInfoOf } from "../helpers/call-outcome.js";
import { callerContext } from "../helpers/handler-context.js";
import { directSchedulingService, schedulingClient, setUpProvider, systemDb, testReasonVault } from "../helpers/scheduling.js";
import { startTestSystem, TEST_KEYS_ENV } from "../helpers/system.js";

t.setTimeout(120_000);

const REASON = "Zekiye'nin göğüs ağrısı, nefes darlığı";
const CANCEL = "Hastaneye yatırıldı (kardiyoloji)";
const HOUR = 3_600_000;

/** hasText tells whether `needle` appears in a bytea or text value as UTF-8. */
function hasText(value: Buffer | string | null, needle: string): boolean {
  if (value === null) return false;
  return (typeof value === "string" ? value : value.toString("utf8")).includes(needle) || Buffer.from(value).includes(Buffer.from(needle, "utf8"));
}

async function rowsOf(db: Kysely<any>, appointmentId: string) {
  const { rows } = await sql<{ reason: string; reason_key_id: string | null; cancel_reason: string; cancel_reason_key_id: string | null }>`
    select reason, reason_key_id, cancel_reason, cancel_reason_key_id from scheduling.appointments where appointment_id = ${appointmentId}`.execute(db);
  return rows[0];
}

async function responses(db: Kysely<any>): Promise<Buffer[]> {
  const { rows } = await sql<{ response: Buffer | null }>`select response from scheduling.request_keys where response is not null`.execute(db);
  return rows.map((r) => r.response!);
}

t.test("reasons are sealed at rest, opened on reads and replays, sealed again after a plaintext past and a rotation", async (t) => {
  const sys = await startTestSystem(t);
  const db = await systemDb(sys);
  const staff = await schedulingClient(sys, "receptionist", "rec-1");
  const providerId = await setUpProvider(staff, { slotMinutes: 30 });
  const start = timestampFromDate(new Date(Math.ceil((Date.now() + 48 * HOUR) / HOUR) * HOUR));
  const booking = { requestId: "b-sealed", providerId, patientId: "pat-sealed", startTime: start, reason: REASON };
  const booked = (await staff.bookAppointment(booking)).appointment!;
  t.equal(booked.reason, REASON, "BookAppointment answers the reason as given");
  t.equal((await staff.getAppointment({ appointmentId: booked.appointmentId })).appointment?.reason, REASON, "GetAppointment opens it");
  t.equal((await staff.bookAppointment(booking)).appointment?.reason, REASON, "a replay of the requestId opens its stored response");
  const cancelled = (await staff.cancelAppointment({ requestId: "c-sealed", appointmentId: booked.appointmentId, reason: CANCEL })).appointment!;
  t.equal(cancelled.cancelReason, CANCEL);
  const listed = await staff.listAppointments({ providerId, startTime: timestampFromDate(new Date(Date.now())), endTime: timestampFromDate(new Date(Date.now() + 7 * 24 * HOUR)) });
  t.same(listed.appointments.map((a) => [a.reason, a.cancelReason]), [[REASON, CANCEL]], "ListAppointments opens both");

  const stored = await rowsOf(db, booked.appointmentId);
  t.equal(stored.reason_key_id, "s1");
  t.equal(stored.cancel_reason_key_id, "s1");
  t.notOk(hasText(stored.reason, "göğüs") || hasText(stored.cancel_reason, "kardiyoloji"), "neither reason is in the row in plaintext");
  const stale = await responses(db);
  t.ok(stale.length >= 2);
  t.notOk(stale.some((r) => hasText(r, "göğüs") || hasText(r, "kardiyoloji")), "nor in the stored replay responses");

  // A copy of a sealed reason into another appointment's row does not open there.
  const other = (await staff.bookAppointment({ ...booking, requestId: "b-other", reason: "" })).appointment!;
  await sql`update scheduling.appointments set reason = ${stored.reason}, reason_key_id = 's1' where appointment_id = ${other.appointmentId}`.execute(db);
  const moved = await rpcErrorInfoOf(staff.getAppointment({ appointmentId: other.appointmentId }));
  t.match(moved, { code: Code.Unavailable, reason: "REASON_UNREADABLE" }, "a reason moved to another row is refused, not shown");
  await sql`update scheduling.appointments set reason = '', reason_key_id = null where appointment_id = ${other.appointmentId}`.execute(db);

  // As an older version left them: plaintext rows and responses.
  await sql`update scheduling.appointments set reason = ${REASON}, reason_key_id = null, cancel_reason = ${CANCEL}, cancel_reason_key_id = null
    where appointment_id = ${booked.appointmentId}`.execute(db);
  const vault = testReasonVault();
  for (const key of await sql<{ caller: string; rpc: string; request_id: string; response: Buffer }>`select caller, rpc, request_id, response from scheduling.request_keys where response is not null`.execute(db).then((r) => r.rows)) {
    const plain = Buffer.from(vault.openResponse({ caller: key.caller, rpc: key.rpc, requestId: key.request_id }, key.response));
    await sql`update scheduling.request_keys set response = ${plain} where caller = ${key.caller} and rpc = ${key.rpc} and request_id = ${key.request_id}`.execute(db);
  }
  t.ok((await responses(db)).some((r) => hasText(r, "göğüs")), "the simulated old version's response holds the reason");
  t.equal((await staff.getAppointment({ appointmentId: booked.appointmentId })).appointment?.reason, REASON, "plaintext is still read before it is sealed");

  const changesBefore = await sql<{ n: string }>`select count(*)::text as n from scheduling.location_changes`.execute(db);
  const first = await new ReasonSealer(db, vault, undefined, 1).finished();
  t.ok(first && first.sealed >= 3 && first.unreadable === 0, `the sealer sealed the plaintext (${JSON.stringify(first)})`);
  const sealed = await rowsOf(db, booked.appointmentId);
  t.equal(sealed.reason_key_id, "s1");
  t.notOk(hasText(sealed.reason, "göğüs") || hasText(sealed.cancel_reason, "kardiyoloji"), "the row is sealed");
  t.notOk((await responses(db)).some((r) => hasText(r, "göğüs") || hasText(r, "kardiyoloji")), "and so are the stored responses");
  const changesAfter = await sql<{ n: string }>`select count(*)::text as n from scheduling.location_changes`.execute(db);
  t.equal(changesAfter.rows[0].n, changesBefore.rows[0].n, "sealing is no change a location's watchers see");
  t.same(await new ReasonSealer(db, vault, undefined).finished(), { sealed: 0, unreadable: 0 }, "a second run has nothing left to do");
  t.equal((await staff.bookAppointment(booking)).appointment?.reason, REASON, "the replay still answers the reason");

  // Rotation: a new key first, the old one kept.
  const rotated = reasonVaultFromConfig({ schedulingEncryptionKeys: `s2:${Buffer.alloc(32, 9).toString("base64")},${TEST_KEYS_ENV.SCHEDULING_ENCRYPTION_KEYS}` });
  const moved2 = await new ReasonSealer(db, rotated, undefined, 2).finished();
  t.ok(moved2 && moved2.sealed >= 3, "the rotation re-encrypts every sealed value");
  const { rows: keyIds } = await sql<{ k: string }>`select distinct coalesce(reason_key_id, '-') || '/' || coalesce(cancel_reason_key_id, '-') as k from scheduling.appointments where reason <> ''`.execute(db);
  t.same(keyIds.map((r) => r.k), ["s2/s2"], "every non-empty reason is under the new key");
  const svc = directSchedulingService(t, { db, reasons: rotated });
  const read = await svc.getAppointment(create(GetAppointmentRequestSchema, { appointmentId: booked.appointmentId }), callerContext(SchedulingService.method.getAppointment));
  t.equal(read.appointment?.reason, REASON, "reads work under the rotated ring");

  // A server whose ring lacks the key: REASON_UNREADABLE, naming the setting and nothing of the text.
  const wrong = directSchedulingService(t, { db, reasons: reasonVaultFromConfig({ schedulingEncryptionKeys: newKeySpec("s9") }) });
  const err = await domainFailure(wrong.getAppointment(create(GetAppointmentRequestSchema, { appointmentId: booked.appointmentId }), callerContext(SchedulingService.method.getAppointment)));
  t.equal(err.reason, "REASON_UNREADABLE");
  t.match(err.message, /SCHEDULING_ENCRYPTION_KEYS/);
  t.notMatch(err.message, /göğüs|kardiyoloji|s2:/);
  const unread = await new ReasonSealer(db, reasonVaultFromConfig({ schedulingEncryptionKeys: newKeySpec("s9") }), undefined).finished();
  t.ok(unread && unread.sealed === 0 && unread.unreadable >= 3, "the sealer leaves what it cannot open untouched");
});

t.test("without SCHEDULING_ENCRYPTION_KEYS the scheduling service does not start", async (t) => {
  t.throws(() => reasonVaultFromConfig({}), ConfigError);
  const config = loadConfig({ ...TEST_KEYS_ENV, SCHEDULING_ENCRYPTION_KEYS: "" }, { port: 0 });
  t.equal(config.schedulingEncryptionKeys, undefined);
  try {
    schedulingModule.create({ db: undefined as never, config } as never);
    t.fail("the module started without keys");
  } catch (err) {
    t.ok(err instanceof ConfigError, "a ConfigError");
    t.match((err as Error).message, /SCHEDULING_ENCRYPTION_KEYS/);
  }
  t.throws(() => reasonVaultFromConfig({ schedulingEncryptionKeys: "nonsense" }), /SCHEDULING_ENCRYPTION_KEYS/, "a malformed ring names the setting");
});
