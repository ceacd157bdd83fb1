/// <reference lib="dom" />
// Test helpers for the web app in a real browser: Debian's headless Chromium driven by
// playwright-core, against a distributed gateway whose services run by serveGrpc over a real
// Postgres (as in production, in this process). Screenshots go to test-artifacts/screenshots.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { LockService } from "../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { DayOfWeek } from "../../gen/medschedule/scheduling/v1/scheduling_pb.js";
import { SchedulingService } from "../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import type { Role } from "../../services/runtime/auth/role-table.js";
import { createGrpcJsTransport } from "../../services/runtime/clients/grpc-transport.js";
import { WEB_ROOT } from "../../gateway/static-route.js";
import { startTestGateway, startUpstream, type TeardownHost, type TestGateway, type Upstream } from "./gateway.js";
import { createTestDatabase } from "./postgres.js";
import { ALL_MODULES, TEST_SECRET } from "./system.js";

/** CHROMIUM is Debian's chromium, which scripts/ensure-chromium.sh installs. */
export const CHROMIUM = "/usr/bin/chromium";

/** SHOTS is where screenshots go. */
export const SHOTS = path.resolve("test-artifacts/screenshots");

/** PHONE and DESKTOP are the viewports every screen must fit. */
export const PHONE = { width: 390, height: 844 };
/** DESKTOP is a 1280x800 desk screen. */
export const DESKTOP = { width: 1280, height: 800 };

/**
 * LOCAL_TZ is the browsers' zone: one that puts "now" near local noon, so the next free slots are
 * always "today" for Reception, whatever the hour the test runs at.
 */
const OFFSET = 12 - new Date().getUTCHours();
export const LOCAL_TZ = OFFSET === 0 ? "UTC" : `Etc/GMT${OFFSET > 0 ? "-" : "+"}${Math.abs(OFFSET)}`;

/** WebSystem is a browser and a gateway in front of all four services, with clients and tokens. */
export interface WebSystem {
  /** browser is the headless Chromium. */
  browser: Browser;
  /** upstream is the service process. */
  upstream: Upstream;
  /** gw is the gateway serving the web app. */
  gw: TestGateway;
  /** databaseUrl is the test database. */
  databaseUrl: string;
  /** queue, scheduling and lock are clients straight to the services. */
  queue: Client<typeof QueueService>;
  /** scheduling is the SchedulingService client. */
  scheduling: Client<typeof SchedulingService>;
  /** lock is the LockService client. */
  lock: Client<typeof LockService>;
  /** patient is the PatientService client. */
  patient: Client<typeof PatientService>;
  /** admin are call options with an admin token. */
  admin: { headers: { authorization: string } };
  /** token signs a token for `roles` and `subject`. */
  token(roles: Role[], subject: string): Promise<string>;
  /** open makes a signed-in page at `at` (the token, and `storage`, are put in localStorage first), in the browser language `locale` (en-GB). */
  open(token: string, at: string, viewport?: { width: number; height: number }, storage?: Record<string, string>, locale?: string): Promise<{ ctx: BrowserContext; page: Page }>;
}

