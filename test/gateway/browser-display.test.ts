/// <reference lib="dom" />
// The waiting-room display in a real browser with a full room: 30 waiting tickets and 2 called, at
// 1280x800 and on a 390x844 phone. It must fit the screen whole (nothing cut off, no scrolling),
// show the next numbers in call order as far as they fit and "+N more" for the rest, name the queue,
// show a clock in the queue's time zone (not the browser's), and show ticket numbers only
// (issue 18, defect 13).
import t from "tap";
import { DESKTOP, PHONE, shot, startWebSystem } from "../helpers/browser.js";

const sys = await startWebSystem(t);
const { admin, queue, open } = sys;
const QUEUE_ID = "radiology";
// A half-hour zone: never the browsers' (a whole-hour Etc/GMT zone), so the clock must convert.
const ZONE = "Asia/Kolkata";

await queue.createQueue({ queueId: QUEUE_ID, displayName: "Radiology", prefix: "R", timeZone: ZONE }, admin);
for (let i = 1; i <= 32; i++) {
  await queue.issueTicket({ requestId: `board-${i}`, queueId: QUEUE_ID, patientId: `p-board-${String(i).padStart(2, "0")}` }, admin);
}
for (const counterId of ["1", "2"]) {
  await queue.openCounter({ queueId: QUEUE_ID, counterId }, admin);
  await queue.callNext({ queueId: QUEUE_ID, counterId }, admin);
}
const all = (await queue.listTickets({ queueId: QUEUE_ID, pageSize: 100 }, admin)).tickets;
const waitingInOrder = all.filter((x) => x.counterId === "").map((x) => x.number);
const display = await sys.token(["display"], "board-1");

/** clock is "HH:MM" at `d` in the queue's zone, as the app's en-GB browser shows it. */
const clock = (d: Date) => d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: ZONE });

for (const viewport of [DESKTOP, PHONE]) {
  const size = `${viewport.width}x${viewport.height}`;
  t.test(`the board at ${size} with 30 waiting tickets: fits whole, queue name, clock in the queue's zone`, async (t) => {
    t.equal(waitingInOrder.length, 30, "30 tickets wait");
    const { ctx, page } = await open(display, `/display?queue=${QUEUE_ID}`, viewport);
    t.teardown(() => ctx.close());
    await page.getByText("Live").waitFor();
    await page.locator('[data-testid="waiting"] li').first().waitFor();
    await page.locator('[data-testid="called"] li').first().waitFor();
    // The fonts loaded and two frames drawn: the lists were measured at their final size.
    await page.evaluate(() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))));

    t.equal(await page.locator('[data-testid="queue-name"]').innerText(), "Radiology", "names the queue");
    const before = clock(new Date());
    const shown = await page.locator('[data-testid="clock-time"]').innerText();
    const after = clock(new Date());
    t.ok(shown === before || shown === after, `the clock shows ${shown}, the time in ${ZONE} (${before})`);

    const layout = await page.evaluate(() => {
      const cut: string[] = [];
      for (const ul of document.querySelectorAll<HTMLElement>('[data-testid="waiting"], [data-testid="called"]')) {
        const box = ul.getBoundingClientRect();
        for (const li of ul.querySelectorAll<HTMLElement>("li")) {
          const r = li.getBoundingClientRect();
          const inside = r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
          const onScreen = r.bottom <= window.innerHeight + 0.5 && r.right <= window.innerWidth + 0.5;
          const whole = li.scrollWidth <= li.clientWidth + 1;
          if (!inside || !onScreen || !whole) cut.push(li.innerText);
        }
      }
      for (const el of document.querySelectorAll<HTMLElement>(".more, .queue-name, .clock")) {
        const r = el.getBoundingClientRect();
        if (r.bottom > window.innerHeight + 0.5 || r.right > window.innerWidth + 0.5) cut.push(el.innerText);
      }
      const numbers = (sel: string) => [...document.querySelectorAll<HTMLElement>(`${sel} li`)].map((li) => li.innerText.trim());
      const more = (id: string) => Number(document.querySelector(`[data-testid="${id}-more"]`)?.getAttribute("data-more") ?? 0);
      return {
        cut,
        scrollsX: document.documentElement.scrollWidth > window.innerWidth,
        scrollsY: document.documentElement.scrollHeight > window.innerHeight,
        waiting: numbers('[data-testid="waiting"]'),
        waitingMore: more("waiting"),
        called: [...document.querySelectorAll<HTMLElement>('[data-testid="called"] li .number')].map((n) => n.innerText.trim()),
        calledMore: more("called"),
        text: document.body.innerText,
      };
    });
    t.notOk(layout.scrollsX, "no horizontal scrolling");
    t.notOk(layout.scrollsY, "no vertical scrolling");
    t.same(layout.cut, [], "nothing is cut off: every number inside its list, the rest on screen");
    t.ok(layout.waiting.length > 0, `${layout.waiting.length} waiting numbers shown`);
    t.equal(layout.waiting.length + layout.waitingMore, 30, `the rest is counted in "+${layout.waitingMore} more"`);
    t.same(layout.waiting, waitingInOrder.slice(0, layout.waiting.length), "the next ones in call order");
    t.ok(layout.called.length >= 1, "the latest call is always shown");
    t.equal(layout.called.length + layout.calledMore, 2, "both called numbers shown or counted");
    t.notMatch(layout.text, /p-board/, "ticket numbers only: no patient ids");
    await shot(page, `display-30-waiting-${size}`, true);
  });
}
