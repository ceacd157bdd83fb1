import os from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** MachineInfo describes where and when a benchmark ran. */
export interface MachineInfo {
  /** date is the ISO time the benchmark started. */
  date: string;
  /** cpus is the number of logical CPUs. */
  cpus: number;
  /** cpuModel is the first CPU's model name. */
  cpuModel: string;
  /** memoryGiB is the total memory. */
  memoryGiB: number;
  /** node is the Node.js version. */
  node: string;
  /** platform is os, release and architecture. */
  platform: string;
  /** loadAverage is the 1, 5 and 15 minute load average when the benchmark started. */
  loadAverage: number[];
}

/** machineInfo returns the MachineInfo of this process, now. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** resultsDir is bench/results in the repository (this file runs from dist/bench). */
export const resultsDir = fileURLToPath(new URL("../../bench/results/", import.meta.url));

/** writeResults writes bench/results/<name>.json and <name>.md and returns their paths. */
export function writeResults(name: string, json: unknown, markdown: string): { json: string; md: string } {
  mkdirSync(resultsDir, { recursive: true });
  const paths = { json: join(resultsDir, `${name}.json`), md: join(resultsDir, `${name}.md`) };
  writeFileSync(paths.json, JSON.stringify(json, null, 2) + "\n");
  writeFileSync(paths.md, markdown.endsWith("\n") ? markdown : markdown + "\n");
  return paths;
}

/** markdownTable renders a GitHub markdown table; columns whose header starts with ">" align right. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const names = headers.map((h) => h.replace(/^>/, ""));
  const align = headers.map((h) => (h.startsWith(">") ? "---:" : "---"));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(names), line(align), ...rows.map(line)].join("\n");
}

/** median returns the median of the numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** describeMachine is a one-line human summary of a MachineInfo. */
export function describeMachine(m: MachineInfo): string {
  return `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load average at start ${m.loadAverage.join(" / ")}`;
}

/** fmt formats a number for a table (en-US grouping, `digits` decimals); "–" for anything else or a non-finite number. */
export function fmt(n: unknown, digits = 0): string {
  return typeof n === "number" && Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–";
}
