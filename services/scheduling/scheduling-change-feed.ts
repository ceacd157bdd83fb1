// The live side of WatchAppointments, per process (adapted from the queue service's feed, which this
// service may not import): one reader per provider fetches new rows of scheduling.changes
// once and keeps the latest of them in a ring that every watcher of that provider reads with its own
// cursor. Nobody ever waits for a watcher: a slow one just falls behind in the ring, and once it is
// more than `maxLag` changes behind it gets a fresh snapshot instead (back-pressure without
// per-watcher buffers or blocking).
//
// Wake-ups: a local poke after each commit in this process; Postgres LISTEN/NOTIFY for changes made
// by other replicas (a dedicated pg client, opened while someone watches); and a slow poll as the
// safety net (and the only cross-process path on PGlite, which is a single process anyway).

import pg from "pg";
import type { ChangeRow, Db } from "./db/database.js";
import { findProviders } from "./repositories/provider.repository.js";
import { changesAfter, SCHEDULING_CHANGES_CHANNEL } from "./repositories/support.repository.js";
import type { Logger } from "../runtime/logger.js";

/** FeedItem is one change as watchers receive it, shared by all watchers of a provider. */
export interface FeedItem<T> {
  /** sequence is the change's sequence in its provider. */
  sequence: bigint;
  /** value is the change, loaded once (e.g. the ticket with its position). */
  value: T;
}

/** FeedOptions configures a ProviderChangeFeed. */
export interface FeedOptions<T> {
  /** db reads scheduling.changes. */
  db: Db;
  /** load turns change rows of one provider into items (one call per fetched batch). */
  load: (providerId: string, rows: ChangeRow[]) => Promise<FeedItem<T>[]>;
  /** logger reports listener trouble. */
  logger?: Logger;
  /** listenUrl is a Postgres URL for LISTEN; unset: local pokes and polling only. */
  listenUrl?: string;
  /** pollIntervalMs is the safety-net poll (default 1000 ms). */
  pollIntervalMs?: number;
  /** ringSize is how many recent changes per provider are kept in memory (default 1024). */
  ringSize?: number;
}

/** Next is what a watcher gets from its subscription. */
export type Next<T> = { kind: "items"; items: FeedItem<T>[] } | { kind: "behind"; latest: bigint } | { kind: "closed" };

const FETCH_BATCH = 500;

class ProviderFeed<T> {
  readonly ring: FeedItem<T>[] = [];
  latest = -1n;
  refs = 0;
  waiters = new Set<() => void>();
  fetching: Promise<void> | undefined;
  again = false;
  constructor(readonly providerId: string) {}

  wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** Subscription is one watcher's handle on a provider's feed. */
export interface Subscription<T> {
  /** next returns the items after `cursor`, waiting for some; "behind" when the ring no longer has them. */
  next(cursor: bigint, signal: AbortSignal): Promise<Next<T>>;
  /** close ends the subscription. */
  close(): void;
}

/** ProviderChangeFeed fans scheduling.changes out to this process's watchers (see the file comment). */
export class ProviderChangeFeed<T> {
  private readonly feeds = new Map<string, ProviderFeed<T>>();
  private readonly ringSize: number;
  private readonly pollIntervalMs: number;
  private listener: pg.Client | undefined;
  private listenerStarting: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: FeedOptions<T>) {
    this.ringSize = opts.ringSize ?? 1024;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
  }

  /** subscribe starts following a provider; the feed's position is set at the first subscriber. */
  async subscribe(providerId: string): Promise<Subscription<T>> {
    let feed = this.feeds.get(providerId);
    if (!feed) {
      feed = new ProviderFeed<T>(providerId);
      this.feeds.set(providerId, feed);
    }
    feed.refs++;
    this.startBackground();
    if (feed.latest < 0n) {
      const [row] = await findProviders(this.opts.db, [providerId]);
      if (feed.latest < 0n) feed.latest = row ? BigInt(row.last_sequence) : 0n;
    }
    const f = feed;
    let closed = false;
    return {
      next: (cursor, signal) => this.nextFor(f, cursor, signal, () => closed),
      close: () => {
        if (closed) return;
        closed = true;
        f.refs--;
        f.wake();
        if (f.refs === 0) this.feeds.delete(providerId);
        if (this.feeds.size === 0) void this.stopBackground();
      },
    };
  }

