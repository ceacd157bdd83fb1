/**
 * `npm run bench -- summary` (and the end of `npm run bench` with no name) writes
 * bench/results/summary.md from the JSON results of the individual benchmarks: every target with its
 * measured figure and verdict, throughput and latency next to the ceilings measured in the same run,
 * the peak RSS of each process, and how cost grows with providers and clients. A benchmark that has
 * not been run yet shows as missing rather than as an old or invented figure.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, markdownTable, resultsDir, type MachineInfo } from "./results.js";
import type { MixedReport } from "./mixed.js";

type Json = Record<string, any>;

function load(name: string): Json | undefined {
  const file = join(resultsDir, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Json) : undefined;
}


const pct = (a: number, b: number) => (b > 0 ? `${fmt((a / b) * 100)}%` : "–");

/** Verdict is one target of one issue with what was measured. */
interface Verdict {
  benchmark: string;
  text: string;
  met: boolean;
}

function verdictsOf(benchmark: string, j: Json | undefined): Verdict[] {
  if (!j) return [{ benchmark, text: `not run yet: \`npm run bench -- ${benchmark}\``, met: false }];
  const list: string[] = Array.isArray(j.verdicts) ? j.verdicts : [];
  return list
    .filter((v) => !/server CPU per request/.test(v))
    .map((text) => ({ benchmark, text: text.replace(/\*\*/g, ""), met: /:\s*(MET|yes)\b/i.test(text) && !/NOT MET|: no\b/i.test(text) }));
}

function bookingVerdicts(j: Json | undefined): Verdict[] {
  if (!j) return verdictsOf("booking", j);
  const at16 = (j.booking as Json[]).find((r) => r.clients === 16);
  const ceil16 = (j.ceiling as Json[]).find((r) => r.clients === 16);
  const out: Verdict[] = [];
  if (at16 && ceil16) {
    const share = at16.perSec / ceil16.tps;
    out.push({ benchmark: "booking", text: `bookings at 16 clients: ${fmt(at16.perSec)}/s = ${pct(at16.perSec, ceil16.tps)} of the pgbench ceiling (target ≥ 40%)`, met: share >= 0.4 });
    out.push({ benchmark: "booking", text: `booking p99 at 16 clients: ${fmt(at16.p99, 1)} ms (target < 25 ms)`, met: at16.p99 < 25 });
  }
  out.push({ benchmark: "booking", text: `slot search, 7 days, 500 appointments: p99 ${fmt(j.slotSearchMs?.p99, 1)} ms (target < 20 ms)`, met: j.slotSearchMs?.p99 < 20 });
  out.push({ benchmark: "booking", text: `overlapping active appointments afterwards: ${j.overlaps} (target 0)`, met: j.overlaps === 0 });
  return out;
}

function mixedVerdicts(m: MixedReport | undefined): Verdict[] {
  if (!m) return verdictsOf("mixed", undefined);
  const head = m.runs[0];
  const big = m.processes.reduce((a, b) => (b.peakRssMiB > a.peakRssMiB ? b : a), m.processes[0]);
  return [
    {
      benchmark: "mixed",
      text: `mixed workload at ${m.targets.rate} req/s offered: ${fmt(head?.perSec)} answers/s, ${fmt(head?.okPerSec ?? head?.perSec)}/s without an unexpected error, p99 ${fmt(head?.p99Ms, 1)} ms, ${head?.errors ?? "–"} unexpected errors (target p99 < 50 ms, no errors)`,
      met: m.targets.met,
    },
    { benchmark: "mixed", text: `largest peak RSS: ${big?.name} ${fmt(big?.peakRssMiB, 1)} MiB (target < 200 MB per process)`, met: m.targets.rssMet },
  ];
}

function when(j: Json | undefined): string {
  const m = j?.machine as MachineInfo | undefined;
  return m ? `${m.date.slice(0, 16).replace("T", " ")} UTC, load ${m.loadAverage[0]}` : "not run";
}

