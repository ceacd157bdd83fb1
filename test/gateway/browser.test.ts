/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The web app in real headless Chromium (Debian's, driven by playwright-core) through the gateway in
// distributed mode, services served by serveGrpc over a real Postgres: booking in one browser
// removes the slot from another's list; check-in; the display board follows the counter live;
// booking with the keyboard only; every screen fits a 390x844 phone; a stopped upstream shows an
// error that says what to do; the dev login of npm start. Screenshots go to test-artifacts/screenshots.
import t from "tap";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { DayOfWeek } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { lockModule } from "../../services/lock/lock.module.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { createGrpcJsTransport } from "../../services/runtime/grpc-transport.js";
import { createRuntime } from "../../services/runtime/host.js";
import { startGateway } from "../../gateway/gateway.js";
import { WEB_ROOT } from "../../gateway/static-route.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { ALL_MODULES, TEST_SECRET } from "../helpers/system.js";
import { startTestGateway, startUpstream } from "../helpers/gateway.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.resolve("test-artifacts/screenshots");
const QUEUE_ID = "front-desk";
// The browsers' zone puts "now" near local noon, so the next free slots (booked below) are always
// "today" for Reception, whatever the hour the test runs at.
const OFFSET = 12 - new Date().getUTCHours();
const LOCAL_TZ = OFFSET === 0 ? "UTC" : `Etc/GMT${OFFSET > 0 ? "-" : "+"}${Math.abs(OFFSET)}`;

if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/ensure-chromium.sh (npm test runs it)`);
if (!existsSync(path.join(WEB_ROOT, "index.html"))) throw new Error("the web app is not built: run npm run build");
await mkdir(SHOTS, { recursive: true });

const browser: Browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  env: { ...process.env, TZ: "UTC" },
});
t.teardown(() => browser.close());

const databaseUrl = await createTestDatabase(t);
const upstream = await startUpstream(t, ALL_MODULES, databaseUrl, { LOCK_STUCK_AFTER: "1s" });
const gw = await startTestGateway(t, [upstream.address]);
const direct = createGrpcJsTransport({ addresses: [upstream.address] });
t.teardown(() => direct.close());

const token = (roles: string[], subject: string) => signToken(TEST_SECRET, subject, roles as never);
const admin = { authorization: `Bearer ${await token(["admin"], "ops")}` };
const tokens = {
  patientA: await token(["patient"], "patient-a"),
  patientB: await token(["patient"], "patient-b"),
  patientC: await token(["patient"], "patient-c"),
  receptionist: await token(["receptionist"], "desk-1"),
  display: await token(["display"], "board-1"),
  admin: await token(["admin"], "ops"),
};

/** open makes a signed-in browser page at `path` (the token is put where the app keeps it). */
async function open(tok: string, at: string, viewport = { width: 1280, height: 800 }): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport, baseURL: gw.url, timezoneId: LOCAL_TZ, locale: "en-GB" });
  await ctx.addInitScript((tk) => localStorage.setItem("medschedule.token", tk), tok);
  const page = await ctx.newPage();
  await page.goto(at);
  return { ctx, page };
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

// Data every browser check uses: a queue, and a provider open every day, all day, in UTC.
const queue = createClient(QueueService, direct);
await queue.createQueue({ queueId: QUEUE_ID, displayName: "Front desk", prefix: "F", timeZone: "UTC" }, { headers: admin });
const scheduling = createClient(SchedulingService, direct);
let providerId = "";
let schedulingReady = true;
try {
  const p = await scheduling.createProvider({ displayName: "Dr. Ada Lovelace", timeZone: "UTC", specialty: "cardiology" }, { headers: admin });
  providerId = p.provider!.providerId;
  const days = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY, DayOfWeek.SATURDAY, DayOfWeek.SUNDAY];
  await scheduling.setAvailability(
    { providerId, weeklyHours: days.map((dayOfWeek) => ({ dayOfWeek, startTime: "00:00", endTime: "24:00" })), slotDuration: { seconds: 3600n } },
    { headers: admin },
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
  const board = await open(tokens.display, `/display?queue=${QUEUE_ID}`);
  t.teardown(() => Promise.all([desk.ctx.close(), board.ctx.close()]));
  await board.page.getByText("Live").waitFor();
  const today = desk.page.locator('[data-testid="today"] li');
  await today.first().waitFor();
  await today.first().getByRole("button", { name: "Check in" }).click();
  const checked = desk.page.getByText(/Checked in: ticket F-\d+/);
  await checked.waitFor();
  const number = /F-\d+/.exec((await checked.textContent())!)![0];
  t.pass(`checked in with ticket ${number}`);
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
});

t.test("reschedule, then cancel, from My appointments", needsScheduling, async (t) => {
  const { ctx, page } = await open(tokens.patientC, "/booking");
  t.teardown(() => ctx.close());
  const mine = page.locator('[data-testid="appointments"] li');
  await mine.first().waitFor();
  const before = await mine.first().innerText();
  await mine.first().getByRole("button", { name: "Reschedule" }).click();
  await page.getByText(/pick a new slot/).waitFor();
  const target = page.locator(".slot").nth(2);
  const targetStart = (await target.getAttribute("data-start"))!;
  await target.click();
  await page.locator("#confirm", { hasText: "Move to" }).click();
  await page.getByText(/^Moved to /).waitFor();
  await page.locator(`.slot[data-start="${targetStart}"]`).waitFor({ state: "detached" });
  t.pass("the new slot is taken");
  await page.waitForFunction((old) => {
    const li = document.querySelector('[data-testid="appointments"] li');
    return li !== null && (li as HTMLElement).innerText !== old;
  }, before);
  t.equal(await mine.count(), 1, "still one appointment, at the new time");
  await mine.first().getByRole("button", { name: "Cancel" }).click();
  await page.getByText(/^Cancelled the appointment/).waitFor();
  await page.locator(`.slot[data-start="${targetStart}"]`).waitFor({ timeout: 10_000 });
  t.pass("the cancelled slot is free again");
  await page.getByText("No upcoming appointments.").waitFor();
  await shot(page, "booking-after-cancel");
});

t.test("walk-in ticket and counter without scheduling: the board updates live", async (t) => {
  const desk = await open(tokens.receptionist, "/reception");
  const board = await open(tokens.display, `/display?queue=${QUEUE_ID}`);
  t.teardown(() => Promise.all([desk.ctx.close(), board.ctx.close()]));
  await board.page.getByText("Live").waitFor();
  await desk.page.locator("#walkin-patient").fill("walk-in-1");
  await desk.page.locator("#issue").click();
  const number = (await desk.page.locator('[data-testid="issued-number"]').textContent())!;
  t.match(number, /^F-\d+$/);
  await board.page.locator('[data-testid="waiting"] li', { hasText: number }).waitFor({ timeout: 10_000 });
  await desk.page.locator("#counter").fill("2");
  await desk.page.getByRole("button", { name: "Open counter" }).click();
  await desk.page.getByText(/Counter 2 is open/).waitFor();
  // Call until our walk-in comes up (an appointment ticket of an earlier check may rank first).
  for (let i = 0; i < 3; i++) {
    await desk.page.locator("#call-next").click();
    await desk.page.locator('[data-testid="current-ticket"]').filter({ hasNotText: "—" }).waitFor();
    if ((await desk.page.locator('[data-testid="current-ticket"]').textContent()) === number) break;
    await desk.page.getByRole("button", { name: "Complete" }).click();
    await desk.page.getByText(/completed/).waitFor();
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
  for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
    for (const [name, tok, at] of screens) {
      const { ctx, page } = await open(tok, at, viewport);
      await page.locator("h1").first().waitFor();
      await page.waitForFunction(() => !document.body.innerText.includes("Loading"), undefined, { timeout: 10_000 }).catch(() => undefined);
      await page.waitForTimeout(200);
      const { scroll, inner, wide } = await page.evaluate(() => {
        const over = [...document.querySelectorAll("body *")].find((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5);
        return {
          scroll: document.documentElement.scrollWidth,
          inner: window.innerWidth,
          wide: over ? `${over.tagName.toLowerCase()}.${over.className} "${(over.textContent ?? "").slice(0, 40)}"` : "",
        };
      });
      t.ok(scroll <= inner, `${name} at ${viewport.width}x${viewport.height}: content ${scroll}px within ${inner}px ${wide}`);
      await shot(page, `${name}-${viewport.width}x${viewport.height}`);
      await ctx.close();
    }
  }
});

t.test("operations shows locks (stuck ones marked) and backups or a clear error", async (t) => {
  const lock = createClient(LockService, direct);
  const held = await lock.acquire({ resource: "ops/demo", owner: "browser-test", ttl: { seconds: 60n } }, { headers: admin });
  t.teardown(() => lock.release({ resource: "ops/demo", leaseId: held.lease!.leaseId }, { headers: admin }).catch(() => undefined));
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
});

t.test("with the upstream stopped, a visible error says what to do", async (t) => {
  const lone = await startUpstream(t, [queueModule, lockModule], databaseUrl);
  const gw2 = await startTestGateway(t, [lone.address]);
  lone.grpc.server.forceShutdown();
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, baseURL: gw2.url });
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
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-devlogin-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const runtime = await createRuntime({
    name: "gateway",
    modules: [queueModule],
    defaultPort: 0,
    devAuth: true,
    env: { DATA_DIR: dataDir, DATABASE_URL: await createTestDatabase(t), LOG_LEVEL: "silent", METRICS_PORT: "0" },
  });
  t.teardown(() => runtime.close());
  const server = await startGateway(runtime, 0);
  t.teardown(() => server.close(100));
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: `http://127.0.0.1:${server.port}` });
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
