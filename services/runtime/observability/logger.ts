import { pino, type Logger as PinoLogger } from "pino";

/** Logger is the structured JSON logger every component receives. */
export type Logger = PinoLogger;

/**
 * ROW_VALUE_FIELDS are the properties of database errors that quote row values: Postgres's `detail`
 * ("Key (patient_id)=(...) already exists") and `where` (the context, e.g. a COPY line), and the bound
 * `parameters` some drivers attach. An error logged with its cause (INTERNAL) is logged without them.
 */
const ROW_VALUE_FIELDS = ["detail", "where", "parameters"];

/** serializeError is pino's error serializer without ROW_VALUE_FIELDS (it copies the error's own fields; of its causes only messages and stacks). */
function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  // Anything but an error comes back as it was given: not ours to change.
  if (out === err || out === null || typeof out !== "object") return out;
  for (const k of ROW_VALUE_FIELDS) delete (out as Record<string, unknown>)[k];
  return out;
}

/** createLogger returns a pino JSON logger at the given level, tagged with the component name; errors logged under `err` lose the fields that quote row values (ROW_VALUE_FIELDS). */
export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options = {
    level: opts.level ?? "info",
    base: { svc: opts.name ?? "medschedule" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: serializeError },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** silentLogger drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: "silent" });
