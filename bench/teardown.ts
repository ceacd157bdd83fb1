/**
 * Teardowns for a benchmark's scratch resources (databases, Redis servers, clients), shaped like the
 * test helpers' host (`host.teardown(fn)`), run last-registered first.
 */
export interface BenchHost {
  /** teardown registers fn to run at the end, before those registered earlier. */
  teardown(fn: () => unknown): void;
  /** runTeardowns runs them all, each even when another fails (a failure is logged, not thrown). */
  runTeardowns(): Promise<void>;
}

/** createBenchHost returns an empty BenchHost. */
export function createBenchHost(): BenchHost {
  const cleanups: (() => unknown)[] = [];
  return {
    teardown: (fn) => void cleanups.unshift(fn),
    runTeardowns: async () => {
      for (const fn of cleanups.splice(0)) {
        await Promise.resolve()
          .then(fn)
          .catch((err: unknown) => console.error(`bench cleanup failed: ${(err as Error)?.message ?? err}`));
      }
    },
  };
}
