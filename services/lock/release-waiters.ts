/** ReleaseWatch counts the release notices of one resource while waiting acquires of this process use it. */
export interface ReleaseWatch {
  /** refs is how many waiting acquires watch the resource. */
  refs: number;
  /** notices is how many release notices arrived since the first of them started watching. */
  notices: number;
}

/**
 * ReleaseWaiters lets the waiting acquires of this process sleep until a lease on their resource is
 * released (a backend's release notice: pub/sub or in-process) or their fallback poll is due.
 */
export class ReleaseWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #watched = new Map<string, ReleaseWatch>();

  /** watch starts counting the release notices of `resource`; pair it with unwatch. */
  watch(resource: string): ReleaseWatch {
    let w = this.#watched.get(resource);
    if (!w) this.#watched.set(resource, (w = { refs: 0, notices: 0 }));
    w.refs++;
    return w;
  }

  /** unwatch ends one watch of `resource` started by watch. */
  unwatch(resource: string, watch: ReleaseWatch): void {
    if (--watch.refs === 0 && this.#watched.get(resource) === watch) this.#watched.delete(resource);
  }

  /** wait resolves at the next release notice of `resource`, after `ms`, or when `signal` aborts, whichever comes first. */
  wait(resource: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(resource);
      if (!set) this.#waiters.set(resource, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(resource) === waiters) this.#waiters.delete(resource);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      waiters.add(done);
    });
  }

  /** notice takes a release notice of `resource`: it counts for its watches and wakes its waiters. */
  notice(resource: string): void {
    const watch = this.#watched.get(resource);
    if (watch) watch.notices++;
    const set = this.#waiters.get(resource);
    if (!set) return;
    // Oldest waiter first, the others a little later: roughly FIFO without a thundering herd.
    let k = 0;
    for (const w of [...set]) {
      if (k === 0) w();
      else setTimeout(w, 2 * k).unref();
      k++;
    }
  }

  /** wakeAll wakes every waiter at once (the manager is closing). */
  wakeAll(): void {
    for (const set of this.#waiters.values()) for (const w of set) w();
  }
}
