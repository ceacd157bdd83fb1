// The live side of a Watch stream (WatchQueue, WatchAppointments), per process: one reader per stream
// key (a queue, a provider) fetches new rows of the service's change log once and keeps the latest
// of them in a ring that every watcher of that key reads with its own cursor. Nobody ever waits for a watcher: a slow one just falls behind in the ring, and once it is
// more than `maxLag` changes behind it gets a fresh snapshot instead (back-pressure without
// per-watcher buffers or blocking).
//
// Wake-ups: a local poke after each commit in this process; Postgres LISTEN/NOTIFY for changes made
// by other replicas (a dedicated pg client, opened while someone watches); and a slow poll as the
// safety net (and the only cross-process path on PGlite, which is a single process anyway).
//
// The Watch RPCs' resume protocol is written once, in watchStream below: a snapshot (or a resume
// after the client's sequence while the change log still holds what follows it), then each change,
// a fresh snapshot for a watcher more than maxLag behind, and a fresh snapshot with resumeFailed
// when the log no longer continues from where the watcher is.
//
// Broken history: the poll also notices when a key's latest sequence is no longer the continuation of
// what the feed has: it jumped past sequences that have no change (a restore moves every sequence
// past the old high-water mark, so none is handed out twice), went backwards (data restored without
// that), or the key is gone. The feed then restarts at the key's sequence and every watcher of the
// key is told "behind" once: its change log has no continuation from the watcher's cursor, so the
// service sends a fresh snapshot (with resumeFailed), or NOT_FOUND when the key is gone. Without this
// an open stream would wait silently until sequences passed the old high-water mark.

import pg from "pg";
import type { Logger } from "./observability/logger.js";

/** FeedItem is one change as watchers receive it, shared by all watchers of a key. */
export interface FeedItem<T> {
  /** sequence is the change's sequence under its key. */
  sequence: bigint;
  /** value is the change, loaded once (e.g. the ticket with its position). */
  value: T;
}

/** FeedOptions configures a ChangeFeed over change rows R. */
export interface FeedOptions<T, R> {
  /** name names the feed in logs and the LISTEN connection ("queue", "scheduling"). */
  name: string;
  /** channel is the NOTIFY channel whose payload is a key. */
  channel: string;
  /** changesAfter reads up to `limit` change rows of a key with a sequence above `after`, in order. */
  changesAfter: (key: string, after: bigint, limit: number) => Promise<R[]>;
  /** latestSequences reads the latest sequence of each key that exists. */
  latestSequences: (keys: string[]) => Promise<Map<string, bigint>>;
  /** load turns change rows of one key into items (one call per fetched batch). */
  load: (key: string, rows: R[]) => Promise<FeedItem<T>[]>;
  /** logger reports listener trouble. */
  logger?: Logger;
  /** listenUrl is a Postgres URL for LISTEN; unset: local pokes and polling only. */
  listenUrl?: string;
  /** pollIntervalMs is the safety-net poll (default 1000 ms). */
  pollIntervalMs?: number;
  /** ringSize is how many recent changes per key are kept in memory (default 1024). */
  ringSize?: number;
}

/** Next is what a watcher gets from its subscription. */
export type Next<T> = { kind: "items"; items: FeedItem<T>[] } | { kind: "behind"; latest: bigint } | { kind: "closed" };

const FETCH_BATCH = 500;

class KeyFeed<T> {
  readonly ring: FeedItem<T>[] = [];
  latest = -1n;
  refs = 0;
  waiters = new Set<() => void>();
  fetching: Promise<void> | undefined;
  again = false;
  /** check asks the next fetch to compare the change log with the key's latest sequence (set by the poll). */
  check = false;
  /** gone is set once the key was found missing (its watchers were told). */
  gone = false;
  /** resets counts the breaks in the key's history; a watcher that saw fewer is told "behind" once. */
  resets = 0;
  constructor(readonly key: string) {}

  /** reset drops the ring and restarts the key at `latest`; every watcher is told "behind" once. */
  reset(latest: bigint): void {
    this.ring.length = 0;
    this.latest = latest;
    this.resets++;
    this.wake();
  }

  wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** Subscription is one watcher's handle on a key's feed. */
export interface Subscription<T> {
  /** next returns the items after `cursor`, waiting for some; "behind" when the ring no longer has them. */
  next(cursor: bigint, signal: AbortSignal): Promise<Next<T>>;
  /** close ends the subscription. */
  close(): void;
}

/** ChangeFeed fans a service's change log out to this process's watchers (see the file comment). */
export class ChangeFeed<T, R> {
  private readonly feeds = new Map<string, KeyFeed<T>>();
  private readonly ringSize: number;
  private readonly pollIntervalMs: number;
  private listener: pg.Client | undefined;
  private listenerStarting: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** working are the polls and fetches under way: close waits for them, so none reads a closed database. */
  private readonly working = new Set<Promise<void>>();

