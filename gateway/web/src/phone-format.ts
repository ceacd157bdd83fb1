// Phone numbers for staff to read (issue 21): the patient service stores and answers E.164
// ("+905321234567"); a desk reads and dials "0532 123 45 67". libphonenumber-js (already the
// server's phone library) formats them from its "min" metadata build, loaded as a separate chunk
// only by the screens that show phones (usePhoneFormat), so the app's main bundle does not grow by
// its ~120 kB: national format for the clinic's own country, international for any other.
import { useEffect, useState } from "react";
import type { parsePhoneNumberFromString } from "libphonenumber-js/min";

/** CLINIC_REGION is the clinic's country, whose numbers are shown as dialled there (the server's PATIENT_DEFAULT_REGION default). */
export const CLINIC_REGION = "TR";

/** PhoneFormat shows an E.164 number for staff. */
export type PhoneFormat = (e164: string) => string;

/** phoneFormatOf is the formatter of a loaded libphonenumber-js: national in `region`, international elsewhere, as stored when the number cannot be read. */
export function phoneFormatOf(parse: typeof parsePhoneNumberFromString, region: string = CLINIC_REGION): PhoneFormat {
  return (e164) => {
    const n = parse(e164);
    if (!n) return e164;
    return n.country === region ? n.formatNational() : n.formatInternational();
  };
}

let loaded: PhoneFormat | undefined;

/** usePhoneFormat gives the phone formatter once its chunk is loaded (numbers as stored until then, or if it cannot load). */
export function usePhoneFormat(): PhoneFormat {
  const [fmt, setFmt] = useState<PhoneFormat | undefined>(() => loaded);
  useEffect(() => {
    if (fmt) return;
    let live = true;
    import("libphonenumber-js/min").then(
      (m) => {
        loaded ??= phoneFormatOf(m.parsePhoneNumberFromString);
        if (live) setFmt(() => loaded);
      },
      () => undefined,
    );
    return () => void (live = false);
  }, []);
  return fmt ?? ((e164) => e164);
}
