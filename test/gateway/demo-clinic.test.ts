// The demo clinic of `npm start` (issue 18, defect 10): a fresh DATA_DIR gets a small clinic with
// doctors, hours, a walk-in queue and appointments, and the dev doctor and patient tokens act on
// records in it (before, the doctor token's subject was no provider, so every doctor screen answered
// "not allowed"). A restart seeds nothing twice; DEMO_CLINIC=off seeds nothing; dev-tokens.json
// keeps its shape.
import t from "tap";
import { startNpmStart, type NpmStart } from "../helpers/npm-start.js";

/** call makes a Connect JSON call as the web app or curl would. */
async function call(app: NpmStart, role: string, method: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${app.base}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${app.tokens[role]}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

function subjectOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as { sub: string }).sub;
}

const S = "medschedule.scheduling.v1.SchedulingService";
const Q = "medschedule.queue.v1.QueueService";

t.test("a fresh npm start seeds the demo clinic once, and the doctor and patient tokens act on it", async (t) => {
  const app = await startNpmStart(t);
  t.same(Object.keys(app.tokens).sort(), ["admin", "display", "doctor", "patient", "receptionist", "service"], "dev-tokens.json keeps its shape");
  t.match(app.stdout(), /Demo clinic seeded/, "the banner says so");

  const doctor = subjectOf(app.tokens.doctor);
  const provider = await call(app, "doctor", `${S}/GetProvider`, { providerId: doctor });
  t.equal(provider.status, 200, "the doctor token's subject is a provider");
  t.equal(provider.json.provider?.displayName, "Dr. Ayşe Yılmaz");
  t.equal(provider.json.provider?.timeZone, "Europe/Istanbul");
  const availability = await call(app, "doctor", `${S}/GetAvailability`, { providerId: doctor });
  t.ok(availability.json.availability?.weeklyHours?.length > 0, "with working hours");

  const day = await call(app, "doctor", `${S}/ListAppointments`, { providerId: doctor });
  t.equal(day.status, 200, "the doctor reads their own appointments (not PERMISSION_DENIED)");
  t.ok(day.json.appointments?.length >= 3, `the doctor has appointments ahead (${day.json.appointments?.length})`);
  const patient = subjectOf(app.tokens.patient);
  const mine = await call(app, "patient", `${S}/ListAppointments`, { patientId: patient });
  t.equal(mine.status, 200);
  t.ok(mine.json.appointments?.length >= 1, "the patient token has appointments of its own");
  for (const a of [...day.json.appointments, ...mine.json.appointments]) {
    t.ok(Date.parse(a.startTime) > Date.now(), `${a.appointmentId} starts in the future`);
  }

  const providers = await call(app, "receptionist", `${S}/ListProviders`, {});
  t.equal(providers.json.providers?.length, 3, "three doctors");
  const queues = await call(app, "receptionist", `${Q}/ListQueues`, {});
  t.ok(queues.json.queues?.some((q: { queueId: string }) => q.queueId === "danisma"), "a walk-in queue");
  t.equal(await app.stop(), 0);

  // A restart over the same DATA_DIR seeds nothing twice.
  const again = await startNpmStart(t, {}, { dataDir: app.dataDir });
  t.notMatch(again.stdout(), /Demo clinic seeded/, "not seeded again on restart");
  const after = await call(again, "doctor", `${S}/ListAppointments`, { providerId: doctor });
  t.equal(after.json.appointments?.length, day.json.appointments.length, "no appointment booked twice");
  t.equal(subjectOf(again.tokens.doctor), doctor, "the doctor token still names the demo doctor");
  t.equal(await again.stop(), 0);
});

t.test("DEMO_CLINIC=off: a fresh npm start stays empty", async (t) => {
  const app = await startNpmStart(t, { DEMO_CLINIC: "off" });
  const providers = await call(app, "receptionist", `${S}/ListProviders`, {});
  t.equal(providers.status, 200);
  t.same(providers.json.providers ?? [], [], "no providers");
  t.notMatch(app.stdout(), /Demo clinic seeded/);
  t.equal(await app.stop(), 0);
});
