/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The web app in real headless Chromium (Debian's, driven by playwright-core) through the gateway in
// distributed mode, services served by serveGrpc over a real Postgres: booking in one browser
// removes the slot from another's list; check-in; the display board follows the counter live;
// booking with the keyboard only; every screen fits a 390x844 phone; a stopped upstream shows an
// error that says what to do; the dev login of npm start. Screenshots go to test-artifacts/screenshots.
import t from "tap";
import { lockModule } from "../../services/lock/lock.module.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { startGateway } from "../../gateway/gateway.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";
import { ALL_DAYS, DESKTOP, overflow, PHONE, shot, startWebSystem } from "../helpers/browser.js";
import { startQueueRuntime } from "../helpers/queue-runtime.js";

const QUEUE_ID = "front-desk";

const sys = await startWebSystem(t, { LOCK_STUCK_AFTER: "1s" });
const { browser, open, admin, queue, scheduling, databaseUrl } = sys;
const tokens = {
  patientA: await sys.token(["patient"], "patient-a"),
  patientB: await sys.token(["patient"], "patient-b"),
  patientC: await sys.token(["patient"], "patient-c"),
  receptionist: await sys.token(["receptionist"], "desk-1"),
  display: await sys.token(["display"], "board-1"),
  admin: await sys.token(["admin"], "ops"),
};

// Data every browser check uses: a queue, and a provider open every day, all day, in UTC.
await queue.createQueue({ queueId: QUEUE_ID, displayName: "Front desk", prefix: "F", timeZone: "UTC" }, admin);
let providerId = "";
let schedulingReady = true;
try {
  const p = await scheduling.createProvider({ displayName: "Dr. Ada Lovelace", timeZone: "UTC", specialty: "cardiology" }, admin);
  providerId = p.provider!.providerId;
  await scheduling.setAvailability(
    { providerId, weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "00:00", endTime: "24:00" })), slotDuration: { seconds: 3600n } },
    admin,
  );
} catch (err) {
  schedulingReady = false;
  t.comment(`SchedulingService is not ready: ${(err as Error).message}`);
}
const needsScheduling = schedulingReady ? {} : { todo: "needs SchedulingService" };

let bookedStart = "";

t.test("book a slot: it vanishes from a second browser's slot list", needsScheduling, async (t) => {
  const a = await open(tokens.patientA, "/booking");
  const b = await open(tokens.patientB, "/booking");
  t.teardown(() => Promise.all([a.ctx.close(), b.ctx.close()]));
  await a.page.locator(".slot").first().waitFor();
  const start = (await a.page.locator(".slot").first().getAttribute("data-start"))!;
  await b.page.locator(`.slot[data-start="${start}"]`).waitFor();
  await a.page.locator(`.slot[data-start="${start}"]`).click();
  await a.page.locator("#confirm").click();
  await a.page.getByText(/^Booked /).waitFor();
  bookedStart = start;
  t.equal(await a.page.locator(`.slot[data-start="${start}"]`).count(), 0, "gone from the booking browser at once");
  await b.page.locator(`.slot[data-start="${start}"]`).waitFor({ state: "detached", timeout: 12_000 });
  t.pass("gone from the second browser without a reload");
  await a.page.locator('[data-testid="appointments"] li').first().waitFor();
  t.equal(await a.page.locator('[data-testid="appointments"] li').count(), 1, "listed under My appointments");
  await shot(a.page, "booking-1280");
});

