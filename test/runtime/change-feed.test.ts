// The change feed behind WatchQueue and WatchAppointments against a real Postgres change log: a
// watcher is never left waiting in silence when a key's history breaks. A restore moves a key's
// sequence past changes that do not exist (the gap), data restored without that moves it backwards,
// and a key can vanish: each time every watcher of the key is told "behind" once (the services then
// send a fresh snapshot), within a poll, with no change needed to wake it. The ordinary path never
// says "behind" while the poll races the fetches.
import t from "tap";
import pg from "pg";
import { ChangeFeed, type Next } from "../../services/runtime/change-feed.js";
import { createTestDatabase } from "../helpers/postgres.js";

t.setTimeout(60_000);

const client = new pg.Client({ connectionString: await createTestDatabase(t) });
await client.connect();
t.teardown(() => client.end());
await client.query(`
  create table feed_keys (key text primary key, last_sequence bigint not null);
  create table feed_changes (key text not null, sequence bigint not null, note text, primary key (key, sequence))`);

/** change records a change of `key` under its next sequence, as the services do. */
async function change(key: string, note = ""): Promise<bigint> {
  const r = await client.query<{ s: string }>(
    `with bumped as (insert into feed_keys values ($1, 1) on conflict (key) do update set last_sequence = feed_keys.last_sequence + 1 returning last_sequence)
     insert into feed_changes select $1, last_sequence, $2 from bumped returning sequence::text as s`,
    [key, note],
  );
  return BigInt(r.rows[0].s);
}

function createFeed(pollIntervalMs = 50): ChangeFeed<string, { sequence: string; note: string }> {
  const feed = new ChangeFeed<string, { sequence: string; note: string }>({
    name: "test",
    channel: "test_feed",
    changesAfter: async (key, after, limit) =>
      (await client.query(`select sequence::text, note from feed_changes where key = $1 and sequence > $2 order by feed_changes.sequence limit $3`, [key, after.toString(), limit])).rows,
    latestSequences: async (keys) =>
      new Map((await client.query<{ key: string; s: string }>(`select key, last_sequence::text as s from feed_keys where key = any($1)`, [keys])).rows.map((r) => [r.key, BigInt(r.s)])),
    load: async (_key, rows) => rows.map((r) => ({ sequence: BigInt(r.sequence), value: r.note })),
    pollIntervalMs,
  });
  t.teardown(() => feed.close());
  return feed;
}

/** within waits for `p`, failing only on a hang (generous bound). */
async function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

t.test("a sequence moved past changes that do not exist (a restore's gap): every watcher is told behind, unprompted", async (t) => {
  const feed = createFeed();
  const key = "k-gap";
  await change(key, "a");
  await change(key, "b");
  const one = await feed.subscribe(key);
  const two = await feed.subscribe(key);
  t.teardown(() => (one.close(), two.close()));
  const signal = AbortSignal.timeout(20_000);
  const n1 = one.next(2n, signal);
  const n2 = two.next(2n, signal);
  // What a restore does: the data goes back (sequence 2 -> 1) and the carry-over moves the sequence
  // one past the old high-water mark (3), where no change exists. Nobody pokes the feed.
  await client.query(`delete from feed_changes where key = $1 and sequence = 2`, [key]);
  await client.query(`update feed_keys set last_sequence = 3 where key = $1`, [key]);
  const [r1, r2] = await within(Promise.all([n1, n2]), "watchers told of the gap");
  t.same(r1, { kind: "behind", latest: 3n } satisfies Next<string>);
  t.same(r2, { kind: "behind", latest: 3n });
  // From the new point on, changes flow again.
  const next = one.next(3n, signal);
  const s = await change(key, "after");
  t.equal(s, 4n);
  const r = await within(next, "the change after the restore");
  t.same(r, { kind: "items", items: [{ sequence: 4n, value: "after" }] });
});

t.test("a sequence that went backwards (restored without the carry-over): behind, then the restored history's new changes", async (t) => {
  const feed = createFeed();
  const key = "k-back";
  for (let i = 0; i < 5; i++) await change(key, `c${i}`);
  const sub = await feed.subscribe(key);
  t.teardown(() => sub.close());
  const signal = AbortSignal.timeout(20_000);
  const waiting = sub.next(5n, signal);
  await client.query(`delete from feed_changes where key = $1 and sequence > 3`, [key]);
  await client.query(`update feed_keys set last_sequence = 3 where key = $1`, [key]);
  t.same(await within(waiting, "watcher told of the rewind"), { kind: "behind", latest: 3n });
  const next = sub.next(3n, signal);
  await change(key, "new-4");
  feed.poke(key);
  t.same(await within(next, "the next change"), { kind: "items", items: [{ sequence: 4n, value: "new-4" }] });
});

t.test("a key that vanished: its watchers are told once (the service then answers NOT_FOUND), not again on every poll", async (t) => {
  const feed = createFeed();
  const key = "k-gone";
  await change(key, "x");
  const sub = await feed.subscribe(key);
  t.teardown(() => sub.close());
  const waiting = sub.next(1n, AbortSignal.timeout(20_000));
  await client.query(`delete from feed_changes where key = $1`, [key]);
  await client.query(`delete from feed_keys where key = $1`, [key]);
  t.same(await within(waiting, "watcher told the key is gone"), { kind: "behind", latest: 1n });
  // Several polls later, still nothing new: a wait that ends only with its signal.
  const quiet = await sub.next(1n, AbortSignal.timeout(400));
  t.same(quiet, { kind: "closed" }, "no second 'behind' for the same loss");
});

t.test("the ordinary path: a poll racing fetches and pokes never says behind, and nothing is skipped", async (t) => {
  const feed = createFeed(1);
  const key = "k-busy";
  await change(key, "start");
  const sub = await feed.subscribe(key);
  t.teardown(() => sub.close());
  const signal = AbortSignal.timeout(30_000);
  const N = 300;
  const writer = (async () => {
    for (let i = 0; i < N; i++) {
      await change(key, `n${i}`);
      if (i % 3 === 0) feed.poke(key); // some wake-ups by poke, the rest by the 1 ms poll
    }
  })();
  let cursor = 1n;
  const seen: bigint[] = [];
  while (cursor < BigInt(N + 1)) {
    const r = await within(sub.next(cursor, signal), "changes keep coming");
    if (r.kind !== "items") {
      t.fail(`unexpected ${r.kind} at ${cursor}`);
      break;
    }
    for (const item of r.items) {
      if (item.sequence <= cursor) continue;
      seen.push(item.sequence);
      cursor = item.sequence;
    }
  }
  await writer;
  t.same(seen, Array.from({ length: N }, (_, i) => BigInt(i + 2)), "every change, in order, none twice");
});
