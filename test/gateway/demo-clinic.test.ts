// The demo clinic of `npm start` (issue 18, defect 10): a fresh DATA_DIR gets a small clinic with
// doctors, hours, a walk-in queue and appointments, and the dev doctor and patient tokens act on
// records in it (before, the doctor token's subject was no provider, so every doctor screen answered
// "not allowed"). A restart seeds nothing twice; DEMO_CLINIC=off seeds nothing; dev-tokens.json
// keeps its shape. A first start killed (kill -9) while the database was starting still leaves a
// fresh DATA_DIR: the next start seeds (before, freshness was "the dev key was created now", and the
// killed start had already created it, so the clinic was never seeded).
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../services/runtime/server/free-port.js";
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
const P = "medschedule.patient.v1.PatientService";

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

  // The patients are real records of the patient service (issue 21), the dev patient's included.
  const me = await call(app, "patient", `${P}/GetPatient`, { patientId: patient });
  t.equal(me.status, 200, "the patient token's subject is a patient record");
  t.equal(me.json.patient?.givenName, "Zeynep");
  const booked = new Set<string>(day.json.appointments.map((a: { patientId: string }) => a.patientId));
  t.ok(booked.size >= 2, "the doctor's day has several patients");
  for (const patientId of booked) {
    const record = await call(app, "receptionist", `${P}/GetPatient`, { patientId });
    t.equal(record.status, 200, `${patientId} is a patient record`);
  }
  const unknown = await call(app, "receptionist", `${S}/BookAppointment`, { requestId: "demo-unknown", providerId: doctor, patientId: "pat-004", startTime: day.json.appointments[0].startTime });
  t.match(unknown.json, { code: "failed_precondition", message: "there is no patient record with this id; register the patient first" }, "npm start checks patients (PATIENT_CHECK on)");

  const providers = await call(app, "receptionist", `${S}/ListProviders`, {});
  t.equal(providers.json.providers?.length, 3, "three doctors");
  const queues = await call(app, "receptionist", `${Q}/ListQueues`, {});
  t.ok(queues.json.queues?.some((q: { queueId: string }) => q.queueId === "danisma"), "a walk-in queue");
  const locations = await call(app, "receptionist", `${S}/ListLocations`, {});
  t.same(locations.json.locations?.map((l: { displayName: string }) => l.displayName), ["Kadıköy Aile Sağlığı Merkezi", "Moda Şubesi"], "two locations");
  t.ok(locations.json.locations?.every((l: { timeZone: string; closures?: unknown[] }) => l.timeZone === "Europe/Istanbul" && (l.closures?.length ?? 0) >= 7), "in Istanbul, closed on the public holidays");
  const types = await call(app, "patient", `${S}/ListVisitTypes`, { locationId: "default" });
  t.ok(types.json.visitTypes?.length >= 4, `visit types to book (${types.json.visitTypes?.length})`);
  const elif = await call(app, "receptionist", `${S}/GetAvailability`, { providerId: "demo-elif-kaya" });
  t.ok(elif.json.availability?.weeklyHours?.some((h: { locationId?: string }) => h.locationId === "demo-moda"), "Dr. Elif Kaya works at the Moda branch on Thursdays");
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

t.test("a first start killed before seeding: the next start still seeds, once", async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-killed-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ["dist/gateway/main.js"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(await freePort()), DATA_DIR: dataDir, LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const exited = new Promise((r) => child.on("exit", r));
  // The dev tokens are written before the database opens: kill -9 the moment they appear, long
  // before the demo clinic could be seeded (a guard against a hang only, nothing timed).
  const tokens = path.join(dataDir, "dev-tokens.json");
  const started = Date.now();
  while (!existsSync(tokens) && child.exitCode === null && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 5));
  t.ok(existsSync(tokens), "the first start wrote its dev tokens");
  child.kill("SIGKILL");
  await exited;

  const again = await startNpmStart(t, {}, { dataDir });
  t.match(again.stdout(), /Demo clinic seeded/, "the restart seeds the demo clinic");
  const providers = await call(again, "receptionist", `${S}/ListProviders`, {});
  t.equal(providers.json.providers?.length, 3, "three doctors");
  const doctor = await call(again, "doctor", `${S}/GetProvider`, { providerId: subjectOf(again.tokens.doctor) });
  t.equal(doctor.status, 200, "the doctor token's subject is a provider");
  const day = await call(again, "doctor", `${S}/ListAppointments`, { providerId: subjectOf(again.tokens.doctor) });
  t.equal(await again.stop(), 0);

  const third = await startNpmStart(t, {}, { dataDir });
  t.notMatch(third.stdout(), /Demo clinic seeded/, "once seeded, a restart does not seed again");
  const after = await call(third, "doctor", `${S}/ListAppointments`, { providerId: subjectOf(third.tokens.doctor) });
  t.equal(after.json.appointments?.length, day.json.appointments?.length, "no appointment booked twice");
  t.equal(await third.stop(), 0);
});