  constructor(private readonly opts: FeedOptions<T, R>) {
    this.ringSize = opts.ringSize ?? 1024;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
  }

  /** subscribe starts following a key; the feed's position is set at the first subscriber. */
  async subscribe(key: string): Promise<Subscription<T>> {
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = new KeyFeed<T>(key);
      this.feeds.set(key, feed);
    }
    feed.refs++;
    this.startBackground();
    if (feed.latest < 0n) {
      const latest = (await this.opts.latestSequences([key])).get(key);
      if (feed.latest < 0n) feed.latest = latest ?? 0n;
    }
    const f = feed;
    let closed = false;
    const seen = { resets: f.resets };
    return {
      next: (cursor, signal) => this.nextFor(f, cursor, signal, () => closed, seen),
      close: () => {
        if (closed) return;
        closed = true;
        f.refs--;
        f.wake();
        if (f.refs === 0) this.feeds.delete(key);
        if (this.feeds.size === 0) void this.stopBackground();
      },
    };
  }

  /** poke tells the feed that a key changed (after a local commit, or a NOTIFY). */
  poke(key: string): void {
    const feed = this.feeds.get(key);
    if (feed) this.fetch(feed);
  }

  /** close stops listening and polling, ends every subscription's wait and waits for the reads under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.feeds.values()) f.wake();
    this.feeds.clear();
    await this.stopBackground();
    await Promise.all(this.working);
  }

  /** track keeps `work` in `working` until it settles. */
  private track(work: Promise<void>): Promise<void> {
    this.working.add(work);
    const done = () => void this.working.delete(work);
    work.then(done, done);
    return work;
  }

  /**
   * changesAfter reads up to `limit` changes of a key after `after` from the change log itself (not
   * the ring), loaded as items: a watcher behind the ring catches up with it.
   */
  async changesAfter(key: string, after: bigint, limit: number): Promise<FeedItem<T>[]> {
    const rows = await this.opts.changesAfter(key, after, limit);
    return rows.length === 0 ? [] : this.opts.load(key, rows);
  }

