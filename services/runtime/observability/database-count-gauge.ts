// A gauge whose value is counted in the database at scrape time, summed over the databases that
// report it (one per mounted service instance: several in tests, one in a process). Counting at scrape
// time keeps replicas consistent with each other: each reports the same figure of the shared database.
import { Gauge } from "prom-client";
import { metricsRegistry } from "./metrics.js";

/** DatabaseCountGauge is the gauge and the way a database joins its sum. */
export interface DatabaseCountGauge<D> {
  /** gauge is the registered prom-client gauge (no labels). */
  gauge: Gauge;
  /** report adds a database to the sum; the returned function removes it (a module's close). */
  report(db: D): () => void;
}

/** databaseCountGauge registers a label-less gauge `name` whose value is `count(db)` summed over the reporting databases when scraped. */
export function databaseCountGauge<D>(opts: { name: string; help: string; count: (db: D) => Promise<number> }): DatabaseCountGauge<D> {
  const sources = new Set<D>();
  const gauge = new Gauge({
    name: opts.name,
    help: opts.help,
    registers: [metricsRegistry],
    async collect() {
      let total = 0;
      for (const db of sources) {
        try {
          total += await opts.count(db);
        } catch {
          // A closed database (tests, shutdown) reports nothing.
        }
      }
      this.set(total);
    },
  });
  return {
    gauge,
    report: (db) => {
      sources.add(db);
      return () => sources.delete(db);
    },
  };
}