/** startWebSystem launches Chromium and starts the services and a gateway for one test file. */
export async function startWebSystem(t: TeardownHost, env: Record<string, string> = {}): Promise<WebSystem> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash scripts/ensure-chromium.sh (npm test runs it)`);
  if (!existsSync(path.join(WEB_ROOT, "index.html"))) throw new Error("the web app is not built: run npm run build");
  await mkdir(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    env: { ...process.env, TZ: "UTC" },
  });
  t.teardown(() => browser.close());
  const databaseUrl = await createTestDatabase(t);
  const upstream = await startUpstream(t, ALL_MODULES, databaseUrl, env);
  const gw = await startTestGateway(t, [upstream.address]);
  const direct = createGrpcJsTransport({ addresses: [upstream.address] });
  t.teardown(() => direct.close());
  const token = (roles: Role[], subject: string) => signToken(TEST_SECRET, subject, roles);
  return {
    browser,
    upstream,
    gw,
    databaseUrl,
    queue: createClient(QueueService, direct),
    scheduling: createClient(SchedulingService, direct),
    lock: createClient(LockService, direct),
    patient: createClient(PatientService, direct),
    admin: { headers: { authorization: `Bearer ${await token(["admin"], "ops")}` } },
    token,
    async open(tok, at, viewport = DESKTOP, storage = {}, locale = "en-GB") {
      const ctx = await browser.newContext({ viewport, baseURL: gw.url, timezoneId: LOCAL_TZ, locale });
      await ctx.addInitScript(
        ([tk, more]) => {
          localStorage.setItem("medschedule.token", tk);
          for (const [k, v] of Object.entries(more)) localStorage.setItem(k, v);
        },
        [tok, storage] as const,
      );
      const page = await ctx.newPage();
      await page.goto(at);
      return { ctx, page };
    },
  };
}

/** shot saves a screenshot as test-artifacts/screenshots/<name>.png: the full page, or with `viewportOnly` what is on screen. */
export function shot(page: Page, name: string, viewportOnly = false): Promise<Buffer> {
  return page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: !viewportOnly });
}

/** ALL_DAYS are the seven days of the week. */
export const ALL_DAYS = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY, DayOfWeek.SATURDAY, DayOfWeek.SUNDAY];

/** nextSlot is the first free slot of a provider starting at or after `from`. */
export async function nextSlot(sys: WebSystem, providerId: string, from: Date): Promise<Date> {
  const res = await sys.scheduling.listAvailableSlots(
    { providerId, startTime: timestampFromDate(from), endTime: timestampFromDate(new Date(from.getTime() + 86_400_000)) },
    sys.admin,
  );
  const slot = res.slots[0];
  if (!slot?.startTime) throw new Error(`no free slot after ${from.toISOString()}`);
  return timestampDate(slot.startTime);
}

/**
 * book books the first free slot at or after `from` (and at least a minute ahead, so it is not in the
 * past by the time the booking arrives) for `patientId`; returns the appointment id and start.
 */
export async function book(sys: WebSystem, providerId: string, patientId: string, from = new Date()): Promise<{ appointmentId: string; start: Date }> {
  const start = await nextSlot(sys, providerId, new Date(Math.max(from.getTime(), Date.now() + 60_000)));
  const res = await sys.scheduling.bookAppointment(
    { requestId: `book-${patientId}-${start.getTime()}-${providerId}`, providerId, patientId, startTime: timestampFromDate(start) },
    sys.admin,
  );
  return { appointmentId: res.appointment!.appointmentId, start };
}

/** createOpenProvider creates a provider working every day, all day, in `timeZone`, with `slotMinutes` slots (and the id `providerId` when given); returns its id. */
export async function createOpenProvider(sys: WebSystem, displayName: string, timeZone: string, slotMinutes = 60, id = ""): Promise<string> {
  const p = await sys.scheduling.createProvider({ providerId: id, displayName, timeZone, specialty: "general practice" }, sys.admin);
  const providerId = p.provider!.providerId;
  await sys.scheduling.setAvailability(
    {
      providerId,
      weeklyHours: ALL_DAYS.map((dayOfWeek) => ({ dayOfWeek, startTime: "00:00", endTime: "24:00" })),
      slotDuration: { seconds: BigInt(slotMinutes * 60) },
    },
    sys.admin,
  );
  return providerId;
}

/** overflow reports the first element wider than the viewport, and whether the page scrolls either way. */
export async function overflow(page: Page): Promise<{ scrollsX: boolean; scrollsY: boolean; wide: string }> {
  return page.evaluate(() => {
    const over = [...document.querySelectorAll("body *")].find((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5);
    return {
      scrollsX: document.documentElement.scrollWidth > window.innerWidth,
      scrollsY: document.documentElement.scrollHeight > window.innerHeight,
      wide: over ? `${over.tagName.toLowerCase()}.${over.className} "${(over.textContent ?? "").slice(0, 40)}"` : "",
    };
  });
}

/** tabTo presses Tab until the focused element matches `selector` (at most `max` presses); returns whether it did. */
export async function tabTo(page: Page, selector: string, max = 60): Promise<boolean> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return true;
  }
  return false;
}

/** focused describes the focused element: its id, text and whether it is inside an open dialog. */
export function focused(page: Page): Promise<{ id: string; text: string; inDialog: boolean; tag: string }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return { id: el?.id ?? "", text: (el?.innerText ?? "").trim(), inDialog: Boolean(el?.closest("dialog[open]")), tag: el?.tagName.toLowerCase() ?? "" };
  });
}
