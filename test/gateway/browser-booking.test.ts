/// <reference lib="dom" />
// The booking screen in a real browser, against the real services. What it must not get wrong:
// "My appointments" shows every appointment at its own provider's local time (labelled with that
// zone when the browser's differs), with the provider's name and the appointment's status, whatever
// provider is selected (issue 18, defect 9). Cancelling asks first, with an optional reason that is
// stored; Escape keeps the appointment; the keyboard alone does it all (defect 11). A refused
// booking says why in the clinic's words, and a bad field is marked at its input (defect 12).
import t from "tap";
import { AppointmentStatus } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { book, createOpenProvider, DESKTOP, focused, overflow, PHONE, shot, startWebSystem, tabTo } from "../helpers/browser.js";

const sys = await startWebSystem(t);
const { admin, scheduling, open } = sys;
const HOUR = 3_600_000;

// Half-hour zones: never the browsers' zone (a whole-hour Etc/GMT zone), so the label must show.
const utcId = await createOpenProvider(sys, "Dr. Alan Turing", "UTC", 15);
const kolkataId = await createOpenProvider(sys, "Dr. Kolkata Clinic", "Asia/Kolkata", 15);
const stJohnsId = await createOpenProvider(sys, "Dr. St Johns Clinic", "America/St_Johns", 15);

/** clock is a start time as HH:MM in a zone, as the app's en-GB browser shows it. */
const clock = (d: Date, timeZone: string) => d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone });
/** day is a start date as "5 Dec" in a zone. */
const day = (d: Date, timeZone: string) => d.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone });

t.test("My appointments: each in its provider's time zone, with the provider's name and the status", async (t) => {
  const patient = await sys.token(["patient"], "p9");
  const checkedIn = await book(sys, kolkataId, "p9");
  await scheduling.checkInAppointment({ appointmentId: checkedIn.appointmentId, requestId: "p9-checkin" }, admin);
  const booked = await book(sys, stJohnsId, "p9", new Date(Date.now() + 2 * HOUR));
  const cancelled = await book(sys, kolkataId, "p9", new Date(Date.now() + 4 * HOUR));
  await scheduling.cancelAppointment({ appointmentId: cancelled.appointmentId, requestId: "p9-cancel", reason: "Doctor ill" }, admin);

  const { ctx, page } = await open(patient, "/booking");
  t.teardown(() => ctx.close());
  await page.locator("#provider").selectOption(utcId);
  const expected = [
    { ...checkedIn, zone: "Asia/Kolkata", label: "Kolkata time", provider: "Dr. Kolkata Clinic", status: "Checked in" },
    { ...booked, zone: "America/St_Johns", label: "St Johns time", provider: "Dr. St Johns Clinic", status: "Booked" },
    { ...cancelled, zone: "Asia/Kolkata", label: "Kolkata time", provider: "Dr. Kolkata Clinic", status: "Cancelled" },
  ];
  const rows = page.locator('[data-testid="appointments"] li');
  await rows.first().waitFor();
  t.equal(await rows.count(), 3, "every appointment is listed, whatever its status");
  for (const e of expected) {
    const li = page.locator(`[data-testid="appointments"] li[data-appointment="${e.appointmentId}"]`);
    await li.waitFor();
    const time = await li.locator('[data-testid="appointment-time"]').innerText();
    t.ok(time.includes(clock(e.start, e.zone)), `${e.provider}: ${time} shows ${clock(e.start, e.zone)}, the provider's local time`);
    t.ok(time.includes(day(e.start, e.zone)), `${e.provider}: on the provider's local date ${day(e.start, e.zone)}`);
    t.ok(time.includes(`(${e.label})`), `${e.provider}: labelled ${e.label}`);
    t.equal(await li.locator('[data-testid="appointment-provider"]').innerText(), `${e.provider} · general practice`, "with the provider's name");
    t.equal(await li.locator('[data-testid="appointment-status"]').innerText(), e.status, `status ${e.status}`);
  }
  const screens = await page.getByRole("navigation", { name: "Screens" }).getByRole("link").allInnerTexts();
  t.same(screens, ["Booking", "My details"], "a patient is offered only booking and their own details, not the desk, the directory or operations");
  const cancelledRow = page.locator(`[data-appointment="${cancelled.appointmentId}"]`);
  t.match(await cancelledRow.innerText(), /Doctor ill/, "a cancellation shows its reason");
  t.equal(await cancelledRow.getByRole("button").count(), 0, "no actions on a cancelled appointment");
  t.equal(await page.locator(`[data-appointment="${checkedIn.appointmentId}"]`).getByRole("button").count(), 0, "none on a checked-in one");
  t.equal(await page.locator(`[data-appointment="${booked.appointmentId}"]`).getByRole("button", { name: "Cancel" }).count(), 1, "a booked one can be cancelled");
  await shot(page, "booking-my-appointments-1280");
  const { ctx: phone, page: small } = await open(patient, "/booking", PHONE);
  t.teardown(() => phone.close());
  await small.locator(`[data-appointment="${booked.appointmentId}"]`).waitFor();
  t.notOk((await overflow(small)).scrollsX, "fits a phone");
  await shot(small, "booking-my-appointments-390x844");
});

