import { sql, type Kysely } from "kysely";
import { Counter, Gauge, Histogram } from "prom-client";
import { metricsRegistry } from "../runtime/observability/metrics.js";

/** Catalogs the gauges read at scrape time (one per BackupServiceImpl), so a restarted process or another replica reports the newest good backup too. */
const catalogs = new Set<Kysely<any>>();

interface Newest {
  target: string;
  finished: number;
  size: number;
}

async function newestGood(): Promise<Map<string, Newest>> {
  const out = new Map<string, Newest>();
  for (const db of catalogs) {
    try {
      const r = await sql<{ target: string; finished_at: Date; size_bytes: string }>`
        select distinct on (target) target, finished_at, size_bytes from backup.backups
         where state = 'SUCCEEDED' order by target, finished_at desc`.execute(db);
      for (const row of r.rows) {
        const finished = row.finished_at.getTime() / 1000;
        const target = metricTarget(row.target);
        const prev = out.get(target);
        if (!prev || prev.finished < finished) out.set(target, { target, finished, size: Number(row.size_bytes) });
      }
    } catch {
      // A closed database (tests, shutdown) reports nothing.
    }
  }
  return out;
}

/** metricTarget is the `target` label value of a backup target: "postgres" or "redis", as the alerts and dashboards (k8s/components/monitoring) select them. */
export function metricTarget(target: string): string {
  return target.toLowerCase();
}

/** reportCatalogOf makes the gauges read `db`'s catalog at scrape time; returns the unregister function. */
export function reportCatalogOf(db: Kysely<any>): () => void {
  catalogs.add(db);
  return () => catalogs.delete(db);
}

// Label `target` is "postgres" or "redis" (metricTarget).

/** backupLastSuccess is `backup_last_success_timestamp_seconds{target}`: end of the newest SUCCEEDED backup. */
export const backupLastSuccess = new Gauge({
  name: "backup_last_success_timestamp_seconds",
  help: "Unix time when the newest successful backup of a target finished (alert when too old).",
  labelNames: ["target"] as const,
  registers: [metricsRegistry],
  async collect() {
    if (catalogs.size === 0) return;
    for (const n of (await newestGood()).values()) this.set({ target: n.target }, n.finished);
  },
});

/** backupDuration is `backup_duration_seconds{target}`: how long backups take, successful or not. */
export const backupDuration = new Histogram({
  name: "backup_duration_seconds",
  help: "Duration of backups by target, from start to SUCCEEDED or FAILED.",
  labelNames: ["target"] as const,
  buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
  registers: [metricsRegistry],
});

/** backupFailures is `backup_failures_total{target}`: backups that ended FAILED. */
export const backupFailures = new Counter({
  name: "backup_failures_total",
  help: "Backups that ended FAILED, by target.",
  labelNames: ["target"] as const,
  registers: [metricsRegistry],
});

/** backupSize is `backup_size_bytes{target}`: size of the newest successful backup. */
export const backupSize = new Gauge({
  name: "backup_size_bytes",
  help: "Size in bytes of the newest successful backup of a target.",
  labelNames: ["target"] as const,
  registers: [metricsRegistry],
  async collect() {
    if (catalogs.size === 0) return;
    for (const n of (await newestGood()).values()) this.set({ target: n.target }, n.size);
  },
});