t.test("book with the keyboard only", needsScheduling, async (t) => {
  const { ctx, page } = await open(tokens.patientC, "/booking");
  t.teardown(() => ctx.close());
  await page.locator(".slot").first().waitFor();
  let onSlot = false;
  for (let i = 0; i < 40 && !onSlot; i++) {
    await page.keyboard.press("Tab");
    onSlot = await page.evaluate(() => document.activeElement?.classList.contains("slot") ?? false);
  }
  t.ok(onSlot, "Tab reaches the first slot");
  await page.keyboard.press("Tab");
  const start = await page.evaluate(() => document.activeElement?.getAttribute("data-start"));
  await page.keyboard.press("Enter");
  t.equal(await page.evaluate(() => document.activeElement?.id), "confirm", "choosing a slot moves focus to the confirm button");
  await page.keyboard.press("Enter");
  await page.getByText(/^Booked /).waitFor();
  t.equal(await page.locator(`.slot[data-start="${start}"]`).count(), 0, "booked the slot chosen with the keyboard");
  await shot(page, "booking-keyboard");
});

t.test("reception checks the appointment in; the display board shows the call live", needsScheduling, async (t) => {
  t.ok(bookedStart, "an appointment was booked");
  const desk = await open(tokens.receptionist, "/reception");
  t.teardown(() => desk.ctx.close());
  const today = desk.page.locator('[data-testid="today"] li');
  await today.first().waitFor();
  await today.first().getByRole("button", { name: "Check in" }).click();
  const checked = desk.page.locator('[data-testid="checked-in"]');
  await checked.waitFor();
  t.match(await checked.innerText(), /sent to the queue “Dr\. Ada Lovelace”/, "the provider's own queue");
  const number = /[A-Z]+-\d+/.exec((await checked.textContent())!)![0];
  t.pass(`checked in with ticket ${number}`);
  await desk.page.getByRole("button", { name: "Show that queue" }).click();
  await desk.page.waitForFunction((id) => (document.querySelector("#queue") as HTMLSelectElement | null)?.value !== id, QUEUE_ID);
  const queueId = await desk.page.locator("#queue").inputValue();
  t.pass(`the screen switched to the provider's queue ${queueId}`);
  const board = await open(tokens.display, `/display?queue=${encodeURIComponent(queueId)}`);
  t.teardown(() => board.ctx.close());
  await board.page.getByText("Live").waitFor();
  await board.page.locator('[data-testid="waiting"] li', { hasText: number }).waitFor({ timeout: 10_000 });
  await desk.page.getByRole("button", { name: "Open counter" }).click();
  await desk.page.getByText(/Counter 1 is open/).waitFor();
  await desk.page.locator("#call-next").click();
  await desk.page.locator('[data-testid="current-ticket"]', { hasText: number }).waitFor();
  await board.page.locator('[data-testid="called"] li', { hasText: number }).waitFor({ timeout: 10_000 });
  t.pass("the board shows the called number without a reload");
  const text = await board.page.locator("main").innerText();
  t.notMatch(text, /patient-a|patient-b|patient-c/, "no patient ids on the board");
  await shot(desk.page, "reception-1280");
  await shot(board.page, "display-1280");
  await desk.page.getByRole("button", { name: "Complete" }).click();
  await desk.page.getByText(/completed/).waitFor();
});

