// Whether `npm start` is looking at a fresh DATA_DIR, the condition for seeding the demo clinic
// (DEMO_CLINIC unset). "Fresh" must be decided before anything is written there: a first start killed
// while the database was starting has already written the dev key, and a restart that judged by it
// would never seed (the doctor token would name no provider). So the first start writes a marker
// before anything else and removes it only once the demo clinic is seeded (or once it decided not
// to seed it); a start that finds the marker is still a first start and seeds (seeding is idempotent).
import { access, mkdir, open, unlink } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "../services/runtime/config.js";

/** FRESH_MARKER is the marker's file name in DATA_DIR. */
export const FRESH_MARKER = "demo-clinic.pending";

const exists = (p: string) => access(p).then(() => true, () => false);

/**
 * claimFreshDataDir is called before `npm start` writes anything into `dataDir`. When it holds
 * neither the dev key nor a database (a first start), it writes the marker (durably) first. It
 * returns whether the marker is there: a first start, or one interrupted before seeding finished.
 */
export async function claimFreshDataDir(dataDir: string): Promise<boolean> {
  const marker = path.join(dataDir, FRESH_MARKER);
  if (await exists(marker)) return true;
  if ((await exists(path.join(dataDir, "dev-auth-secret"))) || (await exists(path.join(dataDir, "pglite")))) return false;
  await mkdir(dataDir, { recursive: true, mode: 0o700 }).catch((err: Error) => {
    throw new ConfigError(`DATA_DIR ${dataDir} cannot be created: ${err.message}`);
  });
  const file = await open(marker, "w", 0o600);
  try {
    await file.writeFile("npm start seeds the demo clinic into this DATA_DIR and removes this file when done; a start that finds it seeds again.\n");
    await file.sync();
  } finally {
    await file.close();
  }
  return true;
}

/** releaseFreshDataDir removes the marker: the demo clinic is seeded, or this start decided not to seed it. */
export async function releaseFreshDataDir(dataDir: string): Promise<void> {
  await unlink(path.join(dataDir, FRESH_MARKER)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
