import { ConfigError, parseDurationMs } from "../runtime/config.js";
import { canonicalTimeZone } from "../runtime/request/validation.js";

/** SchedulingOptions are the scheduling service's own settings (constructor options; SCHEDULING_* env vars in production). */
export interface SchedulingOptions {
  /** offerHoldMs is how long a waitlist offer (a PROPOSED appointment) is held (default 15 min; SCHEDULING_OFFER_HOLD). */
  offerHoldMs: number;
  /** lockWaitMs is how long a booking waits for the provider's lock before ABORTED (default 2 s; SCHEDULING_LOCK_WAIT). */
  lockWaitMs: number;
  /** lockTtlMs is the provider lock's lease time, extended while held (default 10 s). */
  lockTtlMs: number;
  /**
   * useLock: false books without the provider lock, the exclusion constraints alone deciding
   * (SCHEDULING_BOOKING_LOCK=off; for the test that proves the constraint holds by itself, and for
   * diagnosis; never in production).
   */
  useLock: boolean;
  /** changeRetentionMs is how long WatchAppointments changes stay resumable (default 1 h). */
  changeRetentionMs: number;
  /** requestKeyRetentionMs is how long requestIds are remembered (default 24 h). */
  requestKeyRetentionMs: number;
  /** offerSweepIntervalMs is how often lapsed offers are passed on (default 5 s; 0 disables the timer). */
  offerSweepIntervalMs: number;
  /** pollIntervalMs is WatchAppointments' safety-net poll, and the sweep numbering location changes a process left unnumbered (default 1 s). */
  pollIntervalMs: number;
  /** listen: false turns the LISTEN connection off (default on with a database URL). */
  listen: boolean;
  /** bookingHorizonMs: no appointment may start later than this after now (default 365 days; SCHEDULING_BOOKING_HORIZON). */
  bookingHorizonMs: number;
  /**
   * checkInEarlyMs is how long before its start an appointment's check-in opens (default 60 min;
   * QUEUE_CHECKIN_EARLY, the one name the queue service reads for the same window); check-in closes at
   * the appointment's end.
   */
  checkInEarlyMs: number;
  /**
   * maxUpcomingPerPatient is how many appointments a patient may hold that have not ended yet (BOOKED
   * or CHECKED_IN) when booking or accepting an offer themselves (default 5; 0: no limit;
   * SCHEDULING_MAX_UPCOMING_PER_PATIENT). Staff booking for a patient are not limited.
   */
  maxUpcomingPerPatient: number;
  /**
   * maxWaitlistPerPatient is how many active waitlist entries (waiting, or with an open offer, whose
   * window has not ended; all providers) a patient may hold when joining a waitlist themselves
   * (default 3; 0: no limit; SCHEDULING_MAX_WAITLIST_PER_PATIENT). Staff adding a patient are not limited.
   */
  maxWaitlistPerPatient: number;
  /** holdTtlMs is how long HoldSlot keeps a slot for a patient (default 5 min; SCHEDULING_HOLD_TTL). */
  holdTtlMs: number;
  /** maxHoldsPerPatient is how many unexpired holds one patient may have at once, whoever took them (default 3; 0: no limit; SCHEDULING_MAX_HOLDS_PER_PATIENT). */
  maxHoldsPerPatient: number;
  /**
   * defaultTimeZone is the `default` location's IANA zone while no administrator has changed that
   * location (default UTC; SCHEDULING_DEFAULT_TIME_ZONE), set when the service starts.
   */
  defaultTimeZone: string;
}

/** DEFAULT_SCHEDULING_OPTIONS are the defaults of SchedulingOptions. */
export const DEFAULT_SCHEDULING_OPTIONS: SchedulingOptions = {
  offerHoldMs: 15 * 60_000,
  lockWaitMs: 2_000,
  lockTtlMs: 10_000,
  useLock: true,
  changeRetentionMs: 60 * 60_000,
  requestKeyRetentionMs: 24 * 60 * 60_000,
  offerSweepIntervalMs: 5_000,
  pollIntervalMs: 1_000,
  listen: true,
  bookingHorizonMs: 365 * 24 * 3_600_000,
  checkInEarlyMs: 60 * 60_000,
  maxUpcomingPerPatient: 5,
  maxWaitlistPerPatient: 3,
  holdTtlMs: 5 * 60_000,
  maxHoldsPerPatient: 3,
  defaultTimeZone: "UTC",
};

