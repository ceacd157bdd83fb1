// A runtime with the queue module only, as the gateway tests mount it in-process (`npm start`'s way):
// on a fresh Postgres database (or the URL given) and a temp DATA_DIR, quiet, closed at teardown.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { queueModule } from "../../services/queue/queue.module.js";
import { createRuntime, type Runtime } from "../../services/runtime/host.js";
import { createTestDatabase, type TeardownHost } from "./postgres.js";
import { TEST_KEYS_ENV } from "./system.js";

/** RuntimeOptions are createRuntime's options. */
type RuntimeOptions = Parameters<typeof createRuntime>[0];

/** startQueueRuntime creates a runtime with the queue module on `databaseUrl` (a fresh database unless given); `env` adds to or overrides the quiet defaults. */
export async function startQueueRuntime(
  t: TeardownHost,
  opts: { name?: string; databaseUrl?: string; env?: Record<string, string> } & Pick<Partial<RuntimeOptions>, "devAuth" | "extraInterceptors"> = {},
): Promise<Runtime> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "medschedule-queue-runtime-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const { name = "gateway", databaseUrl, env, ...rest } = opts;
  const runtime = await createRuntime({
    name,
    modules: [queueModule],
    defaultPort: 0,
    ...rest,
    env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl ?? (await createTestDatabase(t)), LOG_LEVEL: "silent", METRICS_PORT: "0", ...TEST_KEYS_ENV, ...env },
  });
  t.teardown(() => runtime.close());
  return runtime;
}
