// RequestValidator alone (issue 18, defects 5 and 12): instants and durations are taken exactly or
// refused (a nanosecond was silently truncated: 11:00:00.000001Z booked 11:00; "0.0000001s" read as
// 0), appointment starts must be whole minutes, durations are described in words ("must be more than
// 0h" became "longer than zero"), and time zone names are accepted in any letter case and kept under
// their canonical name ("europe/ISTANBUL" was stored as sent; "utc" and EST5EDT were refused).
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { canonicalTimeZone, describeDuration, RequestValidator, type DurationRule } from "../../../services/runtime/request/validation.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const dur = (seconds: number, nanos = 0) => create(DurationSchema, { seconds: BigInt(seconds), nanos });
const at = (iso: string, nanos = 0) => create(TimestampSchema, { seconds: BigInt(Date.parse(iso) / 1000), nanos });

t.test("durations: exact or refused, said in words", async (t) => {
  const cases: [string, DurationRule, ReturnType<typeof dur>, number | undefined, string | undefined, string | undefined][] = [
    ["whole minutes", { multipleOfMs: MIN }, dur(900), 15 * MIN, undefined, undefined],
    ["milliseconds", {}, dur(1, 500_000_000), 1500, undefined, undefined],
    ["below a millisecond", {}, dur(0, 100), undefined, "TOO_PRECISE", 'must be given to the millisecond at most: finer fractions of a second are not kept (got "0.0000001s")'],
    ["a nanosecond over", { maxMs: HOUR }, dur(30, 1), undefined, "TOO_PRECISE", undefined],
    ["zero where more is needed", { minMs: 0, minExclusive: true }, dur(0), undefined, "OUT_OF_RANGE", 'must be longer than zero (got "0s")'],
    ["100 ns is more than zero but not a whole minute", { minMs: 0, minExclusive: true, multipleOfMs: MIN }, dur(0, 100), undefined, "NOT_A_MULTIPLE", 'must be a whole number of minutes (got "0.0000001s")'],
    ["negative buffer", { minMs: 0 }, dur(-60), undefined, "OUT_OF_RANGE", 'must not be negative (got "-60s")'],
    ["negative, no rule", {}, dur(0, -1_000_000), undefined, "OUT_OF_RANGE", 'must not be negative (got "-0.001s")'],
    ["too short", { minMs: 5 * MIN }, dur(60), undefined, "OUT_OF_RANGE", 'must be at least 5 minutes (got "60s")'],
    ["too long", { maxMs: 8 * HOUR }, dur(9 * 3600), undefined, "OUT_OF_RANGE", 'must be at most 8 hours (got "32400s")'],
    ["half-minute", { multipleOfMs: MIN }, dur(90), undefined, "NOT_A_MULTIPLE", 'must be a whole number of minutes (got "90s")'],
    ["a multiple of 15 minutes", { multipleOfMs: 15 * MIN }, dur(600), undefined, "NOT_A_MULTIPLE", 'must be a whole multiple of 15 minutes (got "600s")'],
    ["exactly the maximum", { maxMs: HOUR }, dur(3600), HOUR, undefined, undefined],
  ];
  for (const [name, rule, value, ms, reason, description] of cases) {
    const v = new RequestValidator();
    const got = v.duration("d", value, rule);
    t.equal(got, ms, `${name}: value`);
    t.same(v.violations.map((x) => x.reason), reason ? [reason] : [], `${name}: reason`);
    if (description) t.equal(v.violations[0]?.description, description, `${name}: says`);
    for (const x of v.violations) t.notMatch(x.description.replace(/\(got "[^"]*"\)/, ""), /\b\d+(h|m|s|ms)\b/, `${name}: no unit abbreviations in "${x.description}"`);
  }
  t.equal(describeDuration(0), "0 minutes");
  t.equal(describeDuration(90 * MIN), "1 hour 30 minutes");
  t.equal(describeDuration(1000), "1 second");
  t.equal(describeDuration(250), "250 milliseconds");
  t.equal(describeDuration(14 * 24 * HOUR), "336 hours");
});

t.test("instants: whole milliseconds, and whole minutes where an appointment starts", async (t) => {
  const check = (value: ReturnType<typeof at>, opts: { wholeMinute?: boolean } = {}) => {
    const v = new RequestValidator();
    const d = v.timestamp("startTime", value, opts);
    return [d?.toISOString(), v.violations.map((x) => x.reason)];
  };
  t.same(check(at("2026-12-06T11:00:00Z", 1000)), [undefined, ["TOO_PRECISE"]], "a microsecond is not dropped");
  t.same(check(at("2026-12-06T11:00:00Z", 1)), [undefined, ["TOO_PRECISE"]], "a nanosecond is not dropped");
  t.same(check(at("2026-12-06T11:00:00Z", 5_000_000)), ["2026-12-06T11:00:00.005Z", []], "milliseconds are kept");
  t.same(check(at("2026-12-06T11:00:00Z"), { wholeMinute: true }), ["2026-12-06T11:00:00.000Z", []]);
  t.same(check(at("2026-12-06T11:00:00Z", 500_000_000), { wholeMinute: true }), [undefined, ["NOT_WHOLE_MINUTE"]], "11:00:00.5 is no start time");
  t.same(check(at("2026-12-06T11:00:30Z"), { wholeMinute: true }), [undefined, ["NOT_WHOLE_MINUTE"]]);
  t.same(check(at("2026-12-06T11:00:00Z", 1), { wholeMinute: true }), [undefined, ["NOT_WHOLE_MINUTE"]]);
  const v = new RequestValidator();
  v.timestamp("startTime", undefined);
  t.equal(v.violations[0].description, 'is required: a date and time such as "2026-01-05T09:00:00Z"');
});

t.test("time zones: any letter case, kept under the canonical name", async (t) => {
  const cases: [string, string | undefined][] = [
    ["Europe/Istanbul", "Europe/Istanbul"],
    ["europe/ISTANBUL", "Europe/Istanbul"],
    ["UTC", "UTC"],
    ["utc", "UTC"],
    ["Etc/UTC", "UTC"],
    ["America/New_York", "America/New_York"],
    ["US/Eastern", "America/New_York"],
    ["EST5EDT", "America/New_York"],
    ["Etc/GMT+3", "Etc/GMT+3"],
    ["Asia/Istanbul", "Europe/Istanbul"],
    ["Asia/Kolkata", "Asia/Kolkata"],
    ["asia/calcutta", "Asia/Kolkata"],
    ["Europe/Kyiv", "Europe/Kyiv"],
    ["Europe/Kiev", "Europe/Kyiv"],
    ["America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"],
    ["Mars/Olympus", undefined],
    ["", undefined],
    ["Europe/Istanbul ", undefined],
    ["+03:00", undefined],
    ["../etc/passwd", undefined],
    ["x".repeat(65), undefined],
  ];
  for (const [zone, want] of cases) t.equal(canonicalTimeZone(zone), want, JSON.stringify(zone));
  // Every zone this runtime lists is canonical under its own name or one that names the same zone.
  for (const zone of Intl.supportedValuesOf("timeZone")) {
    const canonical = canonicalTimeZone(zone);
    if (canonical === undefined) t.fail(`${zone} is refused`);
    else if (canonicalTimeZone(canonical) !== canonical) t.fail(`${zone} -> ${canonical} is not canonical itself`);
    else if (new Intl.DateTimeFormat("en-US", { timeZone: canonical }).resolvedOptions().timeZone !== new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone) {
      t.fail(`${zone} -> ${canonical} is another zone`);
    }
  }
  const v = new RequestValidator();
  t.equal(v.timeZone("timeZone", "europe/istanbul"), "Europe/Istanbul");
  t.equal(v.timeZone("timeZone", "Mars/Olympus"), undefined);
  t.same(v.violations.map((x) => [x.field, x.reason]), [["timeZone", "UNKNOWN_TIME_ZONE"]]);
});