  /** listening tells whether a LISTEN connection is up (for tests and health). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  private async nextFor(feed: KeyFeed<T>, cursor: bigint, signal: AbortSignal, isClosed: () => boolean, seen: { resets: number }): Promise<Next<T>> {
    for (;;) {
      if (isClosed() || this.closed || signal.aborted) return { kind: "closed" };
      if (seen.resets !== feed.resets) {
        seen.resets = feed.resets;
        return { kind: "behind", latest: feed.latest };
      }
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

  private fetch(feed: KeyFeed<T>): void {
    // Until the first subscriber has set the starting point there is nothing to fetch from.
    if (feed.latest < 0n) return;
    if (feed.fetching) {
      feed.again = true;
      return;
    }
    feed.fetching = this.track((async () => {
      do {
        feed.again = false;
        const check = feed.check;
        feed.check = false;
        try {
          // Read inside this serialized fetch, before the rows: every change up to `known` is then
          // visible below, and feed.latest cannot move meanwhile.
          let known: bigint | undefined;
          if (check) {
            known = (await this.opts.latestSequences([feed.key])).get(feed.key);
            if (known === undefined) {
              if (!feed.gone) {
                feed.gone = true;
                feed.reset(feed.latest);
              }
              continue;
            }
            feed.gone = false;
            if (known < feed.latest) feed.reset(known);
          }
          for (;;) {
            const rows = await this.opts.changesAfter(feed.key, feed.latest, FETCH_BATCH);
            if (rows.length === 0) break;
            const items = await this.opts.load(feed.key, rows);
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
          // Sequences up to `known` were handed out without changes: the history jumped (a restore).
          if (known !== undefined && known > feed.latest) feed.reset(known);
        } catch (err) {
          this.opts.logger?.warn({ err, key: feed.key }, `${this.opts.name} change feed: fetch failed; retrying on the next poll`);
        }
      } while (feed.again && !this.closed);
      feed.fetching = undefined;
    })());
  }

  private startBackground(): void {
    if (this.closed) return;
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.track(this.poll()), this.pollIntervalMs);
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
    if (this.closed || this.feeds.size === 0) return;
    if (this.opts.listenUrl && !this.listener && !this.listenerStarting) this.listenerStarting = this.startListener(this.opts.listenUrl);
    try {
      const latest = await this.opts.latestSequences([...this.feeds.keys()]);
      for (const feed of this.feeds.values()) {
        const sequence = latest.get(feed.key);
        // Anything but "as far as the feed got" is checked again inside the fetch (this read may be
        // older than a fetch that ran meanwhile): missed wake-ups, jumps, rewinds, a key gone.
        if (sequence === undefined ? feed.gone : sequence === feed.latest && !feed.gone) continue;
        feed.check = true;
        this.fetch(feed);
      }
    } catch (err) {
      this.opts.logger?.warn({ err }, `${this.opts.name} change feed: poll failed`);
    }
  }

  private async startListener(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: `medschedule-${this.opts.name}-listen`, connectionTimeoutMillis: 5000, keepAlive: true });
    const drop = (err?: unknown) => {
      if (err) this.opts.logger?.warn({ err }, `${this.opts.name} change feed: LISTEN connection lost; polling until it is back`);
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
    };
    try {
      client.on("error", drop);
      client.on("notification", (msg) => {
        if (msg.channel === this.opts.channel && msg.payload) this.poke(msg.payload);
      });
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.opts.channel)}`);
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

/** WatchStreamOptions are what watchStream needs of one Watch call; M is its response message. */
export interface WatchStreamOptions<T, M> {
  /** feed is the service's change feed (its subscribe and changesAfter). */
  feed: Pick<ChangeFeed<T, never>, "subscribe" | "changesAfter">;
  /** key is what the stream follows (a queue, a provider). */
  key: string;
  /** afterSequence is the client's resume point: the last sequence it saw; 0 starts with a snapshot. */
  afterSequence: bigint;
  /** maxLag is how many changes a watcher may fall behind before it gets a fresh snapshot instead of each change. */
  maxLag: number;
  /** signal ends the stream (the client left, the server stops). */
  signal: AbortSignal;
  /** retains tells whether the change log still holds every change of the key after `after` (a resume from there is possible). */
  retains: (after: bigint) => Promise<boolean>;
  /** snapshot reads the key's state with its sequence, in one snapshot; `resumeFailed` is set when it replaces a resume that was not possible. */
  snapshot: (resumeFailed: boolean) => Promise<{ sequence: bigint; message: M }>;
  /** change is the message for one change, or undefined when this watcher is not to see it (the stream moves past it all the same). */
  change: (item: FeedItem<T>) => Promise<M | undefined> | M | undefined;
}

/**
 * watchStream is the Watch RPCs' resume protocol (WatchQueue, WatchAppointments): subscribes to the
 * key, then yields a snapshot (afterSequence 0), or resumes after afterSequence while the change log
 * retains what follows it (else a snapshot with resumeFailed), then each change after the cursor, in
 * order. A watcher more than maxLag changes behind gets a fresh snapshot (nobody waits for a slow
 * one); one behind the shared ring but closer catches up from the change log, and when that has no
 * continuation from its cursor (pruned, or a restore broke the history) it gets a fresh snapshot with
 * resumeFailed. Ends when the signal aborts or the feed closes.
 */
export async function* watchStream<T, M>(o: WatchStreamOptions<T, M>): AsyncGenerator<M> {
  const sub = await o.feed.subscribe(o.key);
  try {
    let cursor = o.afterSequence;
    let needSnapshot = cursor === 0n;
    let resumeFailed = false;
    if (!needSnapshot && !(await o.retains(cursor))) {
      needSnapshot = true;
      resumeFailed = true;
    }
    for (;;) {
      if (needSnapshot) {
        let snap: { sequence: bigint; message: M } | undefined = await o.snapshot(resumeFailed);
        cursor = snap.sequence;
        let message: M | undefined = snap.message;
        snap = undefined;
        yield message;
        // A suspended generator keeps what its variables hold: a quiet watcher would keep the snapshot.
        message = undefined;
        needSnapshot = false;
        resumeFailed = false;
      }
      const next = await sub.next(cursor, o.signal);
      if (next.kind === "closed") return;
      const latest = next.kind === "items" ? next.items[next.items.length - 1].sequence : next.latest;
      if (latest - cursor > BigInt(o.maxLag)) {
        // Too far behind (a slow reader): a fresh snapshot is cheaper than replaying, and nobody waited.
        needSnapshot = true;
        continue;
      }
      let items: FeedItem<T>[];
      if (next.kind === "items") {
        items = next.items;
      } else {
        // Behind the shared ring but close: catch up from the change log itself.
        items = await o.feed.changesAfter(o.key, cursor, o.maxLag);
        if (items.length === 0 || items[0].sequence !== cursor + 1n) {
          needSnapshot = true;
          resumeFailed = true;
          continue;
        }
      }
      for (const item of items) {
        if (item.sequence <= cursor) continue;
        cursor = item.sequence;
        const message = await o.change(item);
        if (message !== undefined) yield message;
      }
    }
  } finally {
    sub.close();
  }
}