/** renderSummary renders bench/results/summary.md from the benchmarks' JSON results. */
export function renderSummary(): string {
  const transport = load("transport");
  const lock = load("lock");
  const queue = load("queue");
  const booking = load("booking");
  const mixed = load("mixed") as MixedReport | undefined;
  const machine = (mixed ?? booking ?? queue ?? lock ?? transport)?.machine as MachineInfo | undefined;
  const verdicts = [...verdictsOf("transport", transport), ...verdictsOf("lock", lock), ...verdictsOf("queue", queue), ...bookingVerdicts(booking), ...mixedVerdicts(mixed), ...verdictsOf("faults", load("faults"))];
  const out: string[] = ["# MedSchedule benchmark summary", ""];
  if (machine) out.push(`${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}.`, "");
  out.push(
    "Every figure comes from `npm run bench` on this machine; each benchmark measures its ceiling in the same run. Details, methods and raw numbers: the other files in this folder.",
    "",
    "## Targets",
    "",
    markdownTable(
      ["benchmark", "measured against target", "verdict"],
      verdicts.map((v) => [v.benchmark, v.text.replace(/\|/g, "\\|"), v.met ? "met" : "**not met**"]),
    ),
    "",
    "## Throughput and latency next to the ceilings",
    "",
  );
  const rows: string[][] = [];
  if (transport) {
    const bare = (transport.rows as Json[]).find((r) => r.id === "grpc-js");
    for (const r of transport.rows as Json[]) {
      rows.push([`transport: ${r.label}`, "16 conn x 32 streams", fmt(r.medianReqPerSec), fmt(r.latency?.p50Ms, 1), "–", fmt(r.latency?.p99Ms, 1), bare ? `${pct(r.medianReqPerSec, bare.medianReqPerSec)} of bare grpc-js` : "–"]);
    }
  }
  if (lock) {
    for (const c of [1, 16, 64]) {
      const at = (path: string) => (lock.rows as Json[]).find((r) => r.path === path && r.concurrency === c);
      const ceiling = at("ceiling");
      const noop = at("noop");
      for (const path of ["library", "grpc", "redlock"]) {
        const r = at(path);
        if (!r) continue;
        const ref = path === "grpc" ? (noop ? `${pct(r.opsPerSec, noop.opsPerSec)} of no-op RPC pairs` : "–") : ceiling ? `${pct(r.opsPerSec, ceiling.opsPerSec)} of redis-benchmark` : "–";
        rows.push([`lock: acquire+release, ${path}`, `${c} clients`, fmt(r.opsPerSec), fmt(r.p50Ms, 2), fmt(r.p95Ms, 2), fmt(r.p99Ms, 2), ref]);
      }
    }
  }
  if (queue) {
    const c = queue.cycles as Json;
    rows.push(["queue: issue+call+complete cycles", `${c.concurrency} counters`, fmt(c.opsPerSec), fmt(c.p50Ms, 1), fmt(c.p95Ms, 1), fmt(c.p99Ms, 1), "target 1,000/s"]);
    const f = queue.fanOut as Json;
    rows.push(["queue: WatchQueue fan-out (change to delivery)", `${f.watchers} watchers`, `${fmt(f.delivered)} deliveries`, fmt(f.p50Ms, 1), "–", fmt(f.p99Ms, 1), "target p99 < 100 ms"]);
  }
  if (booking) {
    for (const b of booking.booking as Json[]) {
      const ceil = (booking.ceiling as Json[]).find((r) => r.clients === b.clients);
      rows.push([`booking: BookAppointment over gRPC`, `${b.clients} clients`, fmt(b.perSec), fmt(b.p50, 1), fmt(b.p95, 1), fmt(b.p99, 1), ceil ? `${pct(b.perSec, ceil.tps)} of pgbench (${fmt(ceil.tps)} tps)` : "–"]);
    }
    rows.push(["booking: ListAvailableSlots, 7 days", "1 client", "–", fmt(booking.slotSearchMs?.p50, 1), "–", fmt(booking.slotSearchMs?.p99, 1), "target p99 < 20 ms"]);
  }
  if (mixed) {
    const gw = mixed.ceilings.find((c) => /gateway/.test(c.label));
    for (const r of mixed.runs) {
      rows.push([`mixed through the gateway: ${r.label}`, r.mode === "open" ? `${r.target} req/s offered, ${r.providers} providers` : `${r.target} clients, ${r.providers} providers`, fmt(r.perSec), fmt(r.p50Ms, 1), fmt(r.p95Ms, 1), fmt(r.p99Ms, 1), gw ? `${pct(r.perSec, gw.reqPerSec)} of the gateway's no-op` : "–"]);
    }
    for (const c of mixed.ceilings) rows.push([`ceiling: ${c.label}`, "16 conn x 8 streams", fmt(c.reqPerSec), fmt(c.p50Ms, 1), "–", fmt(c.p99Ms, 1), "–"]);
  }
  out.push(markdownTable(["what", "load", ">per s", ">p50 ms", ">p95 ms", ">p99 ms", "vs ceiling"], rows), "");

  out.push("## How cost grows", "");
  if (mixed) {
    const scale = mixed.runs.slice(1);
    out.push(
      markdownTable(
        ["mixed workload", ">req/s", ">p50 ms", ">p99 ms", ">cluster CPU ms/req", ">machine CPU ms/req"],
        scale.map((r) => [r.mode === "open" ? `${r.providers} providers, ${r.target} req/s offered` : `${r.target} clients (closed loop)`, fmt(r.perSec), fmt(r.p50Ms, 1), fmt(r.p99Ms, 1), fmt(r.cpuMsPerRequest, 2), fmt(r.machineCpuMsPerRequest, 2)]),
      ),
      "",
    );
  } else out.push("Not run yet: `npm run bench -- mixed`.", "");

  out.push("## Peak RSS per process", "");
  if (mixed) {
    out.push(markdownTable(["process (mixed benchmark)", ">peak RSS MiB"], mixed.processes.map((p) => [p.name, fmt(p.peakRssMiB, 1)])), "");
  } else out.push("Not run yet: `npm run bench -- mixed`.", "");

  out.push(
    "## When each benchmark ran",
    "",
    markdownTable(["benchmark", "run"], [["transport", when(transport)], ["lock", when(lock)], ["queue", when(queue)], ["booking", when(booking)], ["mixed", when(mixed)]]),
    "",
    "## Reproduce",
    "",
    "```sh",
    "npm ci",
    "npm run bench                      # all of them, then this summary (about 15 minutes)",
    "npm run bench -- booking           # one of: transport lock queue booking mixed",
    "npm run bench -- summary           # rewrite this file from the JSON results",
    "```",
    "",
    "Run on a quiet machine: the benchmarks share both cores with Postgres, Redis and the load generators, and anything else running shows up in the figures (each file records the load average).",
  );
  return out.join("\n") + "\n";
}

/** writeSummary writes bench/results/summary.md and returns its path. */
export function writeSummary(): string {
  const file = join(resultsDir, "summary.md");
  writeFileSync(file, renderSummary());
  return file;
}

/** main is the `summary` benchmark: it only rewrites the summary. */
export async function main(): Promise<void> {
  console.log(`wrote ${writeSummary()}`);
}
