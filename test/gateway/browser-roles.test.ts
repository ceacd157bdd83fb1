/// <reference lib="dom" />
// Screens, panels and actions follow the role table, in a real browser (issue 18, second outside
// check). Before: the doctor's Reception offered the walk-in desk the table refuses them ("Issuing the
// ticket is not allowed for your role"), started on the first queue of the clinic ("Danışma") instead
// of their own, and /booking or /display typed by hand opened screens outside the doctor's
// navigation. Now a doctor starts on their own provider queue ("prov-<providerId>"; before their first
// check-in it does not exist yet, and the screen says so) and their own day, sees only what the table
// lets them do, and a screen opened by URL that the role does not use says so, with a way home.
import t from "tap";
import { providerQueueId } from "../../services/scheduling/provider-queue.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { book, createOpenProvider, DESKTOP, focused, LOCAL_TZ, overflow, PHONE, shot, startWebSystem, tabTo } from "../helpers/browser.js";

const sys = await startWebSystem(t);
const { admin, queue, scheduling, open } = sys;

// The clinic's first queue by name is a walk-in desk: what the doctor used to land on.
await queue.createQueue({ queueId: "walk-in", displayName: "A walk-in desk", prefix: "W", timeZone: LOCAL_TZ }, admin);
const doctorId = await createOpenProvider(sys, "Dr. Grace Doctor", LOCAL_TZ, 15, "doc-grace");
const otherId = await createOpenProvider(sys, "Dr. Other Colleague", LOCAL_TZ, 15, "doc-other");
const doctor = await sys.token(["doctor"], doctorId);

t.test("a doctor starts on their own queue and their own day, without the walk-in desk (keyboard only)", async (t) => {
  const mine = await book(sys, doctorId, "p-roles-1");
  const theirs = await book(sys, otherId, "p-roles-2");
  const { ctx, page } = await open(doctor, "/reception", DESKTOP);
  t.teardown(() => ctx.close());

  await page.locator('[data-testid="own-provider"]').waitFor();
  t.match(await page.locator('[data-testid="own-provider"]').innerText(), /^Dr\. Grace Doctor · /, "the screen names the doctor");
  t.same(await page.getByRole("navigation", { name: "Screens" }).getByRole("link").allInnerTexts(), ["Patients", "Reception", "Display"], "no Booking in a doctor's navigation");
  await page.locator(`[data-appointment="${mine.appointmentId}"]`).waitFor();
  t.equal(await page.locator(`[data-appointment="${theirs.appointmentId}"]`).count(), 0, "another provider's appointment is not in the doctor's day");
  t.equal(await page.locator("#today-h").innerText(), "Today · Dr. Grace Doctor", "the list is the doctor's own day");
  t.equal(await page.getByRole("heading", { name: "Walk-in ticket" }).count(), 0, "no walk-in desk: IssueTicket is refused to doctors");
  t.equal(await page.locator("#issue").count(), 0, "no Issue ticket button");

  // Before the first check-in the doctor's queue does not exist: the screen says so and does not
  // put them on the walk-in desk.
  const missing = page.locator('[data-testid="own-queue-missing"]');
  await missing.waitFor();
  t.match(await missing.innerText(), /Your queue “Dr\. Grace Doctor” does not exist yet: it is created when the first of your patients is checked in/);
  t.equal(await page.locator("#queue").inputValue(), "", "no other queue chosen for them");
  t.equal(await page.getByRole("heading", { name: "Counter" }).count(), 0, "no counter on a queue that does not exist");
  await shot(page, "roles-doctor-before-check-in-1280");

  // Check in with the keyboard: the patient goes to the doctor's own queue, which the screen now shows.
  t.ok(await tabTo(page, `[data-appointment="${mine.appointmentId}"] button`), "Tab reaches Check in");
  t.equal((await focused(page)).text, "Check in");
  await page.keyboard.press("Enter");
  const sent = page.locator('[data-testid="checked-in"]');
  await sent.waitFor();
  t.match(await sent.innerText(), /^Checked in: ticket [A-Z]+-\d+, waiting in your queue\.$/, "the notice says it is the doctor's queue");
  const number = /[A-Z]+-\d+/.exec(await sent.innerText())![0];
  await page.waitForFunction((id) => (document.querySelector("#queue") as HTMLSelectElement | null)?.value === id, providerQueueId(doctorId));
  t.pass(`the screen is on ${providerQueueId(doctorId)}`);
  t.equal(await missing.count(), 0, "the notice is gone");
  await page.locator(`[data-testid="queue-tickets"] li[data-number="${number}"]`).waitFor();
  t.pass("the patient waits in the doctor's queue");

  t.ok(await tabTo(page, "#open-counter"), "Tab reaches Open counter");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="counter-state"]', { hasText: "Open" }).waitFor();
  t.ok(await tabTo(page, "#call-next:enabled"), "Tab reaches Call next");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="current-ticket"]', { hasText: number }).waitFor();
  t.pass("the doctor calls their patient");
  const { scrollsX, wide } = await overflow(page);
  t.notOk(scrollsX, `fits 1280x800 ${wide}`);
  await shot(page, "roles-doctor-calling-1280");

  const phone = await open(doctor, "/reception", PHONE);
  t.teardown(() => phone.ctx.close());
  await phone.page.locator('[data-testid="current-ticket"]', { hasText: number }).waitFor();
  const onPhone = await overflow(phone.page);
  t.notOk(onPhone.scrollsX, `fits a 390x844 phone ${onPhone.wide}`);
  await shot(phone.page, "roles-doctor-390x844");
});

