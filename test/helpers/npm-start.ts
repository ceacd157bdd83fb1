// `npm start` as a user runs it: `node dist/gateway/main.js` in a child process on a free port, with
// its own DATA_DIR (fresh unless one is passed), ready once it prints its banner.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../services/runtime/server/free-port.js";

/** TeardownHost is the part of a tap test the helper uses. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/** NpmStart is a running `npm start`. */
export interface NpmStart {
  /** base is "http://127.0.0.1:<port>". */
  base: string;
  /** dataDir is its DATA_DIR. */
  dataDir: string;
  /** tokens are DATA_DIR/dev-tokens.json, one token per role. */
  tokens: Record<string, string>;
  /** stdout is what it printed so far. */
  stdout(): string;
  /** stop sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** READY_BOUND_MS only guards against a hang: start-up takes seconds, far longer on a loaded machine. */
const READY_BOUND_MS = 180_000;

/**
 * startNpmStart runs the gateway as `npm start` does and waits for its banner (printed once the
 * database is ready and the demo clinic, if any, is seeded). `env` is added to a minimal environment;
 * pass `dataDir` to reuse one (a restart).
 */
export async function startNpmStart(t: TeardownHost, env: Record<string, string> = {}, opts: { dataDir?: string } = {}): Promise<NpmStart> {
  let dataDir = opts.dataDir;
  if (!dataDir) {
    const made = await mkdtemp(path.join(os.tmpdir(), "medschedule-start-"));
    t.teardown(() => rm(made, { recursive: true, force: true }));
    dataDir = made;
  }
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ["dist/gateway/main.js"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const started = Date.now();
  while (!/MedSchedule is up/.test(stdout)) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode} before it was ready`);
    if (Date.now() - started > READY_BOUND_MS) throw new Error("npm start did not print its banner: a hang");
    await new Promise((r) => setTimeout(r, 100));
  }
  const tokens = JSON.parse(await readFile(path.join(dataDir, "dev-tokens.json"), "utf8")) as Record<string, string>;
  return {
    base: `http://127.0.0.1:${port}`,
    dataDir,
    tokens,
    stdout: () => stdout,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
