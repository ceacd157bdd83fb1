// The scheduling service's Prometheus metrics (DESIGN.md section 5). Labels are fixed vocabularies
// (outcomes, statuses), never ids: no patient or provider id reaches a label. fencing_rejections_total
// lives in services/runtime/clients/with-lock.ts, shared with every fenced writer.
import { Code } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { DomainError } from "../runtime/errors.js";
import { databaseCountGauge } from "../runtime/observability/database-count-gauge.js";
import { metricsRegistry } from "../runtime/observability/metrics.js";
import type { AppointmentStatusName } from "./db/appointment.table.js";
import type { Db } from "./db/database.js";
import { countWaiting } from "./repositories/waitlist.repository.js";

/** BookingOutcome is the `outcome` label of scheduling_bookings_total. */
export type BookingOutcome = "booked" | "replayed" | "slot_taken" | "not_bookable" | "aborted" | "unavailable" | "rejected" | "error";

/** schedulingBookings is `scheduling_bookings_total{outcome}`: BookAppointment calls by how they ended. */
export const schedulingBookings = new Counter({
  name: "scheduling_bookings_total",
  help:
    "BookAppointment calls by outcome: booked, replayed (a retried requestId), slot_taken (booked, or held for a waitlist offer), not_bookable (outside hours, " +
    "no availability, other FAILED_PRECONDITION), aborted (lock contention, fencing, write conflict: retryable), " +
    "rejected (bad input, unknown provider or room, permission, reused requestId), error.",
  labelNames: ["outcome"] as const,
  registers: [metricsRegistry],
});

/** appointmentTransitions is `scheduling_appointment_transitions_total{to}`: committed status changes by new status. */
export const appointmentTransitions = new Counter({
  name: "scheduling_appointment_transitions_total",
  help: "Committed appointment status changes (creations included), by the new status: PROPOSED, BOOKED, CHECKED_IN, FULFILLED, CANCELLED, NOSHOW.",
  labelNames: ["to"] as const,
  registers: [metricsRegistry],
});

/** waitlistWaiting is `scheduling_waitlist_waiting`: waitlist entries still WAITING, read at scrape time. */
export const waitlistWaiting = databaseCountGauge<Db>({
  name: "scheduling_waitlist_waiting",
  help: "Waitlist entries still waiting for an offer (all providers).",
  count: countWaiting,
});

/** reportWaitlistOf adds a database to scheduling_waitlist_waiting; the returned function removes it. */
export function reportWaitlistOf(db: Db): () => void {
  return waitlistWaiting.report(db);
}

/** countTransition counts committed status changes into `to`. */
export function countTransition(to: AppointmentStatusName, n = 1): void {
  appointmentTransitions.inc({ to }, n);
}

/** bookingOutcomeOf classifies a failed BookAppointment for scheduling_bookings_total. */
export function bookingOutcomeOf(err: unknown): BookingOutcome {
  const code = err instanceof DomainError ? err.code : (err as { code?: unknown })?.code;
  // The provider or a requested room already booked then, or the time held for a waitlist offer.
  if (err instanceof DomainError && (err.reason === "SLOT_TAKEN" || err.reason === "SLOT_HELD_FOR_OFFER" || err.reason === "RESOURCE_TAKEN")) return "slot_taken";
  switch (code) {
    case Code.FailedPrecondition:
      return "not_bookable";
    case Code.Aborted:
      return "aborted";
    case Code.Unavailable:
      return "unavailable";
    case Code.InvalidArgument:
    case Code.NotFound:
    case Code.AlreadyExists:
    case Code.PermissionDenied:
      return "rejected";
    default:
      return "error";
  }
}