t.test("a screen typed by URL that the role does not use says so, with a way home (keyboard only)", async (t) => {
  const { ctx, page } = await open(doctor, "/booking", DESKTOP);
  t.teardown(() => ctx.close());
  const page404 = page.locator('[data-testid="not-for-role"]');
  await page404.waitFor();
  const text = await page404.innerText();
  t.match(text, /Not for your role/);
  t.match(text, /Booking \(booking appointments\) is for the roles patient, receptionist and admin\. You are signed in as doctor\./);
  t.equal(await page.locator("#provider").count(), 0, "no provider list, no Patient id field");
  t.equal(await page.locator("#patient").count(), 0);
  await shot(page, "roles-not-for-role-1280");
  t.ok(await tabTo(page, '[data-testid="not-for-role"] a.primary'), "Tab reaches the way home");
  t.equal((await focused(page)).text, "Go to Reception");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/reception$/);
  await page.locator('[data-testid="own-provider"]').waitFor();
  t.pass("Enter goes to the doctor's Reception");

  const phone = await open(doctor, "/operations", PHONE);
  t.teardown(() => phone.ctx.close());
  await phone.page.locator('[data-testid="not-for-role"]').waitFor();
  t.notOk((await overflow(phone.page)).scrollsX, "fits a phone");
  await shot(phone.page, "roles-not-for-role-390x844");
});

t.test("every role and screen: the screens in the navigation open, the others say they are not for the role", async (t) => {
  const offered: Record<Exclude<Role, "service">, string[]> = {
    patient: ["/booking", "/me"],
    receptionist: ["/booking", "/patients", "/reception", "/display"],
    doctor: ["/patients", "/reception", "/display"],
    display: ["/display"],
    admin: ["/booking", "/patients", "/reception", "/display", "/operations"],
  };
  for (const [role, paths] of Object.entries(offered)) {
    const { ctx, page } = await open(await sys.token([role as Role], role === "doctor" ? doctorId : `${role}-roles`), "/login", DESKTOP);
    for (const path of ["/booking", "/patients", "/reception", "/display", "/operations", "/me"]) {
      await page.goto(`${path}${path === "/display" ? "?queue=walk-in" : ""}`);
      const refused = page.locator('[data-testid="not-for-role"]');
      const shown = path === "/display" ? page.locator('[data-testid="queue-name"]') : page.locator("main h1");
      await Promise.race([refused.waitFor(), shown.first().waitFor()]);
      const isRefused = (await refused.count()) > 0;
      t.equal(isRefused, !paths.includes(path), `${role} at ${path}: ${paths.includes(path) ? "the screen" : "not for your role"}`);
      if (!isRefused && path !== "/display") {
        const links = await page.getByRole("navigation", { name: "Screens" }).getByRole("link").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
        t.same(links, paths, `${role}: the navigation lists the same screens`);
      }
    }
    await ctx.close();
  }
});

t.test("staff see the walk-in desk and every provider; a patient's booking has no patient id field", async (t) => {
  const desk = await open(await sys.token(["receptionist"], "desk-roles"), "/reception", DESKTOP, { "medschedule.queue": "walk-in" });
  t.teardown(() => desk.ctx.close());
  await desk.page.getByRole("heading", { name: "Walk-in ticket" }).waitFor();
  t.equal(await desk.page.locator("#queue").inputValue(), "walk-in", "the desk's own choice of queue");
  await desk.page.locator("#today-provider").waitFor();
  const options = await desk.page.locator("#today-provider option").allInnerTexts();
  t.ok(options.includes("Dr. Grace Doctor") && options.includes("Dr. Other Colleague"), "every provider to choose from");

  const patient = await open(await sys.token(["patient"], "p-roles-3"), "/booking", DESKTOP);
  t.teardown(() => patient.ctx.close());
  await patient.page.locator("#provider").waitFor();
  t.equal(await patient.page.locator("#patient").count(), 0, "a patient books for themselves");
});

t.test("a doctor whose provider id is long starts on their queue too (its id is hashed, as the server names it)", async (t) => {
  const longId = `doc-${"l".repeat(58)}`;
  await createOpenProvider(sys, "Dr. Long Name", LOCAL_TZ, 15, longId);
  const appt = await book(sys, longId, "p-roles-long");
  const checkedIn = await scheduling.checkInAppointment({ appointmentId: appt.appointmentId, requestId: "roles-long-checkin" }, admin);
  const expected = providerQueueId(longId);
  t.equal(checkedIn.ticket?.queueId, expected, "the server's queue for this provider");
  t.not(expected, `prov-${longId}`, "a hashed id");
  const { ctx, page } = await open(await sys.token(["doctor"], longId), "/reception", DESKTOP);
  t.teardown(() => ctx.close());
  await page.waitForFunction((id) => (document.querySelector("#queue") as HTMLSelectElement | null)?.value === id, expected);
  t.pass("the screen is on the doctor's hashed queue");
  await page.locator(`[data-testid="queue-tickets"] li[data-number="${checkedIn.ticket!.number}"]`).waitFor();
  t.pass("with the checked-in patient waiting");
});
