// The suite-wide guard of invariant 10 (test/helpers/phi-watch.ts) can fail: patient data a test
// system was sent and that then appears in one of its log lines is found, as written and as JSON
// escapes it; data of services that carry none (a lock's reason) and short words are not watched.
import t from "tap";
import { createClient } from "@connectrpc/connect";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { PhiWatch } from "../helpers/phi-watch.js";
import { startTestSystem } from "../helpers/system.js";
import { tokenGrpcTransport } from "../helpers/token-transport.js";

t.test("a watched value in a log line fails the check; an unwatched one does not", async (t) => {
  const watch = new PhiWatch();
  watch.record({ givenName: "Nezahat", familyName: "Gözlemcioğlu", phones: ["0532 111 22 33"], birthDate: "1961-02-03", notes: "Ali" });
  t.doesNotThrow(() => watch.check(), "nothing logged yet");
  watch.logger.info({ patient: "Gözlemcioğlu" }, "a careless line");
  await new Promise((r) => setImmediate(r));
  t.throws(() => watch.check(), /reached its logs/, "the family name in a log line is found");
  t.same(watch.leaks().length, 1);
  const other = new PhiWatch();
  other.record({ notes: "Ali", birthDate: "2026-12-07" });
  other.logger.info({ word: "Ali", day: "2026-12-07" }, "ordinary words");
  await new Promise((r) => setImmediate(r));
  t.doesNotThrow(() => other.check(), "short words and days of this decade are not watched");
});

t.test("the test system watches what its PatientService calls carry", async (t) => {
  // Its teardowns are run here: the watch's own, which must fail, is expected to throw.
  const teardowns: (() => unknown)[] = [];
  const sys = await startTestSystem({ teardown: (fn) => void teardowns.push(fn) });
  const patients = createClient(PatientService, tokenGrpcTransport(sys.grpc.port, await sys.token(["admin"], "adm-1")));
  await patients.createPatient({ requestId: "watch-1", givenName: "Fikriye", familyName: "Kayıtlıoğlu", birthDate: "1958-09-10" });
  sys.runtime.logger.info({ leaked: "Kayıtlıoğlu" }, "a line that must not exist");
  await new Promise((r) => setImmediate(r));
  const watch = sys.watch;
  t.ok(watch, "the system exposes its watch");
  t.throws(() => watch!.check(), /reached its logs/, "the registration's family name in a log line is found");
  const failed: unknown[] = [];
  for (const fn of teardowns.reverse()) await Promise.resolve().then(fn).catch((err: unknown) => failed.push(err));
  t.equal(failed.length, 1, "at teardown, exactly the watch's check fails");
  t.match(String(failed[0]), /reached its logs/);
});
