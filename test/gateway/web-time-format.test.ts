// Every time the web app shows is on a 24-hour clock, with dates in the user's language (Turkish or
// English), and goes through gateway/web/src/time-format.ts (issue 18, second outside check: "2:30 PM"
// in an English browser, each screen formatting times its own way). time-format.ts uses no browser API
// but `navigator`, so it runs here in Node; the browser side is test/gateway/browser-times.test.ts.
import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { dateLocale, fmtDateTime, fmtDateTimeSeconds, fmtTime, fmtTimeSeconds } from "../../gateway/web/src/time-format.js";

const SRC = "gateway/web/src";

t.test("no screen formats a date or time itself: time-format.ts is the one place", async (t) => {
  const files = (await readdir(SRC)).filter((f) => /\.tsx?$/.test(f) && f !== "time-format.ts");
  t.ok(files.length > 5, `${files.length} source files read`);
  const found: string[] = [];
  for (const f of files) {
    const lines = (await readFile(path.join(SRC, f), "utf8")).split("\n");
    lines.forEach((line, i) => {
      if (/\.toLocale(Date|Time)?String\(|new Intl\.DateTimeFormat\(|Intl\.DateTimeFormat\([^)]/.test(line)) found.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  t.same(found, [], "no toLocale*String or Intl.DateTimeFormat outside time-format.ts");
});

t.test("the date language is the browser's first of Turkish and English; English otherwise", async (t) => {
  t.equal(dateLocale(["tr-TR", "en-US"]), "tr-TR");
  t.equal(dateLocale(["tr"]), "tr-TR");
  t.equal(dateLocale(["en-US", "tr-TR"]), "en-GB", "English first: English dates (day before month, as in Türkiye)");
  t.equal(dateLocale(["de-DE", "tr-TR"]), "tr-TR", "the first language the app writes dates in");
  t.equal(dateLocale(["de-DE", "fr-FR"]), "en-GB", "none of them: English");
  t.equal(dateLocale([]), "en-GB");
});

t.test("times are on a 24-hour clock, to the minute or the second", async (t) => {
  const afternoon = new Date("2026-12-05T14:05:07Z");
  const midnight = new Date("2026-12-05T00:30:00Z");
  t.equal(fmtTime(afternoon, "UTC"), "14:05");
  t.equal(fmtTime(midnight, "UTC"), "00:30", "after midnight is 00, never 24 or 12");
  t.equal(fmtTime(afternoon, "Europe/Istanbul"), "17:05", "in the zone asked for");
  t.equal(fmtTimeSeconds(afternoon, "UTC"), "14:05:07");
  t.equal(fmtDateTime(afternoon, "UTC"), "5 Dec 2026, 14:05");
  t.equal(fmtDateTimeSeconds(afternoon, "UTC"), "5 Dec 2026, 14:05:07");
  t.equal(fmtTime(undefined), "–");
});
