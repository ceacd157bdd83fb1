import { pino, type Logger as PinoLogger } from "pino";

/** Logger is the structured JSON logger every component receives. */
export type Logger = PinoLogger;

/** createLogger returns a pino JSON logger at the given level, tagged with the component name. */
export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options = {
    level: opts.level ?? "info",
    base: { svc: opts.name ?? "medschedule" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** silentLogger drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: "silent" });
