// Per-process figures for benchmarks that run the system as separate processes: CPU time and peak
// resident memory, read from /proc (Linux). Elsewhere the figures are NaN and the report shows "–".
import { readFileSync } from "node:fs";

const USER_HZ = 100;

/** processCpuMs is a process's user+system CPU time in milliseconds, or NaN if it cannot be read. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" of the command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return NaN;
  }
}

/** peakRssMiB is a process's peak resident set size (VmHWM) in MiB, or NaN if it cannot be read. */
export function peakRssMiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