t.test("Cancel asks first, keeps the appointment on Escape, and stores the reason given (keyboard only)", async (t) => {
  const patient = await sys.token(["patient"], "p11");
  const appt = await book(sys, kolkataId, "p11", new Date(Date.now() + 6 * HOUR));
  const { ctx, page } = await open(patient, "/booking", PHONE);
  t.teardown(() => ctx.close());
  const row = page.locator(`[data-appointment="${appt.appointmentId}"]`);
  await row.waitFor();
  t.ok(await tabTo(page, "#to-mine"), "Tab reaches the link past the slots to My appointments");
  await page.keyboard.press("Enter");
  t.ok(await tabTo(page, `[data-appointment="${appt.appointmentId}"] button.danger`, 10), "Tab then reaches the Cancel button");
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  t.equal((await focused(page)).id, "confirm-reason", "focus moved into the dialog, to the reason");
  const question = await dialog.innerText();
  t.match(question, /Cancel this appointment\?/, "asks");
  t.ok(question.includes(clock(appt.start, "Asia/Kolkata")) && question.includes("Dr. Kolkata Clinic"), "names the time and the provider");
  t.notOk((await overflow(page)).scrollsX, "the dialog fits a phone");
  await shot(page, "booking-cancel-dialog-390x844", true);

  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  const kept = (await scheduling.getAppointment({ appointmentId: appt.appointmentId }, admin)).appointment!;
  t.equal(kept.status, AppointmentStatus.BOOKED, "Escape keeps the appointment");
  t.equal((await focused(page)).text, "Cancel", "focus is back on the Cancel button");

  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await page.keyboard.type("Feeling better");
  await page.keyboard.press("Tab");
  t.equal((await focused(page)).text, "Go back", "Tab: Go back");
  await page.keyboard.press("Tab");
  t.equal((await focused(page)).text, "Cancel appointment", "Tab: the confirm button");
  await page.keyboard.press("Enter");
  await page.getByText(/^Cancelled the appointment of /).waitFor();
  const gone = (await scheduling.getAppointment({ appointmentId: appt.appointmentId }, admin)).appointment!;
  t.equal(gone.status, AppointmentStatus.CANCELLED, "cancelled after the confirmation");
  t.equal(gone.cancelReason, "Feeling better", "with the reason typed");
  await row.locator('[data-testid="appointment-status"]', { hasText: "Cancelled" }).waitFor();
  t.pass("listed as cancelled");
});

t.test("a slot taken meanwhile is refused in words a patient acts on; a bad patient id is marked at its input", async (t) => {
  const patient = await sys.token(["patient"], "p12");
  const { ctx, page } = await open(patient, "/booking");
  t.teardown(() => ctx.close());
  await page.locator("#provider").selectOption(utcId);
  const slot = page.locator(".slot").nth(1); // not the first: it may start within seconds
  await slot.waitFor();
  const start = new Date((await slot.getAttribute("data-start"))!);
  await slot.click();
  await scheduling.bookAppointment({ requestId: "p12-rival", providerId: utcId, patientId: "p12-rival", startTime: timestampFromDate(start) }, admin);
  await page.locator("#confirm").click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  const text = await alert.innerText();
  t.match(text, /just booked by someone else/, "says the slot was taken");
  t.match(text, /Pick another free slot/, "says what to do");
  t.notMatch(text, /refresh and try again/i, "not the generic refresh advice");
  t.equal(await alert.getAttribute("data-reason"), "SLOT_TAKEN");
  await shot(page, "booking-slot-taken-1280", true);

  const desk = await sys.token(["receptionist"], "desk-12");
  const staff = await open(desk, "/booking", DESKTOP);
  t.teardown(() => staff.ctx.close());
  await staff.page.locator("#provider").selectOption(utcId);
  await staff.page.locator("#patient").fill("not an id!");
  await staff.page.locator(".slot").nth(1).click();
  await staff.page.locator("#confirm").click();
  const inline = staff.page.locator('[data-testid="patient-error"]');
  await inline.waitFor();
  t.match(await inline.innerText(), /letters, digits/, "the violation is shown next to the patient id");
  t.equal(await staff.page.locator("#patient").getAttribute("aria-invalid"), "true", "the input is marked invalid");
  await shot(staff.page, "booking-field-error-1280");
});
