/** Clock tells the time; tests pass a fake one. */
export interface Clock {
  /** now is the current instant. */
  now(): Date;
}

/** systemClock is the real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** createFakeClock returns a clock that only moves when told, for tests. */
export function createFakeClock(start = new Date("2026-01-05T08:00:00Z")): Clock & { advance(ms: number): void; set(d: Date): void } {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
    set: (d: Date) => {
      t = d.getTime();
    },
  };
}
