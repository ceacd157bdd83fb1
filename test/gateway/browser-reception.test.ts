/// <reference lib="dom" />
// The reception screen in a real browser, against the real services. What it must not get wrong:
// "No-show" ends the called ticket (NO_SHOW, counter free) and "Not here yet" puts it back to wait;
// both ask nothing more of the server than they say (issue 18, defect 7). A check-in sends the
// patient to the appointment's provider queue, whatever queue the screen shows, and says where
// (defect 8). The counter shows the ticket the server says it holds after a reload without calling
// anyone, "Call next" is off on a closed counter, a walk-in needs no patient id (defect 13). Error
// text is the clinic's words, never "refresh and try again" for a reasoned refusal, and a bad field
// is marked at its input (defect 12). Destructive actions ask first, and the question works with
// the keyboard alone (defect 11).
import t from "tap";
import { TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { book, createOpenProvider, DESKTOP, focused, overflow, PHONE, shot, startWebSystem } from "../helpers/browser.js";

const sys = await startWebSystem(t);
const { admin, queue, scheduling, open } = sys;
const receptionist = await sys.token(["receptionist"], "desk-7");

/** newQueue creates a UTC queue for one test. */
async function newQueue(queueId: string, displayName: string, prefix: string): Promise<void> {
  await queue.createQueue({ queueId, displayName, prefix, timeZone: "UTC" }, admin);
}

/** issue issues a walk-in ticket through the API; returns its id and number. */
async function issue(queueId: string, patientId: string): Promise<{ ticketId: string; number: string }> {
  const res = await queue.issueTicket({ requestId: `walk-${queueId}-${patientId}`, queueId, patientId }, admin);
  return { ticketId: res.ticket!.ticketId, number: res.ticket!.number };
}

/** ticket reads a ticket through the API. */
async function ticket(ticketId: string) {
  return (await queue.getTicket({ ticketId }, admin)).ticket!;
}

t.test("No-show marks the called ticket NO_SHOW and frees the counter; Not here yet lets it wait again (keyboard only)", async (t) => {
  await newQueue("q7", "Blood tests", "N");
  const first = await issue("q7", "p7-1");
  const second = await issue("q7", "p7-2");
  const byNumber = new Map([first, second].map((x) => [x.number, x.ticketId]));
  const { ctx, page } = await open(receptionist, "/reception", DESKTOP, { "medschedule.queue": "q7", "medschedule.counter": "c7" });
  t.teardown(() => ctx.close());
  await page.getByRole("button", { name: "Open counter" }).click();
  await page.getByText("Counter c7 is open.").waitFor();
  await page.locator("#call-next:enabled").click();
  const current = page.locator('[data-testid="current-ticket"]');
  await current.filter({ hasNotText: "—" }).waitFor();
  const calledNumber = (await current.innerText()).trim();
  const calledId = byNumber.get(calledNumber)!;
  t.ok(calledId, `called ${calledNumber}`);

  // The question: focus moves into it; Escape answers no and changes nothing.
  const noShow = page.getByRole("button", { name: "No-show", exact: true });
  await noShow.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  t.match(await dialog.innerText(), new RegExp(`Mark ${calledNumber} as a no-show\\?`), "the dialog names the ticket");
  t.ok((await focused(page)).inDialog, "focus moved into the dialog");
  t.equal((await focused(page)).text, "Go back", "on the harmless choice");
  await shot(page, "reception-no-show-dialog-1280", true);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  t.equal((await ticket(calledId)).status, TicketStatus.CALLED, "Escape: the ticket is still called");
  t.equal((await focused(page)).text, "No-show", "focus is back on the button that asked");

  // Again, and yes, with the keyboard only.
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await page.keyboard.press("Tab");
  t.equal((await focused(page)).text, "Mark no-show", "Tab reaches the confirm button");
  await page.keyboard.press("Enter");
  await page.getByText(`${calledNumber} marked no-show. Counter c7 is free.`).waitFor();
  t.equal((await ticket(calledId)).status, TicketStatus.NO_SHOW, "the ticket is NO_SHOW, not back in line");
  await current.filter({ hasText: "—" }).waitFor();
  t.pass("the counter shows nobody called");
  await page.locator(`[data-testid="queue-tickets"] li[data-number="${calledNumber}"]`).waitFor({ state: "detached" });
  t.pass("the ticket left the queue list");
  t.ok(await page.locator("#call-next").isEnabled(), "the counter can call the next patient at once");

  // Not here yet: the next called ticket waits again.
  await page.locator("#call-next").click();
  await current.filter({ hasNotText: "—" }).waitFor();
  const nextNumber = (await current.innerText()).trim();
  t.not(nextNumber, calledNumber, "the no-show is not called again");
  const nextId = byNumber.get(nextNumber)!;
  await page.getByRole("button", { name: "Not here yet" }).click();
  await page.getByText(new RegExp(`${nextNumber} is not here yet: it waits again`)).waitFor();
  const after = await ticket(nextId);
  t.equal(after.status, TicketStatus.WAITING, "Not here yet: the ticket waits again");
  t.equal(after.counterId, "", "and no counter holds it");
  await current.filter({ hasText: "—" }).waitFor();
  await page.locator(`[data-testid="queue-tickets"] li[data-number="${nextNumber}"]`, { hasText: "waiting" }).waitFor();
  t.pass("the queue list shows it waiting");
  await shot(page, "reception-not-here-yet-1280");
});

t.test("check-in sends the patient to the appointment's provider queue, not the selected one, and says where", async (t) => {
  const providerId = await createOpenProvider(sys, "Dr. Grace Hopper", "UTC", 15);
  await newQueue("front8", "Front desk", "F");
  const mine = await book(sys, providerId, "p8-ui");
  const other = await book(sys, providerId, "p8-api", new Date(mine.start.getTime() + 1));
  const { ctx, page } = await open(receptionist, "/reception", DESKTOP, { "medschedule.queue": "front8" });
  t.teardown(() => ctx.close());
  t.equal(await page.locator("#queue").inputValue(), "front8", "the screen shows the front-desk queue");
  const card = page.locator(`[data-appointment="${mine.appointmentId}"]`);
  await card.getByRole("button", { name: "Check in" }).click();
  await card.getByText("Checked in").waitFor();
  const appointment = (await scheduling.getAppointment({ appointmentId: mine.appointmentId }, admin)).appointment!;
  const issued = await ticket(appointment.ticketId);
  t.not(issued.queueId, "front8", "not the queue the screen had selected");
  const viaApi = await scheduling.checkInAppointment({ appointmentId: other.appointmentId, requestId: "checkin-p8-api" }, admin);
  t.equal(issued.queueId, viaApi.ticket!.queueId, "the same queue as a check-in that names none: the provider's own");
  t.equal((await queue.listTickets({ queueId: "front8" }, admin)).tickets.length, 0, "nothing landed in the selected queue");

  const sent = page.locator('[data-testid="checked-in"]');
  await sent.waitFor();
  t.equal(await sent.innerText(), `Checked in: ticket ${issued.number}, sent to the queue “Dr. Grace Hopper”.`, "the notice names the ticket and the provider's queue");

  await page.getByRole("button", { name: "Show that queue" }).click();
  await page.waitForFunction((id) => (document.querySelector("#queue") as HTMLSelectElement | null)?.value === id, issued.queueId);
  await page.locator(`[data-testid="queue-tickets"] li[data-number="${issued.number}"]`).waitFor();
  t.pass("Show that queue switches the screen to it, with the ticket in line");
  await shot(page, "reception-check-in-1280");
});

t.test("a reload restores the counter's called ticket without calling anyone; Call next is off on a closed counter", async (t) => {
  await newQueue("q13", "Vaccinations", "V");
  const { ctx, page } = await open(receptionist, "/reception", DESKTOP, { "medschedule.queue": "q13", "medschedule.counter": "c13" });
  t.teardown(() => ctx.close());
  await page.locator('[data-testid="counter-state"]', { hasText: "Closed" }).waitFor();
  t.ok(await page.locator("#call-next").isDisabled(), "Call next is disabled on a closed counter");
  t.match(await page.locator("#call-next-hint").innerText(), /Open the counter/, "and the screen says why");

  // A walk-in without a patient id.
  await page.locator("#issue").click();
  const number = (await page.locator('[data-testid="issued"]').getAttribute("data-number"))!;
  t.match(number, /^V-\d+$/, "an anonymous walk-in gets a ticket");
  const anonymous = (await queue.listTickets({ queueId: "q13" }, admin)).tickets.find((x) => x.number === number)!;
  t.equal(anonymous.patientId, "", "with no patient id");
  const later = await issue("q13", "p13-later");

  await page.getByRole("button", { name: "Open counter" }).click();
  await page.locator('[data-testid="counter-state"]', { hasText: "Open" }).waitFor();
  await page.locator("#call-next:enabled").click();
  const current = page.locator('[data-testid="current-ticket"]');
  await current.filter({ hasText: number }).waitFor();

  await page.reload();
  await current.filter({ hasText: number }).waitFor({ timeout: 10_000 });
  t.pass("after a reload the counter shows its called ticket again");
  await page.locator('[data-testid="counter-state"]', { hasText: "Open" }).waitFor();
  t.ok(await page.locator("#call-next").isDisabled(), "Call next waits until the called patient is dealt with");
  t.equal((await ticket(later.ticketId)).status, TicketStatus.WAITING, "the reload called nobody else");
  t.equal((await ticket(anonymous.ticketId)).counterId, "c13", "the counter still holds its ticket");

  await page.getByRole("button", { name: "Complete" }).click();
  await page.getByText(`${number} completed. Counter c13 is free.`).waitFor();
  await page.getByRole("button", { name: "Close counter" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Close counter" }).click();
  await page.locator('[data-testid="counter-state"]', { hasText: "Closed" }).waitFor();
  t.ok(await page.locator("#call-next").isDisabled(), "closing the counter disables Call next");
  await shot(page, "reception-closed-counter-1280");
});

t.test("cancelling a waiting ticket asks first, with an optional reason", async (t) => {
  await newQueue("q11", "Pharmacy", "P");
  const waiting = await issue("q11", "p11-1");
  const { ctx, page } = await open(receptionist, "/reception", PHONE, { "medschedule.queue": "q11" });
  t.teardown(() => ctx.close());
  await page.getByRole("button", { name: `Cancel ticket ${waiting.number}` }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  t.equal((await focused(page)).id, "confirm-reason", "focus is in the reason field");
  const { scrollsX } = await overflow(page);
  t.notOk(scrollsX, "the dialog fits a phone");
  await shot(page, "reception-cancel-ticket-dialog-390x844", true);
  await page.keyboard.type("left before being called");
  await page.keyboard.press("Enter");
  await page.getByText(`Ticket ${waiting.number} cancelled.`).waitFor();
  t.equal((await ticket(waiting.ticketId)).status, TicketStatus.CANCELLED, "the ticket is cancelled");
});

t.test("errors say what happened in the clinic's words, and a bad field is marked at its input", async (t) => {
  const providerId = await createOpenProvider(sys, "Dr. Barbara Liskov", "UTC", 15);
  await newQueue("q12", "Front desk 12", "E");
  const early = await book(sys, providerId, "p12-early", new Date(Date.now() + 3 * 3_600_000));
  const { ctx, page } = await open(receptionist, "/reception", DESKTOP, { "medschedule.queue": "q12", "medschedule.counter": "c12" });
  t.teardown(() => ctx.close());

  await page.locator(`[data-appointment="${early.appointmentId}"]`).getByRole("button", { name: "Check in" }).click();
  const alert = page.getByRole("alert").filter({ hasText: /check-in/i });
  await alert.waitFor();
  const text = await alert.innerText();
  t.match(text, /Check-in for (this appointment|the appointment at \d\d:\d\d.*) (opens|is not open yet)/, "says check-in is not open yet");
  t.notMatch(text, /refresh and try again/i, "not the generic refresh advice");
  t.notMatch(text, /\d{4}-\d\d-\d\dT\d\d:\d\d/, "no UTC timestamp");
  t.notMatch(text, /CheckInAppointment|IssueTicket|OpenCounter/, "no RPC names");
  t.match((await alert.getAttribute("data-reason")) ?? "", /^CHECK_IN_/, "the reason the server sent");
  await shot(page, "reception-check-in-too-early-1280");

  await page.locator("#counter").fill("desk 12!");
  await page.getByRole("button", { name: "Open counter" }).click();
  const inline = page.locator('[data-testid="counter-error"]');
  await inline.waitFor();
  t.match(await inline.innerText(), /letters, digits/, "the violation is shown next to the counter id");
  t.equal(await page.locator("#counter").getAttribute("aria-invalid"), "true", "the input is marked invalid");
  t.equal(await page.locator("#counter").getAttribute("aria-describedby"), "counter-error", "and points at the message");
  await shot(page, "reception-field-error-1280");
});
