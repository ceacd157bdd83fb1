// occurrencesOf, pure: every occurrence of a series falls on its local date at the first one's local
// wall-clock time, in zones with an hour's DST change (America/New_York), a 30-minute one
// (Australia/Lord_Howe) and none (Europe/Istanbul); a local time the clocks skip has no start, a
// repeated one takes its first instant; count and until bound the dates.
import t from "tap";
import { occurrencesOf } from "../../services/scheduling/series.js";
import { addDays, instantsOfWall, localDateOf, wallOf, wallOfDate } from "../../services/scheduling/zone-time.js";
import { seededRandom as prng } from "../helpers/seeded-random.js";

const MIN = 60_000;
const localTime = (ms: number, zone: string) => new Date(wallOf(ms, zone) - wallOfDate(localDateOf(ms, zone))).toISOString().slice(11, 16);

t.test("Lord Howe: 02:15 does not exist on 3 October 2027 (02:00 -> 02:30); 01:45 on 4 April 2027 is its first occurrence", async (t) => {
  const zone = "Australia/Lord_Howe";
  const gap = occurrencesOf(Date.parse("2027-09-30T15:45:00Z"), { stepDays: 1, count: 5, until: undefined }, zone);
  t.same(gap.map((o) => o.localDate), ["2027-10-01", "2027-10-02", "2027-10-03", "2027-10-04", "2027-10-05"]);
  t.same(gap.map((o) => o.start === undefined), [false, false, true, false, false], "only 3 October has no 02:15");
  t.same(gap.filter((o) => o.start !== undefined).map((o) => localTime(o.start!, zone)), ["02:15", "02:15", "02:15", "02:15"]);
  const overlap = occurrencesOf(Date.parse("2027-04-01T14:45:00Z"), { stepDays: 1, count: 3, until: undefined }, zone);
  const third = instantsOfWall(Date.parse("2027-04-04T01:45:00Z"), zone);
  t.equal(third.length, 2, "01:45 happens twice on 4 April");
  t.equal(overlap[2].start, third[0], "the series takes the first");
});

t.test("Istanbul has no DST: every occurrence exists, same UTC time", async (t) => {
  const o = occurrencesOf(Date.parse("2027-03-01T06:00:00Z"), { stepDays: 7, count: 40, until: undefined }, "Europe/Istanbul");
  t.equal(o.length, 40);
  t.same(new Set(o.map((x) => new Date(x.start!).toISOString().slice(11))), new Set(["06:00:00.000Z"]));
});

t.test("until bounds the dates, inclusive; more than 52 stops at 53 for the caller to refuse", async (t) => {
  const o = occurrencesOf(Date.parse("2027-01-04T14:00:00Z"), { stepDays: 14, count: undefined, until: "2027-02-15" }, "America/New_York");
  t.same(o.map((x) => x.localDate), ["2027-01-04", "2027-01-18", "2027-02-01", "2027-02-15"]);
  t.same(o.map((x) => x.index), [1, 2, 3, 4]);
  t.equal(occurrencesOf(Date.parse("2027-01-04T14:00:00Z"), { stepDays: 1, count: undefined, until: "2028-01-01" }, "America/New_York").length, 53);
  t.same(occurrencesOf(Date.parse("2027-01-04T14:00:00Z"), { stepDays: 1, count: undefined, until: "2027-01-03" }, "America/New_York"), [], "until before the first date: none");
});

t.test("random zones, times and steps: each occurrence is its date at the first one's local time, or none exists", async (t) => {
  const rnd = prng(7);
  const zones = ["America/New_York", "Australia/Lord_Howe", "Europe/Istanbul", "Europe/London", "America/Sao_Paulo"];
  let checked = 0;
  for (let run = 0; run < 200; run++) {
    const zone = zones[Math.floor(rnd() * zones.length)];
    const first = Date.parse("2026-01-01T00:00:00Z") + Math.floor(rnd() * 700) * 24 * 60 * MIN + Math.floor(rnd() * 96) * 15 * MIN;
    const step = 1 + Math.floor(rnd() * 10);
    const occ = occurrencesOf(first, { stepDays: step, count: 52, until: undefined }, zone);
    const date0 = localDateOf(first, zone);
    const time0 = wallOf(first, zone) - wallOfDate(date0);
    for (const o of occ) {
      const wall = wallOfDate(o.localDate) + time0;
      if (o.localDate !== addDays(date0, (o.index - 1) * step)) t.fail(`${zone}: occurrence ${o.index} on ${o.localDate}`);
      if (o.start === undefined) {
        if (instantsOfWall(wall, zone).length !== 0) t.fail(`${zone} ${o.localDate}: skipped although the time exists`);
      } else if (o.index > 1 && o.start !== instantsOfWall(wall, zone)[0]) {
        t.fail(`${zone} ${o.localDate}: not the first instant of the local time`);
      }
      checked++;
    }
  }
  t.equal(checked, 200 * 52, "every occurrence checked");
});
