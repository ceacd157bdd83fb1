import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "../runtime/observability/metrics.js";
import type { Db } from "./db/database.js";
import { countWaitingByQueue } from "./repositories/ticket.repository.js";

/** Databases whose waiting tickets appointment_queue_length reports (one per QueueServiceImpl). */
const sources = new Set<Db>();

/** queueLength is `appointment_queue_length{queue}`: WAITING tickets per queue, read at scrape time. */
export const queueLength = new Gauge({
  name: "appointment_queue_length",
  help: "Tickets waiting per queue (label queue = queue id).",
  labelNames: ["queue"] as const,
  registers: [metricsRegistry],
  async collect() {
    const totals = new Map<string, number>();
    for (const db of sources) {
      try {
        for (const { queueId, count } of await countWaitingByQueue(db)) totals.set(queueId, (totals.get(queueId) ?? 0) + count);
      } catch {
        // A closed database (tests, shutdown) reports nothing.
      }
    }
    this.reset();
    for (const [queue, n] of totals) this.set({ queue }, n);
  },
});

/** queueWait is `queue_wait_seconds{priority}`: issue (or transfer) to first call. */
export const queueWait = new Histogram({
  name: "queue_wait_seconds",
  help: "Time from entering a queue to the first call, by priority class.",
  labelNames: ["priority"] as const,
  buckets: [30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200],
  registers: [metricsRegistry],
});

/** queueNoShows is `queue_no_shows_total`: tickets that became NO_SHOW (MarkTicketNoShow, or the last allowed skip). */
export const queueNoShows = new Counter({
  name: "queue_no_shows_total",
  help: "Tickets that became NO_SHOW: marked so at the counter, or skipped the allowed number of times.",
  registers: [metricsRegistry],
});

/** queueTransfers is `queue_transfers_total`: tickets moved to another queue. */
export const queueTransfers = new Counter({
  name: "queue_transfers_total",
  help: "Tickets transferred to another queue.",
  registers: [metricsRegistry],
});

/** reportQueueLengthOf adds a database to appointment_queue_length; the returned function removes it. */
export function reportQueueLengthOf(db: Db): () => void {
  sources.add(db);
  return () => sources.delete(db);
}
