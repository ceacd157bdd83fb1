// `npm run soak`: the long fault run. The system as separate processes, the seeded clinic workload
// through the gateway, every fault again and again, then the checker's report. SOAK_MINUTES (default
// 15) sets the length, SOAK_SEED the seed; exit 0 when the checker found nothing, 1 otherwise.
// Needs Postgres and Redis as for `npm test` (scripts/ensure-test-deps.sh) and a build (npm run build).
import { formatReport } from "./checker.js";
import { runFaultRun } from "./fault-run.js";

const minutes = Number(process.env.SOAK_MINUTES ?? 15);
const seed = Number(process.env.SOAK_SEED ?? 20261202);
if (!Number.isFinite(minutes) || minutes < 1 || !Number.isInteger(seed)) {
  process.stderr.write(`soak: configuration error: SOAK_MINUTES must be a number >= 1 and SOAK_SEED an integer, got ${JSON.stringify(process.env.SOAK_MINUTES)} and ${JSON.stringify(process.env.SOAK_SEED)}\n`);
  process.exit(2);
}

const teardowns: (() => unknown)[] = [];
const host = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
const cleanup = async () => {
  for (const fn of teardowns.reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`soak: cleanup: ${(err as Error).message}\n`);
    }
  }
};
let interrupted = false;
process.once("SIGINT", () => {
  interrupted = true;
  process.stderr.write("soak: interrupted; cleaning up\n");
  void cleanup().then(() => process.exit(130));
});

const t0 = Date.now();
const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} s]`;
let code = 1;
try {
  const { report, elapsedMs } = await runFaultRun({
    host,
    seed,
    durationMs: minutes * 60_000,
    repeat: true,
    gapMs: 15_000,
    workload: { days: Math.max(14, Math.ceil(minutes * 3)) },
    progress: (line) => process.stdout.write(`${stamp()} ${line}\n`),
  });
  process.stdout.write(`\nsoak: ${minutes} min, seed ${seed}, workload ran ${(elapsedMs / 1000).toFixed(0)} s\n${formatReport(report)}\n`);
  code = report.violations.length === 0 ? 0 : 1;
} catch (err) {
  process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
} finally {
  if (!interrupted) await cleanup();
}
process.exit(code);
