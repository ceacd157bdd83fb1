// Patient data on disk belongs to the account that runs MedSchedule, and to no other local user:
// DATA_DIR holds the embedded database (PGlite) and the generated keys, BACKUP_DIR dumps full of
// patient ids and visit reasons. Every process therefore creates what it writes owner-only, 0700
// directories and 0600 files, through its umask (restrictNewFiles), which also covers what it does
// not write itself (PGlite's files, pg_dump's output, temp directories of child processes). Modes given
// explicitly where the code creates a directory or file keep that true for code that runs under
// another umask (an embedding, a test). A directory that already exists open to others (made by an
// older version, or by hand with the usual 0755) is tightened to 0700 when this user owns it, and
// reported; one it does not own, or a shared one such as /tmp, is only reported.
import { chmod, mkdir, stat } from "node:fs/promises";
import { ConfigError } from "../config.js";

/** PRIVATE_UMASK takes every permission from group and others: new directories 0700, new files 0600. */
export const PRIVATE_UMASK = 0o077;

/** PRIVATE_DIR_MODE is the mode of a directory holding patient data or keys. */
export const PRIVATE_DIR_MODE = 0o700;

/** PRIVATE_FILE_MODE is the mode of a file holding patient data or keys. */
export const PRIVATE_FILE_MODE = 0o600;

/** restrictNewFiles sets this process's umask to PRIVATE_UMASK; child processes inherit it. Main entry points call it first. */
export function restrictNewFiles(): void {
  process.umask(PRIVATE_UMASK);
}

/**
 * ensurePrivateDir makes `dir` (and missing parents) with mode 0700 or, when it exists with any
 * permission for group or others, tightens it to 0700 if this user owns it and it is not a shared
 * sticky directory (like /tmp). Returns a sentence for the operator's log when it tightened the
 * directory or could not; undefined when there is nothing to say. `name` is the variable that set it;
 * a directory that cannot be made is a ConfigError naming it.
 */
export async function ensurePrivateDir(dir: string, name: string): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw new ConfigError(`${name} ${dir} cannot be created: ${(err as Error).message}`);
  }
  const st = await stat(dir);
  const open = st.mode & 0o077;
  if (open === 0) return undefined;
  const shown = `${name} ${dir} (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`;
  const shared = (st.mode & 0o1000) !== 0;
  const owner = typeof process.getuid === "function" ? process.getuid() : st.uid;
  if (st.uid === owner && !shared) {
    try {
      await chmod(dir, PRIVATE_DIR_MODE);
      return `${shown} was open to other users; made it owner-only (0700), as it holds patient data`;
    } catch (err) {
      return `${shown} is open to other users and could not be made owner-only (${(err as Error).message}); restrict it, as it holds patient data`;
    }
  }
  return `${shown} is open to other users and ${shared ? "is a shared directory" : "belongs to another user"}; point ${name} to a directory of its own (0700), as it holds patient data`;
}
