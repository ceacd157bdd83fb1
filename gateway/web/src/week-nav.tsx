// The week the booking paths show: which week (0 is the current one, from now), its bounds in a zone,
// and the Earlier / Later row that moves it, with the zone named when the browser's differs.
import { useMemo, useState, type ReactNode } from "react";
import { differsHere, fmtDayMonth, zoneLabel, zoneMidnight } from "./time-format.js";

/** Week is a week of free slots: its number and its bounds (from now at the earliest). */
export interface Week {
  /** week is 0 for the current week, 1 for the next, … */
  week: number;
  /** setWeek moves to another week. */
  setWeek: (f: (w: number) => number) => void;
  /** from is the start: the week's local midnight, or now when later. */
  from: Date;
  /** to is the next week's local midnight. */
  to: Date;
}

/** useWeek keeps the week shown and its bounds in `zone`. */
export function useWeek(zone: string | undefined): Week {
  const [week, setWeek] = useState(0);
  const from = useMemo(() => new Date(Math.max(Date.now(), zoneMidnight(zone, week * 7).getTime())), [week, zone]);
  const to = useMemo(() => zoneMidnight(zone, (week + 1) * 7), [week, zone]);
  return { week, setWeek, from, to };
}

/** WeekNav is the Earlier / Later row of a week in `zone`; `children` come after Later, `end` after the zone's name. */
export function WeekNav({ w, zone, children, end }: { w: Week; zone: string | undefined; children?: ReactNode; end?: ReactNode }) {
  return (
    <div className="row" role="group" aria-label="Week">
      <button type="button" onClick={() => w.setWeek((n) => n - 1)} disabled={w.week === 0}>
        ← Earlier
      </button>
      <span aria-live="polite" className="week-label">
        {fmtDayMonth(w.from, zone)} – {fmtDayMonth(new Date(w.to.getTime() - 1), zone)}
      </span>
      <button type="button" onClick={() => w.setWeek((n) => n + 1)}>
        Later →
      </button>
      {children}
      {zone && differsHere(new Date(), zone) && <span className="muted small week-label">All times in {zoneLabel(zone)}.</span>}
      {end}
    </div>
  );
}
