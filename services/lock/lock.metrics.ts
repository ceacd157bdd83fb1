// The lock service's Prometheus metrics (DESIGN.md section 5 fixes the names). fencing_rejections_total
// lives in services/runtime/clients/with-lock.ts: it is counted by the writers' checkFence().
import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "../runtime/observability/metrics.js";
import type { BackendKind } from "./lock-backend.port.js";

/** activeLocksCount is `active_locks_count`: leases held now in the active backend. */
export const activeLocksCount = new Gauge({
  name: "active_locks_count",
  help: "Leases held now in the active lock backend.",
  registers: [metricsRegistry],
});

/** stuckLocksCount is `stuck_locks_count`: leases held longer than LOCK_STUCK_AFTER. */
export const stuckLocksCount = new Gauge({
  name: "stuck_locks_count",
  help: "Leases held longer than LOCK_STUCK_AFTER (default 30s).",
  registers: [metricsRegistry],
});

/** lockMonitorLastCheck is `lock_monitor_last_check_timestamp`: Unix seconds of the monitor's last successful check. */
export const lockMonitorLastCheck = new Gauge({
  name: "lock_monitor_last_check_timestamp",
  help: "Unix time (seconds) of the lock monitor's last successful check.",
  registers: [metricsRegistry],
});

/** lockWaitDuration is `lock_wait_duration_seconds`: how long Acquire waited, labelled by outcome. */
export const lockWaitDuration = new Histogram({
  name: "lock_wait_duration_seconds",
  help: "Time Acquire spent before it got the lease or gave up.",
  labelNames: ["outcome"] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [metricsRegistry],
});

/** lockAcquisitionFailures is `lock_acquisition_failures_total`: Acquire calls that did not get the lease. */
export const lockAcquisitionFailures = new Counter({
  name: "lock_acquisition_failures_total",
  help: "Acquire calls that ended without the lease (contention past waitTimeout, backend failure).",
  labelNames: ["reason"] as const,
  registers: [metricsRegistry],
});

/** lockBackendGauge is `lock_backend{backend}`: 1 for the backend in use, 0 for the other. */
export const lockBackendGauge = new Gauge({
  name: "lock_backend",
  help: "The lock backend in use: 1 for the active one (redis or postgres), 0 for the other.",
  labelNames: ["backend"] as const,
  registers: [metricsRegistry],
});

/** setActiveBackend sets lock_backend to 1 for `kind` and 0 for the other. */
export function setActiveBackend(kind: BackendKind): void {
  lockBackendGauge.set({ backend: "redis" }, kind === "redis" ? 1 : 0);
  lockBackendGauge.set({ backend: "postgres" }, kind === "postgres" ? 1 : 0);
}
