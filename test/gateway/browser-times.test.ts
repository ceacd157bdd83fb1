/// <reference lib="dom" />
// Times in the web app are on a 24-hour clock whatever the browser's locale, and dates are in the
// user's language, Turkish or English (issue 18, second outside check: "9:00 AM" in an English
// browser, times formatted each their own way on each screen). One module formats them all
// (time-format.ts); here every screen that shows a time is read in an en-US, a tr-TR and a de-DE
// browser (a language the app does not write dates in: English).
import t from "tap";
import { book, createOpenProvider, DESKTOP, LOCAL_TZ, overflow, PHONE, shot, startWebSystem } from "../helpers/browser.js";

const sys = await startWebSystem(t);
const { admin, queue } = sys;
const HOUR = 3_600_000;

// The browsers' zone puts "now" near local noon: an all-day provider there has afternoon slots today.
const providerId = await createOpenProvider(sys, "Dr. Clock Watcher", LOCAL_TZ, 60);
await queue.createQueue({ queueId: "times-q", displayName: "Times", prefix: "T", timeZone: LOCAL_TZ }, admin);
// An afternoon appointment (13:00 or later, local): a 12-hour clock would show it as "PM".
const afternoon = await book(sys, providerId, "p-times", new Date(Date.now() + 2 * HOUR));

const TWELVE_HOUR = /\b(AM|PM|am|pm|ÖÖ|ÖS)\b/;
const TURKISH_MONTH = /(Oca|Şub|Nis|Haz|Tem|Ağu|Eyl|Eki|Kas|Ara)\b/;
const ENGLISH_MONTH = /\b(Jan|Feb|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b/;

for (const [locale, dates, foreign] of [
  ["en-US", "en-GB", TURKISH_MONTH],
  ["tr-TR", "tr-TR", ENGLISH_MONTH],
  ["de-DE", "en-GB", TURKISH_MONTH],
] as const) {
  /** fmt is how the app writes a date in this browser, computed here independently of the app. */
  const fmt = (d: Date, o: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat(dates, { ...o, timeZone: LOCAL_TZ }).format(d);
  const clockOf = (d: Date) => fmt(d, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  t.test(`${locale} browser: 24-hour times and ${dates} dates on every screen`, async (t) => {
    const ctx = await sys.browser.newContext({ viewport: DESKTOP, baseURL: sys.gw.url, timezoneId: LOCAL_TZ, locale });
    t.teardown(() => ctx.close());
    const signIn = async (token: string, at: string, storage: Record<string, string> = {}) => {
      const page = await ctx.newPage();
      await page.addInitScript(
        ([tk, more]) => {
          localStorage.setItem("medschedule.token", tk);
          for (const [k, v] of Object.entries(more)) localStorage.setItem(k, v);
        },
        [token, storage] as const,
      );
      await page.goto(at);
      return page;
    };

    // Booking: slots, the day headings, My appointments.
    const booking = await signIn(await sys.token(["patient"], "p-times"), "/booking");
    await booking.locator(".slot").first().waitFor();
    const slots = await booking.locator(".slot").allInnerTexts();
    t.ok(slots.length > 0);
    t.same(slots.filter((s) => !/^\d\d:\d\d$/.test(s)), [], `every slot is HH:MM (${slots.slice(0, 3).join(", ")} …)`);
    t.ok(slots.some((s) => Number(s.slice(0, 2)) >= 13), "afternoon slots read 13:00 and later");
    const firstStart = new Date((await booking.locator(".slot").first().getAttribute("data-start"))!);
    t.equal(await booking.locator(".day legend").first().innerText(), fmt(firstStart, { weekday: "short", day: "numeric", month: "short" }), `the day heading in ${dates}`);
    const mine = booking.locator(`[data-appointment="${afternoon.appointmentId}"] [data-testid="appointment-time"]`);
    await mine.waitFor();
    const expected = fmt(afternoon.start, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    t.equal(await mine.innerText(), expected, `My appointments: ${expected}`);
    const bookingText = await booking.locator("main").innerText();
    t.notMatch(bookingText, TWELVE_HOUR, "no AM/PM anywhere on the page");
    t.notMatch(bookingText, foreign, "no month names of the other language");
    await shot(booking, `times-booking-${locale}`);

    // Reception: today's list and the counter's "Called at".
    await queue.issueTicket({ requestId: `times-${locale}`, queueId: "times-q" }, admin);
    const desk = await signIn(await sys.token(["receptionist"], "desk-times"), "/reception", { "medschedule.queue": "times-q", "medschedule.counter": `c-${locale}` });
    const row = desk.locator(`[data-appointment="${afternoon.appointmentId}"] strong`);
    await row.waitFor();
    t.equal(await row.innerText(), clockOf(afternoon.start), "today's list: the 24-hour time");
    await desk.locator("#open-counter").click();
    await desk.locator("#call-next:enabled").click();
    const called = desk.locator('[data-testid="current-detail"]');
    await called.waitFor();
    t.match(await called.innerText(), /^Called at \d\d:\d\d/, "Called at HH:MM");
    await desk.getByRole("button", { name: "Complete" }).click();
    t.notMatch(await desk.locator("main").innerText(), TWELVE_HOUR, "no AM/PM at reception");

    // The board's clock.
    const board = await signIn(await sys.token(["display"], "board-times"), "/display?queue=times-q");
    const clock = board.locator('[data-testid="clock-time"]');
    await clock.waitFor();
    t.match(await clock.innerText(), /^\d\d:\d\d$/, "the board's clock is HH:MM");
    const date = await board.locator('[data-testid="clock"]').innerText();
    t.ok(date.includes(fmt(new Date(), { weekday: "long", day: "numeric", month: "long" })), `and its date in ${dates}: ${date}`);
    await shot(board, `times-display-${locale}`);

    // Operations: a lock's expiry to the second.
    const held = await sys.lock.acquire({ resource: `times/${locale}`, owner: "times-test", ttl: { seconds: 60n } }, admin);
    t.teardown(() => sys.lock.release({ resource: `times/${locale}`, leaseId: held.lease!.leaseId }, admin).catch(() => undefined));
    const ops = await signIn(await sys.token(["admin"], "ops-times"), "/operations");
    const lockRow = ops.locator("tr", { hasText: `times/${locale}` });
    await lockRow.waitFor();
    t.match(await lockRow.innerText(), /\b\d\d:\d\d:\d\d\b/, "a lock's expiry HH:MM:SS");
    t.notMatch(await ops.locator("main").innerText(), TWELVE_HOUR, "no AM/PM in operations");

    // The same screens on a desk screen and on a phone: the longer Turkish dates fit too.
    for (const [name, page] of [["booking", booking], ["reception", desk], ["display", board], ["operations", ops]] as const) {
      for (const [size, viewport] of [["1280x800", DESKTOP], ["390x844", PHONE]] as const) {
        await page.setViewportSize(viewport);
        await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
        const { scrollsX, wide } = await overflow(page);
        t.notOk(scrollsX, `${name} fits ${size} in ${locale} ${wide}`);
        await shot(page, `times-${name}-${locale}-${size}`);
      }
    }
  });
}
