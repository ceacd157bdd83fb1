/**
 * `npm run bench -- [name] [options]` runs one benchmark by name, or every known one without a name.
 * Each benchmark is a module exporting `main(args)`; add a new one to `benchmarks` below.
 */

/** Benchmark is one entry of the registry: a description and a loader of its module. */
export interface Benchmark {
  /** description is shown by `npm run bench -- --help`. */
  description: string;
  /** load imports the module lazily, so one benchmark's imports never weigh on another. */
  load(): Promise<{ main(args: string[]): Promise<void> }>;
}

/** benchmarks maps a name (the first argument) to its benchmark, in the order "all" runs them. */
export const benchmarks: Record<string, Benchmark> = {
  transport: {
    description: "no-op unary RPC (grpc.health.v1.Health/Check) with h2load: bare grpc-js vs serveGrpc() vs serveConnect()",
    load: () => import("./transport.js"),
  },
  lock: {
    description: "acquire+release pairs at 1/16/64 clients: in-process library, gRPC API, redlock, redis-benchmark ceiling, no-op RPC pair",
    load: () => import("./lock.js"),
  },
  queue: {
    description: "queue service process over gRPC: IssueTicket+CallNext+CompleteTicket cycles with 8 counters, WatchQueue fan-out to 200 watchers",
    load: () => import("./queue.js"),
  },
  booking: {
    description: "BookAppointment over gRPC at 16/64 clients across 2,000 providers vs a pgbench INSERT ceiling; 7-day slot search",
    load: () => import("./booking.js"),
  },
  search: {
    description: "SearchSlots over 7 days across 20 providers with 500 appointments each: in-process handler and over gRPC, p50/p99 against the 50 ms ceiling",
    load: () => import("./search.js"),
  },
  patients: {
    description: "SearchPatients over 100,000 synthetic patients: names as written, misspelt, folded, common beginnings, location-limited, phone; p99 against the 50 ms ceiling",
    load: () => import("./patients.js"),
  },
  mixed: {
    description: "the cluster through the gateway: mixed clinic workload (open loop at 500 req/s, 10-1,000 providers, 1-64 clients), no-op ceilings, peak RSS",
    load: () => import("./mixed.js"),
  },
  faults: {
    description: "the system's fault run with its Redis faults only: booking p95 and lock wait during the faults vs quiet, with the checker's verdict",
    load: () => import("./faults.js"),
  },
  summary: {
    description: "writes bench/results/summary.md from the results above (runs last when all run)",
    load: () => import("./summary.js"),
  },
  // more: add here as `name: { description, load: () => import("./name.js") }`.
};

function usage(): string {
  const names = Object.entries(benchmarks).map(([n, b]) => `  ${n.padEnd(12)} ${b.description}`);
  return ["usage: npm run bench -- [name] [options]   (no name: run all)", "", "benchmarks:", ...names].join("\n");
}

async function run(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h") {
    console.log(usage());
    return;
  }
  const names = first === undefined || first.startsWith("-") ? Object.keys(benchmarks) : [first];
  const args = first === undefined || first.startsWith("-") ? argv : rest;
  for (const name of names) {
    const bench = benchmarks[name];
    if (!bench) {
      console.error(`unknown benchmark "${name}"\n\n${usage()}`);
      process.exitCode = 2;
      return;
    }
    console.log(`\n== bench ${name}: ${bench.description}`);
    const mod = await bench.load();
    await mod.main(args);
  }
}

run(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
