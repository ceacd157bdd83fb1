// The sequences of each location's WatchAppointments stream, numbered after the commit.
//
// Why not in the writer's transaction, as a provider's sequence is: a location holds every provider
// and room there (one, `default`, holds everything of a single-clinic deployment), so bumping
// locations.last_sequence in each write would row-lock the location until that write's commit had been
// flushed: every booking of the clinic one after another, and a second lock order (provider, location,
// provider) for writes that touch two providers to deadlock on. The queue service met the same limit
// (queue/change-sequencer.ts) and this follows its design:
//   * A trigger on scheduling.appointments inserts a pending change (sequence NULL) in the writer's
//     transaction (migration 2026-12-07T1210): every writer, today's and tomorrow's, records it, and
//     none takes a location-wide lock.
//   * After each committed write, and every `sweepIntervalMs` on every replica (a process that died
//     between its commit and its stamp), scheduling.stamp_location_changes() locks each location with
//     pending changes, numbers them after last_sequence in insertion order, and commits: one short
//     transaction for a whole batch. Per process one stamp runs at a time; requests meanwhile make it
//     go once more.
//   * Watchers read stamped rows only: stamps of a location are serialized by its row lock, so a reader
//     that sees sequence n sees every one below it. A snapshot reads the appointments and last_sequence
//     S in one repeatable-read transaction; a change committed after it is stamped above S and
//     delivered after the snapshot; one committed before it but stamped after is delivered again
//     (harmless: a change carries the appointment as it is now).
import type { Kysely } from "kysely";
import type { Logger } from "../runtime/observability/logger.js";
import type { Database } from "./db/database.js";
import { stampLocationChanges } from "./repositories/location-change.repository.js";

/** STAMP_BATCH is how many pending changes of a location one stamp numbers at most. */
const STAMP_BATCH = 5_000;

/** LocationStamper numbers the committed changes of locations (see the file comment). */
export class LocationStamper {
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private lastLog = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    /** stamped is called with each location whose changes a committed stamp numbered (wake watchers, NOTIFY). */
    private readonly stamped: (locationId: string) => void,
    opts: { sweepIntervalMs: number; logger?: Logger },
  ) {
    this.logger = opts.logger;
    if (opts.sweepIntervalMs > 0) {
      this.timer = setInterval(() => void this.stamp(), opts.sweepIntervalMs);
      this.timer.unref();
    }
  }

  /** stamp numbers every pending change now; resolves when every change committed before the call is numbered (or the stamp failed). */
  stamp(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      // The running stamp may have read the pending rows before the caller's commit: go once more.
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  /** close stops the sweep and waits for the stamp under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        for (;;) {
          const stamped = await stampLocationChanges(this.db, STAMP_BATCH);
          for (const s of stamped) this.stamped(s.locationId);
          // A location with a full batch may have more behind it.
          if (!stamped.some((s) => s.count >= STAMP_BATCH)) break;
        }
      } while (this.again && !this.closed);
    } catch (err) {
      // The changes stay pending; the next write or the sweep stamps them.
      if (Date.now() - this.lastLog > 10_000) {
        this.lastLog = Date.now();
        this.logger?.warn({ err: (err as Error).message }, "location change stamp failed; retrying at the next sweep");
      }
    }
  }
}
