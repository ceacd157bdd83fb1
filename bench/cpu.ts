import { readFileSync } from "node:fs";
import os from "node:os";

/** USER_HZ is the unit of /proc CPU times (clock ticks per second; 100 on every Linux ABI). */
const USER_HZ = 100;

/** CpuSnapshot is the machine's and this process's children's CPU time at one moment, in ms. */
export interface CpuSnapshot {
  /** at is performance.now() when taken. */
  at: number;
  /** busyMs is the CPU time all CPUs spent not idle (user, nice, system, irq, softirq, steal). */
  busyMs: number;
  /** idleMs is the CPU time all CPUs spent idle or waiting for I/O. */
  idleMs: number;
  /** childrenMs is the user+system time of this process's exited and reaped children (e.g. h2load). */
  childrenMs: number;
  /** selfMs is this process's own user+system time. */
  selfMs: number;
}

/** cpuSnapshot reads /proc/stat and /proc/self/stat; on other systems the machine fields are 0. */
export function cpuSnapshot(): CpuSnapshot {
  const at = performance.now();
  const self = process.cpuUsage();
  const snap: CpuSnapshot = { at, busyMs: 0, idleMs: 0, childrenMs: 0, selfMs: (self.user + self.system) / 1000 };
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are already in user/nice)
    const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = cpu;
    snap.busyMs = ((user + nice + system + irq + softirq + steal) * 1000) / USER_HZ;
    snap.idleMs = ((idle + iowait) * 1000) / USER_HZ;
    // /proc/self/stat: fields after the ")" of the command name; cutime and cstime are fields 16, 17.
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    snap.childrenMs = ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ;
  } catch {
    // not Linux: leave the machine-wide figures at 0
  }
  return snap;
}

/** idleShare is the fraction (0..1) of all CPUs that were idle between two snapshots. */
export function idleShare(a: CpuSnapshot, b: CpuSnapshot): number {
  const busy = b.busyMs - a.busyMs;
  const idle = b.idleMs - a.idleMs;
  return busy + idle > 0 ? idle / (busy + idle) : 1;
}

/**
 * waitForIdle samples the machine every `sampleMs` until at least `minIdle` of all CPUs were idle
 * over one sample, or `maxWaitMs` passed; it returns the last sample's idle share and the wait.
 */
export async function waitForIdle(minIdle: number, maxWaitMs: number, sampleMs = 1000): Promise<{ idle: number; waitedMs: number }> {
  const start = performance.now();
  for (;;) {
    const a = cpuSnapshot();
    await new Promise((r) => setTimeout(r, sampleMs));
    const idle = idleShare(a, cpuSnapshot());
    const waitedMs = performance.now() - start;
    if (idle >= minIdle || waitedMs >= maxWaitMs) return { idle, waitedMs };
  }
}

/** cpuCount is the number of logical CPUs. */
export function cpuCount(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}
