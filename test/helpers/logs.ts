// A logger whose JSON lines a test reads back: what the servers and services wrote, to check what a
// log line says (its code and level) and what it must never say (patient data).
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../services/runtime/observability/logger.js";

/** CapturedLogs is a logger and the lines it wrote, parsed. */
export interface CapturedLogs {
  /** logger writes into `lines`. */
  logger: Logger;
  /** lines are the JSON lines written so far, in order. */
  lines: Record<string, unknown>[];
}

/** captureLogs is a logger at `level` (default info) whose JSON lines the test can read. */
export function captureLogs(level = "info"): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level, name: "captured", destination }), lines };
}