  /** poke tells the feed that a provider changed (after a local commit, or a NOTIFY). */
  poke(providerId: string): void {
    const feed = this.feeds.get(providerId);
    if (feed) this.fetch(feed);
  }

  /** close stops listening and polling and ends every subscription's wait. */
  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.feeds.values()) f.wake();
    this.feeds.clear();
    await this.stopBackground();
  }

  /** listening tells whether a LISTEN connection is up (for tests and health). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  private async nextFor(feed: ProviderFeed<T>, cursor: bigint, signal: AbortSignal, isClosed: () => boolean): Promise<Next<T>> {
    for (;;) {
      if (isClosed() || this.closed || signal.aborted) return { kind: "closed" };
      if (cursor < feed.latest) {
        const first = feed.ring[0];
        if (!first || first.sequence > cursor + 1n) return { kind: "behind", latest: feed.latest };
        const start = Number(cursor + 1n - first.sequence);
        return { kind: "items", items: feed.ring.slice(start) };
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          feed.waiters.delete(done);
          resolve();
        };
        feed.waiters.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  private fetch(feed: ProviderFeed<T>): void {
    // Until the first subscriber has set the starting point there is nothing to fetch from.
    if (feed.latest < 0n) return;
    if (feed.fetching) {
      feed.again = true;
      return;
    }
    feed.fetching = (async () => {
      do {
        feed.again = false;
        try {
          for (;;) {
            const rows = await changesAfter(this.opts.db, feed.providerId, feed.latest, FETCH_BATCH);
            if (rows.length === 0) break;
            const items = await this.opts.load(feed.providerId, rows);
            for (const item of items) {
              if (item.sequence <= feed.latest) continue;
              if (item.sequence !== feed.latest + 1n) feed.ring.length = 0; // pruned gap: restart the ring
              feed.ring.push(item);
              feed.latest = item.sequence;
            }
            if (feed.ring.length > this.ringSize) feed.ring.splice(0, feed.ring.length - this.ringSize);
            feed.wake();
            if (rows.length < FETCH_BATCH) break;
          }
        } catch (err) {
          this.opts.logger?.warn({ err, providerId: feed.providerId }, "scheduling change feed: fetch failed; retrying on the next poll");
        }
      } while (feed.again && !this.closed);
      feed.fetching = undefined;
    })();
  }

  private startBackground(): void {
    if (this.closed) return;
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
    if (this.opts.listenUrl && !this.listener && !this.listenerStarting) this.listenerStarting = this.startListener(this.opts.listenUrl);
  }

  private async stopBackground(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    await this.listenerStarting?.catch(() => undefined);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }

  private async poll(): Promise<void> {
    if (this.feeds.size === 0) return;
    if (this.opts.listenUrl && !this.listener && !this.listenerStarting) this.listenerStarting = this.startListener(this.opts.listenUrl);
    try {
      const rows = await findProviders(this.opts.db, [...this.feeds.keys()]);
      for (const row of rows) {
        const feed = this.feeds.get(row.provider_id);
        if (feed && BigInt(row.last_sequence) > feed.latest) this.fetch(feed);
      }
    } catch (err) {
      this.opts.logger?.warn({ err }, "scheduling change feed: poll failed");
    }
  }

  private async startListener(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: "medschedule-scheduling-listen", connectionTimeoutMillis: 5000, keepAlive: true });
    const drop = (err?: unknown) => {
      if (err) this.opts.logger?.warn({ err }, "scheduling change feed: LISTEN connection lost; polling until it is back");
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
    };
    try {
      client.on("error", drop);
      client.on("notification", (msg) => {
        if (msg.channel === SCHEDULING_CHANGES_CHANNEL && msg.payload) this.poke(msg.payload);
      });
      await client.connect();
      await client.query(`LISTEN ${SCHEDULING_CHANGES_CHANNEL}`);
      if (this.closed || this.feeds.size === 0) {
        await client.end().catch(() => undefined);
        return;
      }
      this.listener = client;
      client.on("end", () => drop());
      // Changes committed while the listener was connecting are caught by this catch-up.
      for (const feed of this.feeds.values()) this.fetch(feed);
    } catch (err) {
      drop(err);
    } finally {
      this.listenerStarting = undefined;
    }
  }
}
