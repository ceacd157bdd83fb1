// Embedded mode (`npm start`: every service on one PGlite session) backs up again and again while
// bookings and reads run: every backup SUCCEEDED and verifies, no concurrent call fails, and the
// shared session is left as it was (no open transaction, same search_path and settings), after a
// restore too. The dump once ran PGlite's pg_dump on that shared session: it left its read-only
// transaction open and the session's settings changed, so the next UPDATE failed, later dumps
// failed on an empty search_path, and concurrent calls answered "current transaction is aborted".
import t from "tap";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { BackupState, BackupTarget } from "../../gen/medschedule/backup/v1/backup_pb.js";
import { BackupService } from "../../gen/medschedule/backup/v1/backup_service_pb.js";
import { clientOf, waitForBackup } from "../helpers/backup.js";
import { schedulingClient, setUpProvider } from "../helpers/scheduling.js";
import { startTestSystem } from "../helpers/system.js";

t.setTimeout(300_000);

const BACKUPS = 4;
const MIN = 60_000;

t.test("embedded: many backups during bookings and reads, each SUCCEEDED and verified, no call failing", async (t) => {
  const sys = await startTestSystem(t, { embedded: true });
  const database = await sys.runtime.ready;
  t.equal(database.kind, "pglite");
  const db = database.db;
  const admin = clientOf(t, sys, BackupService, await sys.token(["admin"], "adm-1"));
  const scheduling = await schedulingClient(sys, "receptionist", "rec-1");

  // Ordinary use first: one provider, one booking.
  const providerId = await setUpProvider(scheduling, { timeZone: "UTC", slotMinutes: 15 });
  // Whole days ahead, on the hour: in the future and inside any booking horizon.
  const day0 = Math.ceil((Date.now() + 2 * 86_400_000) / 86_400_000) * 86_400_000;
  let slot = 0;
  const nextStart = () => new Date(day0 + 15 * MIN * slot++);
  const book = (requestId: string) =>
    scheduling.bookAppointment({
      requestId,
      providerId,
      patientId: `pat-${requestId}`,
      startTime: timestampFromDate(nextStart()),
      duration: { seconds: 15n * 60n },
    });
  await book("first");

  const settingsOf = async () =>
    (
      await sql<{ name: string; setting: string }>`select name, setting from pg_settings where name in
        ('search_path', 'DateStyle', 'IntervalStyle', 'extra_float_digits', 'statement_timeout', 'lock_timeout',
         'row_security', 'client_min_messages', 'check_function_bodies', 'TimeZone', 'default_transaction_read_only')
        order by name`.execute(db)
    ).rows;
  const settingsBefore = await settingsOf();

  const failures: string[] = [];
  let calls = 0;
  const backupIds: string[] = [];
  for (let i = 0; i < BACKUPS; i++) {
    const { backup } = await admin.startBackup({ target: BackupTarget.POSTGRES, requestId: `traffic-${i}` });
    // Traffic while the backup runs: bookings of free slots and reads, until it ends.
    let running = true;
    const traffic = (async () => {
      let n = 0;
      while (running) {
        const j = n++;
        const results = await Promise.allSettled([book(`b${i}-${j}`), scheduling.listProviders({ pageSize: 10 }), scheduling.getProvider({ providerId })]);
        for (const r of results) {
          calls++;
          if (r.status === "rejected") {
            const e = ConnectError.from(r.reason);
            failures.push(`backup ${i}, round ${j}: ${e.code} ${e.rawMessage}`);
          }
        }
      }
    })();
    let b;
    try {
      b = await waitForBackup(admin, backup!.backupId, 120_000);
    } finally {
      running = false;
      await traffic;
    }
    t.equal(b.state, BackupState.SUCCEEDED, `backup ${i} SUCCEEDED${b.error ? `: ${b.error}` : ""}`);
    backupIds.push(b.backupId);
  }
  t.ok(calls > BACKUPS * 3, `${calls} concurrent calls ran`);
  t.same(failures, [], "no concurrent call failed while the backups ran");

  for (const backupId of backupIds) {
    const v = await admin.verifyBackup({ backupId });
    t.ok(v.ok, `backup ${backupId} verifies: ${v.details.join("; ")}`);
  }

  t.notOk(database.pglite!.isInTransaction(), "the shared session is not left inside a transaction");
  t.same(await settingsOf(), settingsBefore, "the shared session's settings are as before the backups");

  // A restore runs the dump's SQL, with its SETs, on the shared session: they do not stay there.
  const last = backupIds[backupIds.length - 1];
  const { backup: lastBackup } = await admin.getBackup({ backupId: last });
  const recorded = Number(lastBackup!.recordedTables.find((x) => x.name === "scheduling.appointments")?.rows);
  await book("before-restore");
  await admin.restoreBackup({ backupId: last, confirm: last });
  const restored = await sql<{ n: number }>`select count(*)::int as n from scheduling.appointments`.execute(db);
  t.equal(restored.rows[0].n, recorded, "the restore brought back the backup's appointments");
  t.notOk(database.pglite!.isInTransaction());
  t.same(await settingsOf(), settingsBefore, "the shared session's settings are as before the restore");
  // The services still work after all that.
  await book("after");
  const { providers } = await scheduling.listProviders({ pageSize: 10 });
  t.ok(providers.some((p) => p.providerId === providerId));
});
