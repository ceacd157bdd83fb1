import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** H2loadOptions is one h2load invocation against one URL. */
export interface H2loadOptions {
  /** url is the full request URL (plaintext http:// means h2c with prior knowledge). */
  url: string;
  /** requests is the total number of requests (-n). */
  requests: number;
  /** clients is the number of concurrent connections (-c). */
  clients: number;
  /** streams is the max concurrent streams per connection (-m; with --h1 this is pipelining). */
  streams: number;
  /** threads is the number of client threads (-t). */
  threads: number;
  /** headers are sent with every request (-H). */
  headers: Record<string, string>;
  /** dataFile is the request body (-d; makes every request a POST). */
  dataFile?: string;
  /** h1 forces HTTP/1.1 (--h1). */
  h1?: boolean;
  /** logFile, when set, receives one line per request (--log-file), for latency percentiles. */
  logFile?: string;
  /** timeoutMs kills h2load if it runs longer (default 5 minutes). */
  timeoutMs?: number;
}

/** H2loadResult is what one h2load run reported. */
export interface H2loadResult {
  /** reqPerSec is the throughput h2load printed ("finished in …, N req/s"). */
  reqPerSec: number;
  /** seconds is the wall time of the run. */
  seconds: number;
  /** total is the number of requests h2load was asked to make. */
  total: number;
  /** succeeded counts requests that got a complete response. */
  succeeded: number;
  /** failed counts requests that did not complete (h2load's "failed", includes errored). */
  failed: number;
  /** errored counts requests that failed on a stream or connection error. */
  errored: number;
  /** timeout counts requests that timed out. */
  timeout: number;
  /** status2xx is the number of responses with a 2xx HTTP status. */
  status2xx: number;
  /** latency is h2load's "time for request" line in milliseconds. */
  latency: { minMs: number; maxMs: number; meanMs: number; sdMs: number };
  /** percentiles come from the log file, when one was written. */
  percentiles?: { p50Ms: number; p90Ms: number; p99Ms: number; count: number; non2xx: number };
  /** args is the command line, for the record. */
  args: string[];
  /** output is h2load's full stdout. */
  output: string;
}

/** h2loadArgs builds the h2load command line for the options. */
export function h2loadArgs(o: H2loadOptions): string[] {
  const args = ["-n", String(o.requests), "-c", String(o.clients), "-m", String(o.streams), "-t", String(o.threads)];
  for (const [k, v] of Object.entries(o.headers)) args.push("-H", `${k}: ${v}`);
  if (o.dataFile) args.push("-d", o.dataFile);
  if (o.h1) args.push("--h1");
  if (o.logFile) args.push("--log-file", o.logFile);
  args.push(o.url);
  return args;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case "us":
      return n / 1000;
    case "ms":
      return n;
    case "s":
      return n * 1000;
    default:
      throw new Error(`unknown h2load time unit ${unit}`);
  }
}

/** parseH2loadOutput extracts throughput, request counts and request times from h2load's stdout. */
export function parseH2loadOutput(output: string): Omit<H2loadResult, "args" | "output" | "percentiles"> {
  const finished = /finished in ([\d.]+)(us|ms|s), ([\d.]+) req\/s/.exec(output);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const status = /status codes: (\d+) 2xx/.exec(output);
  const time = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output);
  if (!finished || !requests || !status || !time) throw new Error(`cannot parse h2load output:\n${output}`);
  return {
    reqPerSec: Number(finished[3]),
    seconds: toMs(finished[1], finished[2]) / 1000,
    total: Number(requests[1]),
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    errored: Number(requests[6]),
    timeout: Number(requests[7]),
    status2xx: Number(status[1]),
    latency: {
      minMs: toMs(time[1], time[2]),
      maxMs: toMs(time[3], time[4]),
      meanMs: toMs(time[5], time[6]),
      sdMs: toMs(time[7], time[8]),
    },
  };
}

/** percentile returns the q-quantile (0..1) of sorted values, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/**
 * logPercentiles reads an h2load --log-file (tab-separated: start time in µs, HTTP status, µs to
 * the end of the response) and returns p50/p90/p99 in milliseconds.
 */
export function logPercentiles(logFile: string): NonNullable<H2loadResult["percentiles"]> {
  const lines = readFileSync(logFile, "utf8").split("\n");
  const times = new Float64Array(lines.length);
  let count = 0;
  let non2xx = 0;
  for (const line of lines) {
    if (!line) continue;
    const cols = line.split("\t");
    if (cols.length < 3) continue;
    const statusCode = Number(cols[1]);
    if (!(statusCode >= 200 && statusCode < 300)) non2xx++;
    times[count++] = Number(cols[2]) / 1000;
  }
  const sorted = times.subarray(0, count).sort();
  return { p50Ms: percentile(sorted, 0.5), p90Ms: percentile(sorted, 0.9), p99Ms: percentile(sorted, 0.99), count, non2xx };
}

/** runH2load runs h2load once and returns its parsed report; it rejects when h2load fails or hangs. */
export async function runH2load(o: H2loadOptions): Promise<H2loadResult> {
  const args = h2loadArgs(o);
  const child = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 300_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`h2load ${args.join(" ")} exited with ${code}\n${out}\n${err}`);
  const parsed = parseH2loadOutput(out);
  return { ...parsed, percentiles: o.logFile ? logPercentiles(o.logFile) : undefined, args, output: out };
}

/**
 * ensureH2load makes sure h2load is on PATH, running scripts/ensure-bench-deps.sh (which apt-get
 * installs nghttp2-client) when it is not; throws with the manual instruction when that fails.
 */
export function ensureH2load(): string {
  const probe = spawnSync("h2load", ["--version"], { encoding: "utf8" });
  if (probe.status === 0) return probe.stdout.trim();
  const script = fileURLToPath(new URL("../../scripts/ensure-bench-deps.sh", import.meta.url));
  console.log("h2load is missing; running scripts/ensure-bench-deps.sh ...");
  const install = spawnSync("bash", [script], { stdio: "inherit" });
  const again = spawnSync("h2load", ["--version"], { encoding: "utf8" });
  if (install.status !== 0 || again.status !== 0) {
    throw new Error("h2load is not installed: run `bash scripts/ensure-bench-deps.sh` (or `apt-get install -y nghttp2-client` as root)");
  }
  return again.stdout.trim();
}