t.test("reschedule, then cancel, from My appointments", needsScheduling, async (t) => {
  const { ctx, page } = await open(tokens.patientC, "/booking");
  t.teardown(() => ctx.close());
  const mine = page.locator('[data-testid="appointments"] li[data-status="BOOKED"]');
  await mine.first().waitFor();
  const before = await mine.first().innerText();
  await mine.first().getByRole("button", { name: "Reschedule" }).click();
  await page.getByText(/pick a new slot/).waitFor();
  const target = page.locator(".slot").nth(2);
  const targetStart = (await target.getAttribute("data-start"))!;
  await target.click();
  await page.locator("#confirm", { hasText: "Move to" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Move appointment" }).click();
  await page.getByText(/^Moved to /).waitFor();
  await page.locator(`.slot[data-start="${targetStart}"]`).waitFor({ state: "detached" });
  t.pass("the new slot is taken");
  await page.waitForFunction((old) => {
    const li = document.querySelector('[data-testid="appointments"] li[data-status="BOOKED"]');
    return li !== null && (li as HTMLElement).innerText !== old;
  }, before);
  t.equal(await mine.count(), 1, "still one appointment, at the new time");
  await mine.first().getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel appointment" }).click();
  await page.getByText(/^Cancelled the appointment/).waitFor();
  await page.locator(`.slot[data-start="${targetStart}"]`).waitFor({ timeout: 10_000 });
  t.pass("the cancelled slot is free again");
  await page.locator('[data-testid="appointments"] li[data-status="CANCELLED"]').waitFor();
  t.equal(await mine.count(), 0, "nothing booked any more; the cancelled one is listed as such");
  await shot(page, "booking-after-cancel");
});

t.test("walk-in ticket and counter without scheduling: the board updates live", async (t) => {
  const desk = await open(tokens.receptionist, "/reception");
  const board = await open(tokens.display, `/display?queue=${QUEUE_ID}`);
  t.teardown(() => Promise.all([desk.ctx.close(), board.ctx.close()]));
  await board.page.getByText("Live").waitFor();
  await desk.page.locator("#queue").selectOption(QUEUE_ID);
  await desk.page.locator("#walkin-patient").fill("walk-in-1");
  await desk.page.locator("#issue").click();
  const number = (await desk.page.locator('[data-testid="issued"]').getAttribute("data-number"))!;
  t.match(number, /^F-\d+$/);
  await board.page.locator('[data-testid="waiting"] li', { hasText: number }).waitFor({ timeout: 10_000 });
  await desk.page.locator("#counter").fill("2");
  await desk.page.getByRole("button", { name: "Open counter" }).click();
  await desk.page.getByText(/Counter 2 is open/).waitFor();
  // Call until our walk-in comes up (a ticket of an earlier check may rank first).
  for (let i = 0; i < 3; i++) {
    await desk.page.locator("#call-next").click();
    await desk.page.locator('[data-testid="current-ticket"]').filter({ hasNotText: "—" }).waitFor();
    if ((await desk.page.locator('[data-testid="current-ticket"]').textContent()) === number) break;
    await desk.page.getByRole("button", { name: "Complete" }).click();
    await desk.page.getByText(/completed/).waitFor();
    await desk.page.locator("#call-next:enabled").waitFor();
  }
  await board.page.locator('[data-testid="called"] li', { hasText: number }).waitFor({ timeout: 10_000 });
  t.pass(`the board shows ${number} called, without a reload`);
  t.notMatch(await board.page.locator("main").innerText(), /walk-in-1/, "ticket numbers only");
  await desk.page.getByRole("button", { name: "Recall" }).click();
  await desk.page.getByText(`Recalled ${number}.`).waitFor();
  await desk.page.getByRole("button", { name: "Complete" }).click();
  await board.page.locator('[data-testid="called"] li', { hasText: number }).waitFor({ state: "detached", timeout: 10_000 });
  t.pass("a completed ticket leaves the board");
  await shot(board.page, "display-walk-in");
});

t.test("every screen fits 1280x800 and a 390x844 phone without horizontal scrolling", async (t) => {
  const screens: [string, string, string][] = [
    ["booking", tokens.patientA, "/booking"],
    ["reception", tokens.receptionist, "/reception"],
    ["display", tokens.display, `/display?queue=${QUEUE_ID}`],
    ["operations", tokens.admin, "/operations"],
    ["login", tokens.receptionist, "/login"],
  ];
  for (const viewport of [PHONE, DESKTOP]) {
    for (const [name, tok, at] of screens) {
      const { ctx, page } = await open(tok, at, viewport);
      await page.locator("h1").first().waitFor();
      await page.waitForFunction(() => !document.body.innerText.includes("Loading"), undefined, { timeout: 10_000 }).catch(() => undefined);
      await page.waitForTimeout(200);
      const { scrollsX, wide } = await overflow(page);
      t.notOk(scrollsX, `${name} at ${viewport.width}x${viewport.height}: no horizontal scrolling ${wide}`);
      await shot(page, `${name}-${viewport.width}x${viewport.height}`);
      await ctx.close();
    }
  }
});

t.test("operations shows locks (stuck ones marked) and backups or a clear error", async (t) => {
  const lock = sys.lock;
  const held = await lock.acquire({ resource: "ops/demo", owner: "browser-test", ttl: { seconds: 60n } }, admin);
  t.teardown(() => lock.release({ resource: "ops/demo", leaseId: held.lease!.leaseId }, admin).catch(() => undefined));
  await new Promise((r) => setTimeout(r, 1_200)); // LOCK_STUCK_AFTER is 1s here
  const { ctx, page } = await open(tokens.admin, "/operations");
  t.teardown(() => ctx.close());
  await page.locator('[data-testid="lock-summary"]').waitFor();
  t.match(await page.locator('[data-testid="lock-summary"]').textContent(), /1 active · 1 stuck/);
  t.ok(await page.locator("tr.stuck", { hasText: "ops/demo" }).isVisible(), "the stuck lock is marked");
  await page.locator("#backups-h").waitFor();
  await page.waitForFunction(() => !document.body.innerText.includes("Loading…"));
  const body = await page.locator("main").innerText();
  t.ok(/No backups yet|postgres|redis|not available on this server yet/.test(body), "backups listed, none yet, or a clear message");
  await shot(page, "operations-stuck-lock");

  // Force release asks first, and needs a reason (keyboard only).
  await page.getByRole("button", { name: "Force release ops/demo" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  t.match(await dialog.innerText(), /Force-release this lock\?[\s\S]*ops\/demo[\s\S]*browser-test/, "names the lock and its holder");
  t.equal(await page.evaluate(() => document.activeElement?.id), "confirm-reason", "focus is in the reason field");
  t.ok(await dialog.getByRole("button", { name: "Force release" }).isDisabled(), "no release without a reason");
  await page.keyboard.press("Enter");
  t.ok(await dialog.isVisible(), "Enter without a reason does nothing");
  await page.keyboard.type("holder crashed");
  await page.keyboard.press("Enter");
  await page.getByText("Released the lock on ops/demo.").waitFor();
  t.equal((await lock.listLocks({}, admin)).locks.length, 0, "the lock is gone");
});

t.test("with the upstream stopped, a visible error says what to do", async (t) => {
  const lone = await startUpstream(t, [queueModule, lockModule], databaseUrl);
  const gw2 = await startTestGateway(t, [lone.address]);
  lone.grpc.server.forceShutdown();
  const ctx = await browser.newContext({ viewport: PHONE, baseURL: gw2.url });
  t.teardown(() => ctx.close());
  await ctx.addInitScript((tk) => localStorage.setItem("medschedule.token", tk), tokens.receptionist);
  const page = await ctx.newPage();
  await page.goto("/reception");
  const alert = page.getByRole("alert").first();
  await alert.waitFor({ timeout: 10_000 });
  const text = await alert.innerText();
  t.match(text, /not reachable/, "says what happened");
  t.match(text, /Check that MedSchedule is running.*Retry/s, "says what to do");
  t.ok(await alert.getByRole("button", { name: "Retry" }).isVisible(), "with a Retry button");
  await shot(page, "upstream-down-390x844");
});

t.test("npm start: the dev login lets you pick a role", async (t) => {
  const runtime = await startQueueRuntime(t, { devAuth: true });
  const server = await startGateway(runtime, 0);
  t.teardown(() => server.close(100));
  const ctx = await browser.newContext({ viewport: DESKTOP, baseURL: `http://127.0.0.1:${server.port}` });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto("/");
  await page.getByRole("button", { name: /receptionist/ }).waitFor();
  await shot(page, "login-dev");
  await page.getByRole("button", { name: /receptionist/ }).click();
  await page.waitForURL(/\/reception$/);
  t.match(await page.locator('[data-testid="who"]').textContent(), /receptionist/);
  await page.getByRole("heading", { name: "Reception" }).waitFor();
  t.pass("signed in as receptionist and landed on Reception");
});
