// What the service keeps only for a while: the WatchAppointments change log (changeRetentionMs: how
// far back a watcher can resume) and requestIds (requestKeyRetentionMs: how long a retry is answered
// as the first call was). Pruned now and then after writes, never more than once a minute.
import type { Kysely } from "kysely";
import type { Clock } from "../runtime/clock.js";
import type { Database } from "./db/database.js";
import { pruneChanges } from "./repositories/change.repository.js";
import { REQUEST_KEYS } from "./repositories/request-key.repository.js";
import type { SchedulingOptions } from "./scheduling-options.js";

const PRUNE_INTERVAL_MS = 60_000;

/** Retention prunes the change log and the requestIds (see the file comment). */
export class Retention {
  private lastPrune = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly options: SchedulingOptions,
  ) {}

  /** pruneRetained deletes change-log rows and requestIds older than their retention. */
  async pruneRetained(): Promise<{ changes: number; requestKeys: number }> {
    const now = this.clock.now().getTime();
    this.lastPrune = now;
    const changes = await pruneChanges(this.db, new Date(now - this.options.changeRetentionMs));
    const requestKeys = await REQUEST_KEYS.prune(this.db, new Date(now - this.options.requestKeyRetentionMs));
    return { changes, requestKeys };
  }

  /** maybePrune prunes in the background when the last prune is over a minute ago. */
  maybePrune(): void {
    if (this.clock.now().getTime() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.lastPrune = this.clock.now().getTime();
      setTimeout(() => void this.pruneRetained().catch(() => undefined), 0).unref();
    }
  }
}
