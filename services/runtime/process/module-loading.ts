// Why: Node's ES module loader opens every file of the module graph it is fetching at once (all of
// a module's imports are read concurrently, and kysely's index alone imports ~280 files), so a
// process started with a low file limit (ulimit -n 256, a hardened service unit) died with EMFILE
// before it served anything. How: an entry calls limitModuleLoading() before importing anything
// else; it registers this file's `load` as a module-loading hook, which lets at most
// MAX_LOADS_IN_FLIGHT modules load at once. Startup stays within a few tenths of a second of the
// unbounded loader. This file imports nothing but node:module: it is loaded before the hook is in place.
import { register, type LoadHook } from "node:module";

/** MAX_LOADS_IN_FLIGHT bounds the modules being read at once (each holds a file descriptor). */
export const MAX_LOADS_IN_FLIGHT = 16;

let active = 0;
const waiting: (() => void)[] = [];

/** load is the hook (it runs on Node's hooks thread): the default loading, at most MAX_LOADS_IN_FLIGHT at a time. */
export const load: LoadHook = async (url, context, nextLoad) => {
  if (active >= MAX_LOADS_IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await nextLoad(url, context);
  } finally {
    active--;
    waiting.shift()?.();
  }
};

/** limitModuleLoading makes every module imported after it load through `load`; an entry calls it first. */
export function limitModuleLoading(): void {
  register(import.meta.url);
}
