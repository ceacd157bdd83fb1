// Local dates and times of day in a queue's IANA zone: ticket numbers restart at local midnight, and
// what staff read says times as the clinic's clock shows them.

const dayFormats = new Map<string, Intl.DateTimeFormat>();
const timeFormats = new Map<string, Intl.DateTimeFormat>();

function cached(cache: Map<string, Intl.DateTimeFormat>, timeZone: string, make: () => Intl.DateTimeFormat): Intl.DateTimeFormat {
  let f = cache.get(timeZone);
  if (!f) {
    f = make();
    cache.set(timeZone, f);
  }
  return f;
}

/** localDay is the date "YYYY-MM-DD" of an instant in an IANA zone. */
export function localDay(at: Date, timeZone: string): string {
  return cached(dayFormats, timeZone, () => new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })).format(at);
}

/** localTimeOfDay is the time of day "HH:MM" (24-hour) of an instant in an IANA zone. */
export function localTimeOfDay(at: Date, timeZone: string): string {
  const f = cached(timeFormats, timeZone, () => new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }));
  return f.format(at);
}
