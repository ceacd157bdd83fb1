// Test helpers for a real Redis (DESIGN.md §5: Redis is always real in tests).
// `npm test` runs scripts/ensure-test-deps.sh first, which answers REDIS_URL and puts
// redis-server on PATH. Tests that kill or restart Redis use startRedis (a private server).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TeardownHost } from './postgres.js';
import { freePort } from '../../services/runtime/server/free-port.js';

/** DEFAULT_REDIS_URL is the shared Redis used when REDIS_URL is unset (see scripts/ensure-redis.sh). */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** redisUrl returns REDIS_URL, or DEFAULT_REDIS_URL when it is unset or empty. */
export function redisUrl(): string {
  return process.env['REDIS_URL'] || DEFAULT_REDIS_URL;
}

/** StartRedisOptions tunes the private server started by startRedis. */
export interface StartRedisOptions {
  /** Append-only file on (default true); `false` gives a purely in-memory server. */
  appendonly?: boolean;
  /** Extra redis-server arguments, appended last so they win, e.g. ['--appendfsync', 'always']. */
  args?: readonly string[];
  /** How long to wait for PING after each start (default 10 000 ms). */
  startTimeoutMs?: number;
}

/** TestRedis is a private redis-server child process started by startRedis. */
export interface TestRedis {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Its own data directory (AOF lives here); survives restart(), removed at teardown. */
  readonly dir: string;
  /** The current child process (a new one after restart()). */
  readonly process: ChildProcess;
  /** Sends `signal` (default SIGTERM; SIGKILL simulates a crash) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts redis-server again on the same port and dir (stopping it with SIGTERM first if still running) and waits for PING. */
  restart(): Promise<void>;
}

const LOG_LINES = 40;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed or bailed-out test must not leave redis-server processes behind.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Resolves true if 127.0.0.1:port answers +PONG (false on refusal, -LOADING, timeout, ...). */
function pingOnce(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

interface Launch {
  child: ChildProcess;
  log: string[];
  /** Resolves once the process has exited and its output has been read (or after 1 s). */
  drained: Promise<void>;
}

function launch(port: number, dir: string, opts: StartRedisOptions): Launch {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--daemonize', 'no',
    '--save', '',
    '--appendonly', opts.appendonly === false ? 'no' : 'yes',
    '--maxmemory-policy', 'noeviction',
    ...(opts.args ?? []),
  ];
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const collect = (d: Buffer): void => {
    for (const line of d.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      log.push(line);
      if (log.length > LOG_LINES) log.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', (err) => log.push(`spawn error: ${err.message}`));
  live.add(child);
  child.once('exit', () => live.delete(child));
  const drained = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('exit', () => setTimeout(resolve, 1000).unref());
    child.once('error', () => setTimeout(resolve, 1000).unref());
  });
  return { child, log, drained };
}

async function waitReady(l: Launch, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(l.child) || l.log.some((x) => x.startsWith('spawn error'))) {
      await l.drained;
      const hint = l.log.some((x) => x.includes('ENOENT'))
        ? ' (redis-server is not on PATH: run `bash scripts/ensure-redis.sh`)'
        : '';
      throw new Error(
        `redis-server on port ${port} exited before answering PING${hint}:\n${l.log.join('\n')}`,
      );
    }
    if (await pingOnce(port)) return;
    if (Date.now() >= deadline) {
      l.child.kill('SIGKILL');
      throw new Error(
        `redis-server on port ${port} did not answer PING within ${timeoutMs} ms:\n${l.log.join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** startRedis starts a private redis-server (ephemeral port, own temp dir, AOF on, noeviction, no RDB), waits for PING, and kills it and removes its dir at `t`'s teardown. */
export async function startRedis(t: TeardownHost, opts: StartRedisOptions = {}): Promise<TestRedis> {
  installExitHook();
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'medschedule-redis-'));
  let current: Launch | undefined;
  t.teardown(async () => {
    if (current && !exited(current.child)) {
      current.child.kill('SIGKILL');
      await waitExit(current.child);
    }
    await rm(dir, { recursive: true, force: true });
  });

  // The port from freePort() can be taken by someone else before redis binds it: retry.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    current = launch(port, dir, opts);
    try {
      await waitReady(current, port, timeoutMs);
      break;
    } catch (err) {
      const inUse = current.log.some((x) => x.includes('Address already in use'));
      if (!inUse || attempt >= 5) throw err;
      await waitExit(current.child);
    }
  }

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const child = current!.child;
    if (!exited(child)) child.kill(signal);
    await waitExit(child);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get process(): ChildProcess {
      return current!.child;
    },
    kill,
    async restart(): Promise<void> {
      await kill('SIGTERM');
      current = launch(port, dir, opts);
      await waitReady(current, port, timeoutMs);
    },
  };
}
