// The web app's view of the API: one Connect transport to the gateway (same origin), the generated
// clients, the signed-in token, and error messages that say what to do.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
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

/** Explained is an error as the screens show it: what happened and what to do. */
export interface Explained {
  /** title says what went wrong. */
  title: string;
  /** action says what to do about it. */
  action: string;
  /** detail is the server's message. */
  detail: string;
  /** code is the status code name. */
  code: string;
}

/** explainError turns any error from a call into a message for people. */
export function explainError(err: unknown, what = "The request"): Explained {
  const e = ConnectError.from(err);
  const detail = e.rawMessage;
  const code = Code[e.code] ?? String(e.code);
  const offline = /failed to fetch|networkerror|load failed|network error/i.test(detail);
  switch (e.code) {
    case Code.Unavailable:
      return {
        title: `${what} failed: the service is not reachable right now.`,
        action: "Check that MedSchedule is running (npm start, or the service processes behind the gateway), then press Retry.",
        detail,
        code,
      };
    case Code.Unauthenticated:
      return { title: `${what} failed: you are not signed in, or your sign-in expired.`, action: "Sign in again (Sign in, top right).", detail, code };
    case Code.PermissionDenied:
      return { title: `${what} is not allowed for your role.`, action: "Sign in with a role that may do this (e.g. receptionist or admin).", detail, code };
    case Code.ResourceExhausted:
      return { title: "Too many requests from this browser.", action: "Wait a few seconds, then press Retry.", detail, code };
    case Code.DeadlineExceeded:
      return { title: `${what} took too long.`, action: "Press Retry; if it keeps happening, the service may be overloaded.", detail, code };
    case Code.Unimplemented:
      return { title: `${what} is not available on this server yet.`, action: "This part of MedSchedule is not implemented in the running version.", detail, code };
    case Code.InvalidArgument:
      return { title: `${what} was not accepted.`, action: "Check the values you entered.", detail, code };
    case Code.FailedPrecondition:
      return { title: `${what} is not possible now.`, action: "Refresh and try again: someone may have changed this meanwhile.", detail, code };
    case Code.NotFound:
      return { title: "Not found.", action: "Refresh the page: it may have been removed.", detail, code };
    case Code.Aborted:
      return { title: `${what} collided with another change.`, action: "Press Retry.", detail, code };
    default:
      if (offline) {
        return {
          title: "Cannot reach the MedSchedule server.",
          action: "Check that the server is running and that this device is online, then press Retry.",
          detail,
          code: "Unavailable",
        };
      }
      return { title: `${what} failed.`, action: "Press Retry; if it keeps failing, tell your administrator.", detail, code };
  }
}

/** fmtTime shows a time of day in the browser's zone. */
export function fmtTime(d: Date | undefined, timeZone?: string): string {
  return d ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone }) : "–";
}

/** fmtDateTime shows a date and time. */
export function fmtDateTime(d: Date | undefined, timeZone?: string): string {
  return d ? d.toLocaleString([], { dateStyle: "medium", timeStyle: "short", timeZone }) : "–";
}
