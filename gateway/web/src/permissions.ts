// What the signed-in user may do, read from the server's own role table: services/runtime/auth/
// role-table.ts is data with no imports, so the bundle carries the very table the auth interceptor
// enforces, and a screen, a panel or a button is shown only to the roles the table lets call its RPC.
// The server enforces the table either way; this keeps the app from offering what would only answer
// "not allowed". This module uses no browser API, so test/gateway/web-permissions.test.ts runs it in
// Node against the auth interceptor's own decision for every RPC and set of roles.
import type { DescMethod } from "@bufbuild/protobuf";
import { BackupService } from "../../../gen/medschedule/backup/v1/backup_service_pb.js";
import { PatientService } from "../../../gen/medschedule/patient/v1/patient_service_pb.js";
import { QueueService } from "../../../gen/medschedule/queue/v1/queue_service_pb.js";
import { SchedulingService } from "../../../gen/medschedule/scheduling/v1/scheduling_service_pb.js";
import { ROLE_TABLE, ROLES, type Role } from "../../../services/runtime/auth/role-table.js";

/** Session is what this module reads of the signed-in user (api.ts's Session has it). */
export interface Session {
  /** subject is the token's `sub`. */
  subject: string;
  /** roles is the token's `roles`. */
  roles: readonly string[];
}

/** Access is how a session may call an RPC: for any record, for its own records only, or not at all. */
export type Access = "yes" | "own" | "no";

/** rpcKey is the role table's key of a method: "package.Service/Method". */
function rpcKey(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/** accessOf applies the role table as the auth interceptor does: a "yes" of any of the roles wins over an "own". */
export function accessOf(roles: readonly string[], method: DescMethod): Access {
  const rule = ROLE_TABLE.get(rpcKey(method));
  if (!rule) return "no";
  let best: Access = "no";
  for (const role of roles) {
    const grant = rule[role as Role];
    if (grant === "yes") return "yes";
    if (grant) best = "own";
  }
  return best;
}

/** access is how `session` may call `method`. */
export function access(session: Session, method: DescMethod): Access {
  return accessOf(session.roles, method);
}

/** can tells whether `session` may call `method` at all (perhaps for its own records only). */
export function can(session: Session, method: DescMethod): boolean {
  return access(session, method) !== "no";
}

/**
 * ownProviderId is the provider a doctor's session is bound to (the token's subject), when the
 * session sees appointments of its own provider only; undefined for staff who see every provider.
 */
export function ownProviderId(session: Session): string | undefined {
  return session.roles.includes("doctor") && access(session, SchedulingService.method.listAppointments) === "own" ? session.subject : undefined;
}

/** Screen is one page of the app and the RPC it is built around. */
export interface Screen {
  /** path is where it lives. */
  path: string;
  /** label names it in the navigation. */
  label: string;
  /** uses is the RPC the screen is for: a role that may not call it is not offered the screen. */
  uses: DescMethod;
  /** notFor narrows the table further, never widens it: roles the screen is not offered to although they may call `uses`. */
  notFor?: readonly Role[];
  /** purpose says in a few words what the screen is for, on the page a role without it sees. */
  purpose: string;
}

/** SCREENS are the app's pages, in navigation order. */
export const SCREENS: readonly Screen[] = [
  { path: "/booking", label: "Booking", uses: SchedulingService.method.bookAppointment, purpose: "booking appointments" },
  { path: "/patients", label: "Patients", uses: PatientService.method.searchPatients, purpose: "finding and registering patients" },
  { path: "/reception", label: "Reception", uses: QueueService.method.callNext, purpose: "check-in and calling patients at a counter" },
  // A patient follows their own ticket, not the waiting-room board; the board has no navigation.
  { path: "/display", label: "Display", uses: QueueService.method.watchQueue, notFor: ["patient"], purpose: "the waiting-room board" },
  { path: "/operations", label: "Operations", uses: BackupService.method.listBackups, purpose: "locks and backups" },
  // A patient's own record; staff read records from Patients instead.
  { path: "/me", label: "My details", uses: PatientService.method.getPatient, notFor: ["receptionist", "doctor", "admin"], purpose: "your own contact details" },
];

/** offeredTo tells whether `screen` is offered to a user with `roles`. */
function offeredTo(screen: Screen, roles: readonly string[]): boolean {
  return roles.some((r) => !screen.notFor?.includes(r as Role) && accessOf([r], screen.uses) !== "no");
}

/** screensFor lists the screens a session's roles use (the navigation, and the pages it may open). */
export function screensFor(session: Session): Screen[] {
  return SCREENS.filter((s) => offeredTo(s, session.roles));
}

/** screenAt is the screen a path shows, if any. */
export function screenAt(path: string): Screen | undefined {
  return SCREENS.find((s) => path === s.path || path.startsWith(`${s.path}/`));
}

/** rolesOf lists the people's roles a screen is for (not the service role), for the page that says so. */
export function rolesOf(screen: Screen): Role[] {
  return ROLES.filter((r) => r !== "service" && offeredTo(screen, [r]));
}

/** homeFor is the first screen a session sees: the board for a display, booking for a patient, else its first screen. */
export function homeFor(session: Session): string | undefined {
  const mine = screensFor(session);
  const r = session.roles;
  const prefer = r.includes("display") ? "/display" : r.includes("patient") ? "/booking" : r.includes("admin") ? "/operations" : "/reception";
  return (mine.find((s) => s.path === prefer) ?? mine[0])?.path;
}
