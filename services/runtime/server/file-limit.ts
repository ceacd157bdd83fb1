// How many client connections fit in the process's file limit: the limit and the descriptors open
// now, read from Linux /proc (undefined elsewhere), for the connection cap of connection-limiter.ts.
import { readdirSync, readFileSync } from "node:fs";

/** fileLimit is the soft limit on open file descriptors (Linux /proc), undefined where unknown. */
export function fileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** openFiles counts the process's open file descriptors (Linux /proc): `limit` when none is left to look, undefined where unknown. */
export function openFiles(limit: number | undefined): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EMFILE" || code === "ENFILE" ? limit : undefined;
  }
}

/**
 * fileBoundConnections is how many connections fit in the file limit: the limit, minus the
 * descriptors open for anything but connections, minus a reserve for what the process opens next
 * (database and upstream connections, files): a tenth of the limit, at least 32.
 */
export function fileBoundConnections(limit: number | undefined, open: number | undefined, connections: number): number {
  if (limit === undefined || open === undefined) return Number.POSITIVE_INFINITY;
  const reserve = Math.max(32, Math.floor(limit / 10));
  return Math.max(4, limit - (open - connections) - reserve);
}