/**
 * loadSchedulingOptions reads SCHEDULING_OFFER_HOLD, SCHEDULING_HOLD_TTL, SCHEDULING_LOCK_WAIT, SCHEDULING_CHANGE_RETENTION,
 * SCHEDULING_BOOKING_HORIZON, QUEUE_CHECKIN_EARLY (durations such as "15m"), SCHEDULING_BOOKING_LOCK
 * ("on" or "off"), SCHEDULING_MAX_UPCOMING_PER_PATIENT, SCHEDULING_MAX_WAITLIST_PER_PATIENT and
 * SCHEDULING_MAX_HOLDS_PER_PATIENT (0-1000), SCHEDULING_DEFAULT_TIME_ZONE (an IANA zone);
 * throws ConfigError naming every bad one.
 */
export function loadSchedulingOptions(env: NodeJS.ProcessEnv): SchedulingOptions {
  const problems: string[] = [];
  const opts: SchedulingOptions = { ...DEFAULT_SCHEDULING_OPTIONS };
  const duration = (name: string, apply: (ms: number) => void, min: number, max: number) => {
    const raw = env[name]?.trim();
    if (!raw) return;
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms < min || ms > max) problems.push(`${name}: expected a duration between ${min} ms and ${max} ms such as "15m", got ${JSON.stringify(raw)}`);
    else apply(ms);
  };
  duration("SCHEDULING_OFFER_HOLD", (ms) => (opts.offerHoldMs = ms), 1_000, 7 * 24 * 3_600_000);
  duration("SCHEDULING_HOLD_TTL", (ms) => (opts.holdTtlMs = ms), 10_000, 60 * 60_000);
  duration("SCHEDULING_LOCK_WAIT", (ms) => (opts.lockWaitMs = ms), 0, 60_000);
  duration("SCHEDULING_CHANGE_RETENTION", (ms) => (opts.changeRetentionMs = ms), 60_000, 7 * 24 * 3_600_000);
  duration("SCHEDULING_BOOKING_HORIZON", (ms) => (opts.bookingHorizonMs = ms), 24 * 3_600_000, 10 * 366 * 24 * 3_600_000);
  // The same bounds as the queue service's, which reads this variable for the same window.
  duration("QUEUE_CHECKIN_EARLY", (ms) => (opts.checkInEarlyMs = ms), 0, 24 * 3_600_000);
  const lock = env["SCHEDULING_BOOKING_LOCK"]?.trim();
  if (lock) {
    if (lock === "on" || lock === "off") opts.useLock = lock === "on";
    else problems.push(`SCHEDULING_BOOKING_LOCK: expected "on" or "off", got ${JSON.stringify(lock)}`);
  }
  const limit = (name: string, apply: (n: number) => void) => {
    const raw = env[name]?.trim();
    if (!raw) return;
    const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
    if (Number.isInteger(n) && n <= 1000) apply(n);
    else problems.push(`${name}: expected a whole number from 0 (no limit) to 1000, got ${JSON.stringify(raw)}`);
  };
  limit("SCHEDULING_MAX_UPCOMING_PER_PATIENT", (n) => (opts.maxUpcomingPerPatient = n));
  limit("SCHEDULING_MAX_WAITLIST_PER_PATIENT", (n) => (opts.maxWaitlistPerPatient = n));
  limit("SCHEDULING_MAX_HOLDS_PER_PATIENT", (n) => (opts.maxHoldsPerPatient = n));
  const zone = env["SCHEDULING_DEFAULT_TIME_ZONE"]?.trim();
  if (zone) {
    const canonical = canonicalTimeZone(zone);
    if (canonical) opts.defaultTimeZone = canonical;
    else problems.push(`SCHEDULING_DEFAULT_TIME_ZONE: expected an IANA time zone such as "Europe/Istanbul", got ${JSON.stringify(zone)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join("; "));
  return opts;
}
