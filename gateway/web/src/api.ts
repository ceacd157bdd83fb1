// The web app's view of the API: one Connect transport to the gateway (same origin), the generated
// clients, the signed-in token, and the time formats.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { LockService } from "../../../gen/medschedule/lock/v1/lock_service_pb.js";
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
}

/** decodeToken reads a JWT's payload (no verification: the server verifies). */
export function decodeToken(token: string): Session | undefined {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const payload = JSON.parse(json) as { sub?: unknown; roles?: unknown };
    if (typeof payload.sub !== "string") return undefined;
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === "string") : [];
    return { token, subject: payload.sub, roles };
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
} = {
  scheduling: createClient(SchedulingService, transport),
  queue: createClient(QueueService, transport),
  lock: createClient(LockService, transport),
  backup: createClient(BackupService, transport),
};

/** newRequestId makes a fresh idempotency key for one user action. */
export function newRequestId(): string {
  return crypto.randomUUID();
}

/** ts converts a Date to a Timestamp. */
export const ts = (d: Date): Timestamp => timestampFromDate(d);

/** toDate converts an optional Timestamp to a Date. */
export const toDate = (t: Timestamp | undefined): Date | undefined => (t ? timestampDate(t) : undefined);

/** fmtTime shows a time of day in the browser's zone. */
export function fmtTime(d: Date | undefined, timeZone?: string): string {
  return d ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone }) : "–";
}

/** fmtDateTime shows a date and time. */
export function fmtDateTime(d: Date | undefined, timeZone?: string): string {
  return d ? d.toLocaleString([], { dateStyle: "medium", timeStyle: "short", timeZone }) : "–";
}

/** zoneLabel names an IANA zone for people: "Europe/Istanbul" -> "Istanbul time". */
export function zoneLabel(timeZone: string): string {
  return `${timeZone.split("/").pop()!.replace(/_/g, " ")} time`;
}

/**
 * fmtInZone shows a date and time in `timeZone` (the provider's or the queue's), naming the zone when
 * the browser's clock would show another time: a patient abroad sees the clinic's time, labelled.
 */
export function fmtInZone(d: Date | undefined, timeZone: string | undefined): string {
  if (!d) return "–";
  const there = fmtDateTime(d, timeZone || undefined);
  return timeZone && there !== fmtDateTime(d) ? `${there} (${zoneLabel(timeZone)})` : there;
}

/** fmtTimeInZone shows a time of day in `timeZone`, naming the zone when the browser's clock differs. */
export function fmtTimeInZone(d: Date | undefined, timeZone: string | undefined): string {
  if (!d) return "–";
  const there = fmtTime(d, timeZone || undefined);
  return timeZone && there !== fmtTime(d) ? `${there} (${zoneLabel(timeZone)})` : there;
}
