import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * readOrCreateSecretFile returns the secret kept in `file`, creating it first (48 random bytes,
 * base64url, mode 0600) when it does not exist: how `npm start` keeps its generated keys in DATA_DIR
 * across restarts.
 */
export async function readOrCreateSecretFile(file: string): Promise<string> {
  try {
    const kept = (await readFile(file, "utf8")).trim();
    if (kept !== "") return kept;
  } catch {
    // not there yet
  }
  await mkdir(path.dirname(file), { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await writeFile(file, secret + "\n", { mode: 0o600 });
  return secret;
}
