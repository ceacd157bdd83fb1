// The five-field cron parser of the in-process backup schedule (UTC).
import t from "tap";
import { CronError, parseCron } from "../../services/backup/cron.js";

const next = (expr: string, after: string) => parseCron(expr).next(new Date(after)).toISOString();

t.test("defaults of the issue: Redis daily 02:00, Postgres daily 02:30", async (t) => {
  t.equal(next("0 2 * * *", "2026-01-05T01:59:59Z"), "2026-01-05T02:00:00.000Z");
  t.equal(next("0 2 * * *", "2026-01-05T02:00:00Z"), "2026-01-06T02:00:00.000Z", "strictly after");
  t.equal(next("30 2 * * *", "2026-01-05T02:00:00Z"), "2026-01-05T02:30:00.000Z");
  t.equal(next("30 2 * * *", "2026-12-31T03:00:00Z"), "2027-01-01T02:30:00.000Z", "over a year end");
});

t.test("lists, ranges, steps, names, Sunday as 0 or 7", async (t) => {
  t.equal(next("*/15 * * * *", "2026-01-05T10:07:00Z"), "2026-01-05T10:15:00.000Z");
  t.equal(next("0-30/10 9 * * *", "2026-01-05T09:21:00Z"), "2026-01-05T09:30:00.000Z");
  t.equal(next("5 4 * * sun", "2026-01-05T00:00:00Z"), "2026-01-11T04:05:00.000Z", "2026-01-05 is a Monday");
  t.equal(next("5 4 * * 7", "2026-01-05T00:00:00Z"), "2026-01-11T04:05:00.000Z");
  t.equal(next("0 0 1,15 * *", "2026-01-02T00:00:00Z"), "2026-01-15T00:00:00.000Z");
  t.equal(next("0 0 29 feb *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z", "leap day");
  t.equal(next("0 12 1 * mon", "2026-01-02T00:00:00Z"), "2026-01-05T12:00:00.000Z", "both day fields: either matches");
  t.equal(next("0 9-17 * * mon-fri", "2026-01-09T17:30:00Z"), "2026-01-12T09:00:00.000Z", "Friday evening to Monday");
});

t.test("malformed expressions say what is wrong", async (t) => {
  t.throws(() => parseCron("0 2 * *"), CronError);
  t.throws(() => parseCron("0 2 * *"), { message: /must have 5 fields/ });
  t.throws(() => parseCron("60 2 * * *"), { message: /minute 60 is outside 0-59/ });
  t.throws(() => parseCron("0 24 * * *"), { message: /hour 24/ });
  t.throws(() => parseCron("0 2 * * xyz"), { message: /day of week "xyz" is not a number/ });
  t.throws(() => parseCron("*/0 * * * *"), { message: /step/ });
  t.throws(() => parseCron("5-1 * * * *"), { message: /backwards/ });
  t.throws(() => parseCron("0 0 31 feb *").next(new Date("2026-01-01T00:00:00Z")), { message: /never matches/ });
});
