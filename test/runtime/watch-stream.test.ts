// watchStream, the Watch RPCs' resume protocol written once (WatchAppointments now, WatchQueue
// next), against a real Postgres change log: what a watcher is sent must let it rebuild the key's
// state exactly. The protocol's promises tried here: a snapshot first (afterSequence 0); a resume
// after a retained sequence sends just the changes after it; a resume from a point the log no longer
// holds sends a fresh snapshot marked resumeFailed; a watcher more than maxLag behind gets a fresh
// snapshot instead of the backlog; a change the watcher may not see moves the stream past it.
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import pg from "pg";
import { ChangeFeed, watchStream } from "../../services/runtime/change-feed.js";
import { createTestDatabase } from "../helpers/postgres.js";

t.setTimeout(60_000);

// One table is the whole change log: a key's latest sequence is its highest row.
const url = await createTestDatabase(t);
const client = new pg.Client({ connectionString: url });
t.teardown(() => client.end());
await client.connect();
await client.query(`create table watch_log (key text not null, sequence bigint not null, note text not null, primary key (key, sequence))`);

/** change appends a change of `key` under its next sequence. */
async function change(key: string, note: string): Promise<bigint> {
  const r = await client.query<{ s: string }>(
    `insert into watch_log select $1, coalesce(max(sequence), 0) + 1, $2 from watch_log where key = $1 returning sequence::text as s`,
    [key, note],
  );
  return BigInt(r.rows[0].s);
}

/** latest is a key's latest sequence (0: none yet). */
async function latest(key: string): Promise<bigint> {
  const r = await client.query<{ s: string | null }>(`select max(sequence)::text as s from watch_log where key = $1`, [key]);
  return BigInt(r.rows[0].s ?? "0");
}

type Message = { snapshot: boolean; resumeFailed?: boolean; sequence: bigint; notes: string[] };

function createFeed(): ChangeFeed<string, { sequence: string; note: string }> {
  const feed = new ChangeFeed<string, { sequence: string; note: string }>({
    name: "test",
    channel: "test_watch_stream",
    changesAfter: async (key, after, limit) =>
      (await client.query(`select sequence::text, note from watch_log where key = $1 and sequence > $2 order by sequence limit $3`, [key, after.toString(), limit])).rows,
    latestSequences: async (keys) => new Map(await Promise.all(keys.map(async (k) => [k, await latest(k)] as [string, bigint]))),
    load: async (_key, rows) => rows.map((r) => ({ sequence: BigInt(r.sequence), value: r.note })),
    pollIntervalMs: 50,
  });
  t.teardown(() => feed.close());
  return feed;
}

/** open starts a watch of `key` after `afterSequence`; notes starting with "secret" are not for this watcher. */
function open(feed: ReturnType<typeof createFeed>, key: string, afterSequence: bigint, maxLag = 100) {
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const stream = watchStream<string, Message>({
    feed,
    key,
    afterSequence,
    maxLag,
    signal: stop.signal,
    retains: async (after) => {
      const r = await client.query<{ m: string | null }>(`select min(sequence)::text as m from watch_log where key = $1`, [key]);
      const last = await latest(key);
      return after === last || (after < last && r.rows[0].m !== null && BigInt(r.rows[0].m) <= after + 1n);
    },
    snapshot: async (resumeFailed) => {
      const sequence = await latest(key);
      const r = await client.query<{ note: string }>(`select note from watch_log where key = $1 and sequence <= $2 and note not like 'secret%' order by sequence`, [key, sequence.toString()]);
      return { sequence, message: { snapshot: true, resumeFailed, sequence, notes: r.rows.map((x) => x.note) } };
    },
    change: (item) => (item.value.startsWith("secret") ? undefined : { snapshot: false, sequence: item.sequence, notes: [item.value] }),
  });
  return { stream, stop };
}

/** within waits for `p`, failing only on a hang (generous bound). */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  const guard = new AbortController();
  const hang = sleep(15_000, undefined, { signal: guard.signal }).then(() => Promise.reject(new Error(`hang: ${what}`)));
  hang.catch(() => undefined);
  try {
    return await Promise.race([p, hang]);
  } finally {
    guard.abort();
  }
}

async function next(stream: AsyncGenerator<Message>, what: string): Promise<Message> {
  const r = await within(stream.next(), what);
  if (r.done) throw new Error(`stream ended before ${what}`);
  return r.value;
}

t.test("afterSequence 0: a snapshot, then each change after it in order; a change not for this watcher moves the stream past it", async (t) => {
  const feed = createFeed();
  const key = "k-fresh";
  await change(key, "a");
  const { stream, stop } = open(feed, key, 0n);
  t.same(await next(stream, "the snapshot"), { snapshot: true, resumeFailed: false, sequence: 1n, notes: ["a"] });
  await change(key, "secret-b");
  await change(key, "c");
  feed.poke(key);
  t.same(await next(stream, "the next visible change"), { snapshot: false, sequence: 3n, notes: ["c"] }, "sequence 2 skipped, not replayed");
  stop.abort();
  t.equal((await within(stream.next(), "the end")).done, true, "ends when the client leaves");
});

t.test("a resume after a retained sequence sends only the changes after it, no snapshot", async (t) => {
  const feed = createFeed();
  const key = "k-resume";
  for (const n of ["a", "b", "c", "d"]) await change(key, n);
  const { stream } = open(feed, key, 2n);
  t.same(await next(stream, "the first change after 2"), { snapshot: false, sequence: 3n, notes: ["c"] });
  t.same(await next(stream, "the second"), { snapshot: false, sequence: 4n, notes: ["d"] });
});

t.test("a resume from a point the log no longer holds: a fresh snapshot marked resumeFailed, then changes", async (t) => {
  const feed = createFeed();
  const key = "k-pruned";
  for (const n of ["a", "b", "c", "d"]) await change(key, n);
  await client.query(`delete from watch_log where key = $1 and sequence <= 2`, [key]);
  const { stream } = open(feed, key, 1n);
  t.same(await next(stream, "the snapshot"), { snapshot: true, resumeFailed: true, sequence: 4n, notes: ["c", "d"] });
  await change(key, "e");
  feed.poke(key);
  t.same(await next(stream, "the change after it"), { snapshot: false, sequence: 5n, notes: ["e"] });
});

t.test("a watcher more than maxLag behind gets a fresh snapshot instead of the backlog", async (t) => {
  const feed = createFeed();
  const key = "k-lag";
  await change(key, "a");
  const { stream } = open(feed, key, 0n, 3);
  t.same(await next(stream, "the snapshot"), { snapshot: true, resumeFailed: false, sequence: 1n, notes: ["a"] });
  for (const n of ["b", "c", "d", "e", "f"]) await change(key, n);
  feed.poke(key);
  const m = await next(stream, "what the slow watcher gets");
  t.equal(m.snapshot, true, "a snapshot, not five changes");
  t.equal(m.resumeFailed, false, "not a failed resume: the watcher was only slow");
  t.same(m.notes, ["a", "b", "c", "d", "e", "f"].slice(0, Number(m.sequence)));
  t.ok(m.sequence >= 6n, "up to date");
});
