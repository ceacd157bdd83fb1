import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * readOrCreateSecretFile returns the secret kept in `file`, creating it first (by `make`; default 48
 * random bytes, base64url; mode 0600) when it does not exist: how `npm start` keeps its generated keys in DATA_DIR
 * across restarts. `created` tells whether it was made now.
 */
export async function readOrCreateSecretFile(file: string, make: () => string = () => randomBytes(48).toString("base64url")): Promise<{ secret: string; created: boolean }> {
  try {
    const kept = (await readFile(file, "utf8")).trim();
    if (kept !== "") return { secret: kept, created: false };
  } catch {
    // not there yet
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = make();
  await writeFile(file, secret + "\n", { mode: 0o600 });
  return { secret, created: true };
}
