/// <reference lib="dom" />
// Booking by visit type in a real browser, against the real services (issue 20): a patient chooses
// what the visit is, sees the free times of every clinician offering it ("any available clinician")
// in the location's zone, holds one, confirms it, and finds it in My appointments with its visit
// type; a hold that lapsed before Confirm is refused in words (HOLD_EXPIRED), never booked; staff-only
// visit types are not offered to patients; no internal id is on screen; a phone fits it.
import t from "tap";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { createOpenProvider, overflow, PHONE, shot, startWebSystem, type WebSystem } from "../helpers/browser.js";

const ZONE = "Europe/Istanbul";
const KONTROL = "Kontrol muayenesi";

/** seedClinic names the default location, adds a branch, and visit types offered by two open providers; returns the ids. */
async function seedClinic(sys: WebSystem): Promise<{ providers: string[]; visitTypeId: string; ids: string[] }> {
  const { scheduling, admin } = sys;
  await scheduling.updateLocation(
    { requestId: "loc-default", location: { locationId: "default", displayName: "Kadıköy Merkez", timeZone: ZONE }, updateMask: { paths: ["display_name", "time_zone"] } },
    admin,
  );
  await scheduling.createLocation({ requestId: "loc-moda", locationId: "loc-moda-7f3a", displayName: "Moda Şubesi", timeZone: ZONE }, admin);
  const a = await createOpenProvider(sys, "Dr. Ayşe Yılmaz", ZONE, 15);
  const b = await createOpenProvider(sys, "Dr. Mehmet Demir", ZONE, 15);
  const vt = (visitTypeId: string, displayName: string, patientBookable: boolean, locationId = "default") =>
    scheduling.createVisitType(
      { requestId: `vt-${visitTypeId}`, visitType: { visitTypeId, locationId, displayName, duration: durationFromMs(30 * 60_000), providerIds: [a, b], patientBookable, color: "#3f9a5a" } },
      admin,
    );
  await vt("vt-kontrol-91c2", KONTROL, true);
  await vt("vt-staff-only-4d1e", "Küçük cerrahi", false);
  await vt("vt-moda-aa01", "Moda muayenesi", true, "loc-moda-7f3a");
  return { providers: [a, b], visitTypeId: "vt-kontrol-91c2", ids: [a, b, "vt-kontrol-91c2", "loc-moda-7f3a", "default"] };
}

