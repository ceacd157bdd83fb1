// Every date and time the web app shows is formatted here, and nowhere else: on a 24-hour clock
// (hourCycle h23) whatever the browser's locale, as a clinic reads times ("14:30", never "2:30 PM"),
// and with dates in the user's language, Turkish or English, from the browser's preferred languages
// (a Turkish browser reads "5 Ara 2026 14:30", any other "5 Dec 2026, 14:30"). Each call names the
// zone it shows: the provider's, the queue's, or the browser's when none is given. Also here: the
// local day of a zone as instants, for the "today" and "this week" ranges the screens ask the server for.

/** LOCALES are the languages dates are written in, by the language's code; the first is the default. */
const LOCALES: Record<string, string> = { en: "en-GB", tr: "tr-TR" };

/** dateLocale is the locale of the first of `languages` (the browser's, in order of preference) that the app writes dates in. */
export function dateLocale(languages: readonly string[] = typeof navigator === "undefined" ? [] : navigator.languages ?? [navigator.language]): string {
  for (const tag of languages) {
    const locale = LOCALES[tag.toLowerCase().split("-")[0]];
    if (locale) return locale;
  }
  return LOCALES.en;
}

/** LOCALE is the locale of this page's dates, read once at load. */
const LOCALE = dateLocale();

const formats = new Map<string, Intl.DateTimeFormat>();

/** formatter caches one Intl.DateTimeFormat per option set and zone: a list of thousands of rows formats fast. */
function formatter(options: Intl.DateTimeFormatOptions, timeZone: string | undefined): Intl.DateTimeFormat {
  const key = `${JSON.stringify(options)}|${timeZone ?? ""}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(LOCALE, { ...options, timeZone: timeZone || undefined });
    formats.set(key, f);
  }
  return f;
}

const CLOCK = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } as const;
const CLOCK_SECONDS = { ...CLOCK, second: "2-digit" } as const;
const DATE = { day: "numeric", month: "short", year: "numeric" } as const;

/** fmtTime shows a time of day, "09:05", in `timeZone` (the browser's when unset); "–" for none. */
export function fmtTime(d: Date | undefined, timeZone?: string): string {
  return d ? formatter(CLOCK, timeZone).format(d) : "–";
}

/** fmtTimeSeconds shows a time of day with seconds, "09:05:07". */
export function fmtTimeSeconds(d: Date | undefined, timeZone?: string): string {
  return d ? formatter(CLOCK_SECONDS, timeZone).format(d) : "–";
}

/** fmtDateTime shows a date and time, "5 Dec 2026, 09:05". */
export function fmtDateTime(d: Date | undefined, timeZone?: string): string {
  return d ? formatter({ ...DATE, ...CLOCK }, timeZone).format(d) : "–";
}

/** fmtDateTimeSeconds shows a date and time to the second, "5 Dec 2026, 09:05:07": rows minutes apart stay apart. */
export function fmtDateTimeSeconds(d: Date | undefined, timeZone?: string): string {
  return d ? formatter({ ...DATE, ...CLOCK_SECONDS }, timeZone).format(d) : "–";
}

/** fmtDay shows a day as a column heading, "Sat 5 Dec". */
export function fmtDay(d: Date, timeZone?: string): string {
  return formatter({ weekday: "short", day: "numeric", month: "short" }, timeZone).format(d);
}

/** fmtDayMonth shows a day briefly, "5 Dec". */
export function fmtDayMonth(d: Date, timeZone?: string): string {
  return formatter({ day: "numeric", month: "short" }, timeZone).format(d);
}

/** fmtBirthDate shows a calendar date "YYYY-MM-DD" (a date of birth: no zone) as "7 Mar 1985"; the text itself when it is not a date. */
export function fmtBirthDate(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(date) && !Number.isNaN(d.getTime()) ? formatter(DATE, "UTC").format(d) : date;
}

/** fmtLongDate shows a day in words, "Saturday 5 December". */
export function fmtLongDate(d: Date, timeZone?: string): string {
  return formatter({ weekday: "long", day: "numeric", month: "long" }, timeZone).format(d);
}

/** zoneLabel names an IANA zone for people: "Europe/Istanbul" -> "Istanbul time". */
export function zoneLabel(timeZone: string): string {
  return `${timeZone.split("/").pop()!.replace(/_/g, " ")} time`;
}

/** differsHere tells whether `timeZone`'s clock shows another date or time than the browser's at `d`. */
export function differsHere(d: Date, timeZone: string | undefined): boolean {
  return Boolean(timeZone) && fmtDateTime(d, timeZone) !== fmtDateTime(d);
}

/**
 * fmtInZone shows a date and time in `timeZone` (the provider's or the queue's), naming the zone when
 * the browser's clock would show another time: a patient abroad sees the clinic's time, labelled.
 */
export function fmtInZone(d: Date | undefined, timeZone: string | undefined): string {
  if (!d) return "–";
  const there = fmtDateTime(d, timeZone);
  return differsHere(d, timeZone) ? `${there} (${zoneLabel(timeZone!)})` : there;
}

/** fmtTimeInZone shows a time of day in `timeZone`, naming the zone when the browser's clock differs. */
export function fmtTimeInZone(d: Date | undefined, timeZone: string | undefined): string {
  if (!d) return "–";
  const there = fmtTime(d, timeZone);
  return differsHere(d, timeZone) ? `${there} (${zoneLabel(timeZone!)})` : there;
}

/** localDate is the date of `d` in `timeZone` as "YYYY-MM-DD" (a key, never shown). */
export function localDate(d: Date, timeZone?: string): string {
  return d.toLocaleDateString("en-CA", { timeZone: timeZone || undefined });
}

/**
 * zoneMidnight is the instant of midnight, in `timeZone` (the browser's when unset), starting the day
 * `days` days after today there: "today" and "this week" are the provider's, whatever the browser's zone.
 */
export function zoneMidnight(timeZone: string | undefined, days: number, now = new Date()): Date {
  if (!timeZone) {
    const d = new Date(now);
    d.setHours(0, 0, 0, 0);
    d.setDate(d.getDate() + days);
    return d;
  }
  const [y, m, d] = localDate(now, timeZone).split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d + days); // the wanted wall-clock midnight, read as if it were UTC
  // The zone's offset at instant t: its wall clock at t, read as UTC, minus t.
  const offset = (t: number) => Date.parse(new Date(t).toLocaleString("sv-SE", { timeZone, hourCycle: "h23" }).replace(" ", "T") + "Z") - t;
  const first = wall - offset(wall);
  return new Date(wall - offset(first)); // again at the first guess, for a DST switch in between
}
