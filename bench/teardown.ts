/**
 * Teardowns for a benchmark's scratch resources (databases, Redis servers, clients), shaped like the
 * test helpers' host (`host.teardown(fn)`), run last-registered first.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describeMachine, machineInfo, type MachineInfo } from "./results.js";

export interface BenchHost {
  /** teardown registers fn to run at the end, before those registered earlier. */
  teardown(fn: () => unknown): void;
  /** tempDir makes a scratch directory (os.tmpdir()/<prefix>XXXXXX), removed at teardown. */
  tempDir(prefix: string): Promise<string>;
  /** runTeardowns runs them all, each even when another fails (a failure is logged, not thrown). */
  runTeardowns(): Promise<void>;
}

/** createBenchHost returns an empty BenchHost. */
export function createBenchHost(): BenchHost {
  const cleanups: (() => unknown)[] = [];
  const teardown = (fn: () => unknown) => void cleanups.unshift(fn);
  return {
    teardown,
    tempDir: async (prefix) => {
      const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
      teardown(() => rm(dir, { recursive: true, force: true }));
      return dir;
    },
    runTeardowns: async () => {
      for (const fn of cleanups.splice(0)) {
        await Promise.resolve()
          .then(fn)
          .catch((err: unknown) => console.error(`bench cleanup failed: ${(err as Error)?.message ?? err}`));
      }
    },
  };
}

/**
 * withBenchHost is a benchmark's frame: it prints the machine, runs fn with a fresh BenchHost and
 * runs the host's teardowns however fn ends.
 */
export async function withBenchHost<T>(fn: (host: BenchHost, machine: MachineInfo) => Promise<T>): Promise<T> {
  const machine = machineInfo();
  console.log(`machine: ${describeMachine(machine)}`);
  const host = createBenchHost();
  try {
    return await fn(host, machine);
  } finally {
    await host.runTeardowns();
  }
}
