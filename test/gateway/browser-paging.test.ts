/// <reference lib="dom" />
// Long lists page with Previous / Next (issue 18, second outside check: lists read from List RPCs
// showed their first page only, or grew without end). Here a patient with 55 appointments (a page of
// "My appointments" is 50, read page by page from ListAppointments) and a desk whose day holds them
// (today's list, merged from every provider, shows 50 at a time), with the keyboard alone.
import t from "tap";
import { createOpenProvider, DESKTOP, focused, LOCAL_TZ, nextSlot, PHONE, overflow, shot, startWebSystem, tabTo } from "../helpers/browser.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";

const sys = await startWebSystem(t);
const { admin, scheduling, open } = sys;
const COUNT = 55;

// Five-minute slots from now on: 55 appointments fit in today (the browsers' zone puts now near noon).
const providerId = await createOpenProvider(sys, "Dr. Many Patients", LOCAL_TZ, 5);
const booked: string[] = [];
let from = new Date(Date.now() + 60_000);
for (let i = 0; i < COUNT; i++) {
  const start = await nextSlot(sys, providerId, from);
  const res = await scheduling.bookAppointment({ requestId: `paging-${i}`, providerId, patientId: "p-many", startTime: timestampFromDate(start) }, admin);
  booked.push(res.appointment!.appointmentId);
  from = new Date(start.getTime() + 60_000);
}

t.test("My appointments: 50 on a page, Next for the other 5, Previous back (keyboard only)", async (t) => {
  const { ctx, page } = await open(await sys.token(["patient"], "p-many"), "/booking", DESKTOP);
  t.teardown(() => ctx.close());
  const rows = page.locator("[data-appointment]");
  await page.locator("#mine-next").waitFor();
  t.equal(await rows.count(), 50, "a first page of 50");
  const first = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-appointment")));
  t.equal(await page.locator('[data-testid="mine-page"]').innerText(), "Page 1");
  t.ok(await page.locator("#mine-prev").isDisabled(), "no page before the first");
  t.ok(await tabTo(page, "#to-mine"), "Tab reaches the link past the week's slots");
  await page.keyboard.press("Enter");
  t.ok(await tabTo(page, "#mine-next", 400), "Tab reaches Next");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("[data-appointment]").length === 5);
  const second = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-appointment")));
  t.same(new Set([...first, ...second]), new Set(booked), "every appointment once over the two pages");
  t.equal((await focused(page)).id, "mine-prev", "on the last page the focus moves to Previous");
  await shot(page, "paging-mine-page-2-1280");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("[data-appointment]").length === 50);
  t.same(await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-appointment"))), first, "Previous: the first page again");
  t.equal((await focused(page)).id, "mine-next", "and the focus on Next");
});

t.test("today's appointments at reception: 50 on a page, Next and Previous, on a desk and a phone", async (t) => {
  for (const [size, viewport] of [["1280x800", DESKTOP], ["390x844", PHONE]] as const) {
    const { ctx, page } = await open(await sys.token(["receptionist"], "desk-paging"), "/reception", viewport);
    const rows = page.locator('[data-testid="today"] [data-appointment]');
    await page.locator("#today-next").waitFor();
    t.equal(await rows.count(), 50, `${size}: a first page of 50`);
    t.equal(await page.locator('[data-testid="today-page"]').innerText(), "Page 1 of 2");
    const first = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-appointment")));
    await page.locator("#today-next").click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="today"] [data-appointment]').length === 5);
    const second = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-appointment")));
    t.same(new Set([...first, ...second]), new Set(booked), `${size}: all ${COUNT} over the two pages`);
    t.notOk((await overflow(page)).scrollsX, `${size}: fits`);
    await shot(page, `paging-today-page-2-${size}`);
    await page.locator("#today-prev").click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="today"] [data-appointment]').length === 50);
    t.pass(`${size}: Previous goes back`);
    await ctx.close();
  }
});
