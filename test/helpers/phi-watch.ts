// The whole suite's guard for DESIGN.md invariant 10: every test system (startTestSystem) logs at
// debug level into memory instead of nowhere, remembers the patient data its calls carried (what a
// PatientService registration, change, search or break-the-glass reason sent, and an appointment's
// free-text reason), and when the test ends fails it if any of that appears in a log line. So every
// test that starts a system also proves that what it sent never reached the logs.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../services/runtime/observability/logger.js";
import type { RpcCall, RpcInterceptor } from "../../services/runtime/server/interceptors.js";

/** MAX_CAPTURED is how much log text a watch keeps (the rest is not checked; a test that logs this much says so). */
const MAX_CAPTURED = 32 * 1024 * 1024;

/** MIN_LENGTH is the shortest value watched: shorter ones ("Ali", "Kaya") occur in ordinary words. */
const MIN_LENGTH = 5;

/** PATIENT_FIELDS are the request fields holding patient data, by their JSON names, wherever they are nested. */
const PATIENT_FIELDS = new Set(["givenName", "familyName", "email", "nationalId", "notes", "phones", "phone", "query", "accessReason", "purpose"]);

/** REASON_FIELDS are free text about a patient in the scheduling and queue services (a lock's or backup's reason is an operator's, and logged on purpose). */
const REASON_FIELDS = new Set(["reason", "overrideReason"]);

/** PATIENT_DATA_SERVICES are the services whose requests carry patient data. */
const PATIENT_DATA_SERVICES = /^medschedule\.(patient|scheduling|queue)\.v1\./;

/** PhiWatch captures a system's logs and the patient data sent to it (see the file comment). */
export class PhiWatch {
  private readonly values = new Set<string>();
  private readonly chunks: string[] = [];
  private size = 0;
  /** logger is the system's logger: debug level, into memory. */
  readonly logger: Logger;
  /** interceptor records the patient data of every call. */
  readonly interceptor: RpcInterceptor;

  constructor() {
    const destination = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        if (this.size < MAX_CAPTURED) {
          const text = chunk.toString("utf8");
          this.chunks.push(text);
          this.size += text.length;
        }
        done();
      },
    });
    this.logger = createLogger({ level: "debug", name: "phi-watch", destination });
    this.interceptor = { before: (call: RpcCall) => (PATIENT_DATA_SERVICES.test(call.service.typeName) ? this.record(call.request) : undefined) };
  }

  /** record remembers the patient data of a request message (its string fields named in PATIENT_FIELDS, at any depth). */
  record(message: unknown, depth = 0): void {
    if (message === null || typeof message !== "object" || depth > 4) return;
    for (const [key, value] of Object.entries(message as Record<string, unknown>)) {
      if (key.startsWith("$")) continue;
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        if (typeof item === "string" && (PATIENT_FIELDS.has(key) || REASON_FIELDS.has(key))) this.watch(item);
        else if (typeof item === "object") this.record(item, depth + 1);
      }
    }
    // A birth date is patient data too; dates of this decade are appointment days, not births.
    const birthDate = (message as { birthDate?: unknown }).birthDate;
    if (typeof birthDate === "string" && /^(19\d\d|200\d)-\d\d-\d\d$/.test(birthDate)) this.values.add(birthDate);
  }

  private watch(value: string): void {
    const v = value.trim();
    // Values with control characters are the tests' attacks on the decoder, answered before any log.
    if (v.length >= MIN_LENGTH && !/[\u0000-\u001f]/.test(v)) this.values.add(v);
  }

  /** leaks are the watched values that appear in the captured log text. */
  leaks(): string[] {
    const text = this.chunks.join("");
    return [...this.values].filter((v) => text.includes(v) || text.includes(JSON.stringify(v).slice(1, -1)));
  }

  /** check throws when a watched value reached the logs (naming how many and their fields' lengths, not the values). */
  check(): void {
    const leaks = this.leaks();
    if (leaks.length > 0) {
      throw new Error(`patient data sent to the test system reached its logs (invariant 10): ${leaks.length} value(s), e.g. one of ${leaks[0].length} characters starting "${leaks[0].slice(0, 3)}"`);
    }
  }
}