t.test("a patient picks a visit type, sees several clinicians' times, holds one and confirms it", async (t) => {
  const sys = await startWebSystem(t);
  const clinic = await seedClinic(sys);
  const patient = await sys.token(["patient"], "vp1");
  const { ctx, page } = await sys.open(patient, "/booking");
  t.teardown(() => ctx.close());

  await page.locator('#mode-visit[aria-pressed="true"]').waitFor();
  t.same(await page.locator("#location option").allInnerTexts(), ["Kadıköy Merkez", "Moda Şubesi"], "both locations are offered, by name");
  const types = await page.locator(".visit-types label").allInnerTexts();
  t.ok(types.some((x) => x.includes(KONTROL) && x.includes("30 min")), "the visit type is shown with its length");
  t.notOk(types.some((x) => x.includes("Küçük cerrahi")), "a staff-only visit type is not offered to a patient");
  await page.getByLabel(new RegExp(KONTROL)).check();
  const slots = page.locator(".vslot");
  await slots.first().waitFor();
  const who = new Set(await slots.evaluateAll((els) => els.slice(0, 40).map((e) => e.getAttribute("data-provider"))));
  t.ok(who.has("Dr. Ayşe Yılmaz") && who.has("Dr. Mehmet Demir"), "the times of both clinicians offering it are shown, with their names");
  t.match(await page.locator('[data-testid="visit-slots"]').innerText(), /\b([01]\d|2[0-3]):[0-5]\d\b/, "times are 24-hour");

  const slot = slots.nth(3);
  const start = new Date((await slot.getAttribute("data-start"))!);
  const provider = (await slot.getAttribute("data-provider"))!;
  await slot.click();
  const hold = page.locator('[data-testid="hold"]');
  await hold.waitFor();
  t.match(await hold.innerText(), /Held for you until ([01]\d|2[0-3]):[0-5]\d/, "the confirm step says until when the time is held");
  t.ok((await hold.innerText()).includes(provider), "and with whom");
  const held = await sys.scheduling.listAppointments({ patientId: "vp1", startTime: { seconds: BigInt(start.getTime() / 1000) }, endTime: { seconds: BigInt(start.getTime() / 1000 + 1800) } }, sys.admin);
  t.equal(held.appointments[0]?.status, AppointmentStatus.PROPOSED, "the time is held, not yet booked");
  const text = await page.locator("main").innerText();
  for (const id of clinic.ids.filter((x) => x !== "default")) t.notOk(text.includes(id), `no internal id on screen (${id})`);
  await shot(page, "visit-booking-hold-1280");

  await page.locator("#visit-confirm").click();
  await page.getByText(/^Booked /).waitFor();
  const row = page.locator('[data-testid="appointments"] li', { has: page.locator('[data-testid="appointment-visit-type"]', { hasText: KONTROL }) });
  await row.waitFor();
  t.match(await row.innerText(), new RegExp(provider), "My appointments lists it with the clinician");
  const booked = (await sys.scheduling.listAppointments({ patientId: "vp1", startTime: { seconds: BigInt(start.getTime() / 1000) }, endTime: { seconds: BigInt(start.getTime() / 1000 + 1800) } }, sys.admin)).appointments[0];
  t.equal(booked?.status, AppointmentStatus.BOOKED, "the hold was confirmed");
  t.equal(booked?.visitTypeId, clinic.visitTypeId, "as the visit type chosen");
  t.ok(booked?.holdId, "by its hold");

  const { ctx: phone, page: small } = await sys.open(patient, "/booking", PHONE);
  t.teardown(() => phone.close());
  await small.locator(".vslot").first().waitFor();
  t.notOk((await overflow(small)).scrollsX, `fits a phone ${(await overflow(small)).wide}`);
  await shot(small, "visit-booking-390x844");
  await small.locator(".vslot").nth(5).click();
  await small.locator('[data-testid="hold"]').waitFor();
  t.notOk((await overflow(small)).scrollsX, "the confirm step fits a phone");
  await shot(small, "visit-booking-hold-390x844", true);
});

t.test("a hold that lapsed before Confirm is refused in words and nothing is booked", async (t) => {
  // The scheduling module reads its options from process.env (not the runtime's env): set the
  // shortest hold for this system only, while it is created.
  process.env.SCHEDULING_HOLD_TTL = "10s";
  const sys = await startWebSystem(t, { SCHEDULING_HOLD_TTL: "10s" }).finally(() => delete process.env.SCHEDULING_HOLD_TTL);
  await seedClinic(sys);
  const patient = await sys.token(["patient"], "vp2");
  const { ctx, page } = await sys.open(patient, "/booking");
  t.teardown(() => ctx.close());
  page.setDefaultTimeout(60_000); // a hang guard: a missing element fails with its name
  await page.getByLabel(new RegExp(KONTROL)).check();
  const slot = page.locator(".vslot").nth(3);
  await slot.waitFor();
  await slot.click();
  const until = page.locator('[data-testid="hold-until"]');
  await until.waitFor();
  // Wait past the hold's end as the server set it (not a timed assertion: only then is Confirm pressed).
  const expires = new Date((await until.getAttribute("data-expires"))!).getTime();
  await new Promise((r) => setTimeout(r, Math.max(0, expires - Date.now()) + 1_000));
  await page.locator("#visit-confirm").click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  t.equal(await alert.getAttribute("data-reason"), "HOLD_EXPIRED");
  const words = await alert.innerText();
  t.match(words, /ended at ([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)? before it was confirmed, so nothing was booked/, "says the hold ended, when, and that nothing was booked");
  t.match(words, /still free: choose it again/, "and what to do");
  t.equal(await page.locator('[data-testid="hold"]').count(), 0, "the confirm step is gone");
  const mine = await sys.scheduling.listAppointments({ patientId: "vp2", startTime: { seconds: BigInt(Math.floor(Date.now() / 1000)) }, endTime: { seconds: BigInt(Math.floor(Date.now() / 1000) + 30 * 86_400) } }, sys.admin);
  t.notOk(mine.appointments.some((a) => a.status === AppointmentStatus.BOOKED), "nothing was booked");
  await shot(page, "visit-booking-hold-expired-1280", true);
});
