// redlock 5's own typings are not reachable under NodeNext resolution (its package.json "exports" has
// no "types") and target ioredis 4; the benchmark needs only this much of it.
declare module "redlock" {
  /** Redlock acquires a lock on a majority of the given Redis clients. */
  export default class Redlock {
    constructor(clients: unknown[], settings?: { retryCount?: number; retryDelay?: number; driftFactor?: number });
    acquire(resources: string[], durationMs: number): Promise<{ release(): Promise<unknown> }>;
  }
}
