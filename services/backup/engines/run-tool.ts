import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** ToolError is a backup tool (pg_dump, redis-cli, ...) that failed, with the tail of what it said. */
export class ToolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ToolError";
  }
}

/** RunToolOptions configure runTool. */
export interface RunToolOptions {
  /** env is the child's environment (merged over PATH/HOME/LANG of this process). */
  env?: Record<string, string>;
  /** stdin is streamed into the child's standard input. */
  stdin?: Readable;
  /** stdout receives the child's standard output (streamed, never buffered whole); ended at the end. */
  stdout?: Writable;
  /** endStdout false leaves the stdout sink open after a successful run (default: ended). */
  endStdout?: boolean;
  /** signal kills the child. */
  signal?: AbortSignal;
  /** cwd is the working directory. */
  cwd?: string;
}

const STDERR_TAIL = 4000;

function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"]) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * runTool runs a command to completion, streaming stdin and stdout, and resolves with its stdout
 * text (when no stdout sink is given). It rejects with a ToolError naming the command, its exit code
 * or signal and the tail of its stderr, or with the error of a failing sink (the child is killed).
 */
export async function runTool(command: string, args: string[], opts: RunToolOptions = {}): Promise<string> {
  const child = spawn(command, args, {
    env: { ...baseEnv(), ...opts.env },
    cwd: opts.cwd,
    stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    stderr = (stderr + d).slice(-STDERR_TAIL);
  });
  let stdoutText = "";
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const onAbort = () => kill();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) kill();

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  const streams: Promise<unknown>[] = [];
  if (opts.stdin) {
    streams.push(
      pipeline(opts.stdin, child.stdin!).catch((err: NodeJS.ErrnoException) => {
        // The child stopped reading (it failed or finished early): its exit status tells the story.
        if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_PREMATURE_CLOSE") throw err;
      }),
    );
  }
  if (opts.stdout) {
    streams.push(pipeline(child.stdout!, opts.stdout, { end: opts.endStdout ?? true }));
  } else {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      stdoutText += d;
    });
  }
  try {
    const [result] = await Promise.all([
      exited,
      ...streams.map((p) =>
        p.catch((err: unknown) => {
          kill();
          throw err;
        }),
      ),
    ]);
    if (result.code !== 0) {
      const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
      const said = stderr.trim().split("\n").slice(-6).join(" | ");
      throw new ToolError(`${command} ${how}${said ? `: ${said}` : ""}`);
    }
    return stdoutText;
  } catch (err) {
    kill();
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && (err as NodeJS.ErrnoException).path === command) {
      throw new ToolError(`${command} is not installed (run scripts/ensure-test-deps.sh, or install the postgresql-client / redis-tools packages)`, { cause: err });
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** libpqEnv turns a postgres:// URL into libpq environment variables, so no password shows in `ps`. */
export function libpqEnv(databaseUrl: string, database?: string): Record<string, string> {
  const u = new URL(databaseUrl);
  const env: Record<string, string> = {};
  if (u.hostname) env.PGHOST = decodeURIComponent(u.hostname);
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  env.PGDATABASE = database ?? decodeURIComponent(u.pathname.replace(/^\//, ""));
  const ssl = u.searchParams.get("sslmode");
  if (ssl) env.PGSSLMODE = ssl;
  env.PGCONNECT_TIMEOUT = "10";
  return env;
}

/** withDatabase returns databaseUrl pointing at another database on the same server. */
export function withDatabase(databaseUrl: string, database: string): string {
  const u = new URL(databaseUrl);
  u.pathname = `/${database}`;
  return u.toString();
}
