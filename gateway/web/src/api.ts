// The web app's view of the API: one Connect transport to the gateway (same origin), the generated
// clients, the signed-in token, and request ids.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";

/** TOKEN_KEY is where the signed-in bearer token is kept (localStorage). */
export const TOKEN_KEY = "medschedule.token";

/** Session is the signed-in user as the token says. */
export interface Session {
  /** token is the raw JWT. */
  token: string;
  /** subject is `sub`: a patientId for patients, a providerId for doctors. */
  subject: string;
  /** roles is the `roles` claim. */
  roles: string[];
  /** locations is the `locations` claim (the location ids staff work at); undefined: every location. */
  locations?: string[];
}

/** decodeToken reads a JWT's payload (no verification: the server verifies). */
export function decodeToken(token: string): Session | undefined {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const payload = JSON.parse(json) as { sub?: unknown; roles?: unknown; locations?: unknown };
    if (typeof payload.sub !== "string") return undefined;
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === "string") : [];
    const locations = Array.isArray(payload.locations) ? payload.locations.filter((l): l is string => typeof l === "string") : undefined;
    return { token, subject: payload.sub, roles, ...(locations?.length ? { locations } : {}) };
  } catch {
    return undefined;
  }
}

/** loadSession returns the stored session, if any. */
export function loadSession(): Session | undefined {
  const t = localStorage.getItem(TOKEN_KEY);
  return t ? decodeToken(t) : undefined;
}

/** saveSession stores (or, with undefined, forgets) the token. */
export function saveSession(token: string | undefined): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

const auth: Interceptor = (next) => async (req) => {
  const t = localStorage.getItem(TOKEN_KEY);
  if (t) req.header.set("authorization", `Bearer ${t}`);
  return next(req);
};

const transport = createConnectTransport({ baseUrl: window.location.origin, interceptors: [auth], defaultTimeoutMs: 15_000 });

/** api holds one client per service. */
export const api: {
  scheduling: Client<typeof SchedulingService>;
  queue: Client<typeof QueueService>;
  lock: Client<typeof LockService>;
  backup: Client<typeof BackupService>;
  patient: Client<typeof PatientService>;
} = {
  scheduling: createClient(SchedulingService, transport),
  queue: createClient(QueueService, transport),
  lock: createClient(LockService, transport),
  backup: createClient(BackupService, transport),
  patient: createClient(PatientService, transport),
};

/**
 * newRequestId makes a fresh idempotency key for one user action. crypto.randomUUID exists only in
 * secure contexts (https, localhost): a clinic's http://192.168.1.10:8080 gets a random v4 UUID from
 * crypto.getRandomValues, which every context has.
 */
export function newRequestId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** ts converts a Date to a Timestamp. */
export const ts = (d: Date): Timestamp => timestampFromDate(d);

/** toDate converts an optional Timestamp to a Date. */
export const toDate = (t: Timestamp | undefined): Date | undefined => (t ? timestampDate(t) : undefined);
