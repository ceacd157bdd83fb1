// RestoreBackup with screens open, the four services in one process (the test system), on PGlite as
// `npm start` runs them and on Postgres. Reported: after a restore, open WatchQueue and
// WatchAppointments streams went silent until the sequence passed its old high-water mark, the next
// ticket reused a number already handed out that day, and audit rows written after the backup were
// gone. Expected: every open stream gets a fresh snapshot with resumeFailed, numbers go on after the
// last one handed out, sequences never repeat, a board of a queue the restore removed ends with
// NOT_FOUND, and the audit log keeps who did what (restore-script.ts, each schema's
// restore_carry_over, change-feed.ts). The same against real processes: restore-live-streams-processes.
import t from "tap";
import { auditKeptAcrossRestore, restoreWithOpenStreams } from "../helpers/restore-scenario.js";
import { startTestSystem } from "../helpers/system.js";

// Generous: a stream that stays silent fails only after its hang bound (stream-reader.ts), once per screen.
t.setTimeout(900_000);

for (const embedded of [true, false]) {
  t.test(`${embedded ? "PGlite" : "Postgres"}, one process: open streams and ticket numbers across a restore; audit rows kept`, async (t) => {
    const sys = await startTestSystem(t, { embedded });
    const db = (await sys.runtime.ready).db;
    const tokens = {
      admin: await sys.token(["admin"], "adm-1"),
      receptionist: await sys.token(["receptionist"], "rec-1"),
      display: await sys.token(["display"], "board-1"),
    };
    const seen = await restoreWithOpenStreams(t, { address: `127.0.0.1:${sys.grpc.port}`, tokens, prefix: embedded ? "RE" : "RP" });
    await auditKeptAcrossRestore(t, db, seen);
  });
}
