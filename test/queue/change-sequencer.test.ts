// WatchQueue's post-commit sequencing on real Postgres (services/queue/change-sequencer.ts): writers
// of two instances change one queue concurrently while watchers follow it; every watcher sees the
// queue's changes under consecutive sequences, a resume with the last sequence misses nothing, and
// snapshot plus changes add up to the queue's real state. A change committed by a process that
// never stamps it (it died after its commit) is still delivered, by another instance's sweep.
// Concurrent stampers never hand out a sequence twice nor leave a gap; an old database upgrades.
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { sql, type Kysely } from "kysely";
import type { WatchQueueResponse } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import {
  CallNextRequestSchema,
  CompleteTicketRequestSchema,
  CreateQueueRequestSchema,
  IssueTicketRequestSchema,
  OpenCounterRequestSchema,
  QueueService,
  WatchQueueRequestSchema,
  WatchQueueResponseSchema,
} from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { queueModule } from "../../services/queue/queue.module.js";
import { appendChange, stampChanges } from "../../services/queue/repositories/change.repository.js";
import { createDatabase, migrateToLatest } from "../../services/runtime/db/index.js";
import { createQueueDatabase, queueCtx } from "../helpers/queue.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { openAnotherPool } from "../helpers/module-database.js";

t.setTimeout(120_000);
const m = QueueService.method;
const staff = { role: "receptionist" as const, subject: "rec-seq" };
const database = await createQueueDatabase(t);
// A second pool on the same database: another instance of the service.
const second = await openAnotherPool(t, database);

let reqN = 0;

/** Follower collects a WatchQueue stream of one instance. */
class Follower {
  readonly messages: WatchQueueResponse[] = [];
  private readonly abort = new AbortController();
  readonly done: Promise<void>;
  constructor(svc: QueueServiceImpl, queueId: string, afterSequence = 0n) {
    const stream = svc.watchQueue(create(WatchQueueRequestSchema, { queueId, afterSequence }), queueCtx(m.watchQueue, staff, this.abort.signal));
    this.done = (async () => {
      for await (const msg of stream) this.messages.push(create(WatchQueueResponseSchema, msg));
    })();
  }
  get last(): bigint {
    return this.messages[this.messages.length - 1]?.sequence ?? 0n;
  }
  async until(pred: () => boolean, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }
  async close(): Promise<void> {
    this.abort.abort();
    await this.done.catch(() => undefined);
  }
}

async function lastSequence(db: Kysely<any>, queueId: string): Promise<bigint> {
  const r = await sql<{ s: string }>`select last_sequence as s from queue.queues where queue_id = ${queueId}`.execute(db);
  return BigInt(r.rows[0].s);
}

async function pendingCount(db: Kysely<any>, queueId: string): Promise<number> {
  const r = await sql<{ n: string }>`select count(*) as n from queue.changes where queue_id = ${queueId} and sequence is null`.execute(db);
  return Number(r.rows[0].n);
}

t.test("two instances writing one queue: consecutive sequences, lossless resume, snapshot + changes = state", async (t) => {
  const a = new QueueServiceImpl({ db: database.db }, { listen: false, pollIntervalMs: 200 });
  const b = new QueueServiceImpl({ db: second.db }, { listen: false, pollIntervalMs: 200 });
  t.teardown(() => a.close());
  t.teardown(() => b.close());
  const queueId = "seq-two-writers";
  await a.createQueue(create(CreateQueueRequestSchema, { queueId, displayName: "Two writers", prefix: "S", timeZone: "UTC" }), queueCtx(m.createQueue, staff));
  const counters = ["c1", "c2", "c3", "c4"];
  for (const c of counters) await a.openCounter(create(OpenCounterRequestSchema, { queueId, counterId: c }), queueCtx(m.openCounter, staff));
  await a.settleChanges(queueId);

  const early = new Follower(b, queueId); // from the start, on instance B
  await early.until(() => early.messages.length > 0);
  let late: Follower | undefined; // joins in the middle of the writes, on instance A
  let resumed: Follower | undefined; // B: early's first half, resumed on A with its last sequence
  let cutAt = 0n;

  const issued: string[] = [];
  const cycles = 25;
  let changes = 0;
  await Promise.all(
    counters.map(async (counterId, i) => {
      const svc = i % 2 === 0 ? a : b;
      for (let k = 0; k < cycles; k++) {
        if (i === 0 && k === 8) late = new Follower(a, queueId);
        if (i === 1 && k === 12) {
          // Disconnect the early watcher's twin at whatever it has seen so far, and resume elsewhere.
          cutAt = early.last;
          resumed = new Follower(a, queueId, cutAt);
        }
        const r = await svc.issueTicket(create(IssueTicketRequestSchema, { requestId: `seq-${++reqN}`, queueId, patientId: `p-${i}-${k}` }), queueCtx(m.issueTicket, staff));
        issued.push(r.ticket!.ticketId as string);
        changes++;
        const called = await svc.callNext(create(CallNextRequestSchema, { queueId, counterId }), queueCtx(m.callNext, staff));
        if (!called.ticket) continue;
        changes++;
        // Leave some called tickets open at the end, so the final state is not empty.
        if (k === cycles - 1 && i < 2) continue;
        await svc.completeTicket(create(CompleteTicketRequestSchema, { ticketId: called.ticket.ticketId, counterId }), queueCtx(m.completeTicket, staff));
        changes++;
      }
    }),
  );
  await a.settleChanges(queueId);
  await b.settleChanges(queueId);
  const last = await lastSequence(database.db, queueId);
  t.equal(await pendingCount(database.db, queueId), 0, "every change is stamped");
  t.equal(last, BigInt(changes + counters.length), `one sequence per change (${changes} ticket and ${counters.length} counter changes)`);

  const seqs = await sql<{ sequence: string }>`select sequence from queue.changes where queue_id = ${queueId} order by sequence`.execute(database.db);
  t.strictSame(
    seqs.rows.map((r) => BigInt(r.sequence)),
    Array.from({ length: Number(last) }, (_, i) => BigInt(i + 1)),
    "the change log holds 1..last_sequence, each once",
  );

  for (const [name, f] of [["early (B)", early], ["late (A)", late!], ["resumed (A)", resumed!]] as const) {
    t.ok(await f.until(() => f.last === last), `${name} reaches the last sequence ${last}`);
    const body = f.messages.filter((msg) => !msg.snapshot);
    const start = f === resumed ? cutAt : f.messages[0].sequence;
    t.equal(f.messages[0].snapshot, f !== resumed, `${name}: ${f === resumed ? "no snapshot on a resume" : "a snapshot first"}`);
    t.strictSame(
      body.map((msg) => msg.sequence),
      Array.from({ length: Number(last - start) }, (_, i) => start + BigInt(i + 1)),
      `${name}: every sequence after ${start}, in order, no gap, none twice`,
    );
    // Apply snapshot + changes: the result is the queue's real state.
    const state = new Map<string, TicketStatus>();
    for (const msg of f.messages) for (const tk of msg.tickets) state.set(tk.ticketId, tk.status);
    if (f !== resumed) {
      const active = await sql<{ ticket_id: string; status: string }>`
        select ticket_id, status from queue.tickets where queue_id = ${queueId} and status in ('WAITING', 'CALLED')`.execute(database.db);
      const seenActive = [...state].filter(([, s]) => s === TicketStatus.WAITING || s === TicketStatus.CALLED).map(([id]) => id).sort();
      t.strictSame(seenActive, active.rows.map((r) => r.ticket_id).sort(), `${name}: snapshot + changes give the live tickets`);
      t.ok(active.rows.length >= 2, "some tickets are still called");
    }
  }
  const everything = new Set(early.messages.flatMap((msg) => msg.tickets.map((tk) => tk.ticketId)));
  t.ok(issued.every((id) => everything.has(id)), "the early watcher saw every issued ticket");

  const numbers = await sql<{ day_number: number }>`select day_number from queue.tickets where queue_id = ${queueId} order by day_number`.execute(database.db);
  t.strictSame(numbers.rows.map((r) => r.day_number), Array.from({ length: issued.length }, (_, i) => i + 1), "ticket numbers 1..n, each once");
  await early.close();
  await late?.close();
  await resumed?.close();
});

t.test("a change whose writer never stamps it (died after its commit) is delivered by another instance's sweep", async (t) => {
  // A stamps nothing and never sweeps: a process that died right after its commit.
  const dead = new QueueServiceImpl({ db: second.db }, { listen: false, stampAfterCommit: false, sweepIntervalMs: 0 });
  const alive = new QueueServiceImpl({ db: database.db }, { listen: false, pollIntervalMs: 100 });
  t.teardown(() => dead.close());
  t.teardown(() => alive.close());
  const queueId = "seq-dead-writer";
  await alive.createQueue(create(CreateQueueRequestSchema, { queueId, displayName: "Dead writer", prefix: "D", timeZone: "UTC" }), queueCtx(m.createQueue, staff));
  const w = new Follower(alive, queueId);
  t.ok(await w.until(() => w.messages.length === 1), "snapshot");
  const before = w.last;
  // Stop the sweep from racing the check below: hold the queue row as a stamper would.
  const held = await second.pool!.connect();
  try {
    await held.query("begin");
    await held.query("select 1 from queue.queues where queue_id = $1 for no key update", [queueId]);
    const r = await dead.issueTicket(create(IssueTicketRequestSchema, { requestId: `seq-${++reqN}`, queueId, patientId: "p-dead" }), queueCtx(m.issueTicket, staff));
    t.equal(await pendingCount(database.db, queueId), 1, "the change is committed but has no sequence");
    await new Promise((res) => setTimeout(res, 300));
    t.equal(w.messages.length, 1, "nothing is delivered while the stamper is stuck");
    await held.query("commit");
    t.ok(await w.until(() => w.messages.length === 2, 5_000), "delivered once the sweep could stamp it");
    const msg = w.messages[1];
    t.equal(msg.sequence, before + 1n, "under the next sequence");
    t.equal(msg.tickets[0]?.ticketId, r.ticket?.ticketId, "carrying the ticket");
    t.equal(await pendingCount(database.db, queueId), 0);
  } finally {
    held.release();
  }
  await w.close();
});

t.test("concurrent stampers on two pools: each change stamped once, without gaps", async (t) => {
  const queueId = "seq-stampers";
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at) values (${queueId}, 'Stampers', 'X', 'UTC', now())`.execute(database.db);
  const dbs = [database.db, second.db];
  let stamping = true;
  const stampers = Array.from({ length: 6 }, async (_, i) => {
    let n = 0;
    while (stamping) n += await stampChanges(dbs[i % 2], queueId, 7);
    return n;
  });
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let k = 0; k < 40; k++) await appendChange(dbs[w % 2], { queueId, at: new Date(), kind: "counter", counterId: `w${w}` });
    }),
  );
  stamping = false;
  const stampedByLoops = (await Promise.all(stampers)).reduce((x, y) => x + y, 0);
  const rest = await stampChanges(database.db, queueId, 10_000);
  t.equal(stampedByLoops + rest, 320, "320 changes stamped, each once");
  const rows = await sql<{ sequence: string; counter_id: string }>`select sequence, counter_id from queue.changes where queue_id = ${queueId} order by sequence`.execute(database.db);
  t.strictSame(rows.rows.map((r) => BigInt(r.sequence)), Array.from({ length: 320 }, (_, i) => BigInt(i + 1)), "sequences 1..320, each once");
  // One writer's changes commit one after another: their sequences keep that order (insertion order
  // across writers is not commit order, and sequences follow commits, batch by batch).
  const byWriter = new Map<string, number[]>();
  for (const r of rows.rows) byWriter.set(r.counter_id, [...(byWriter.get(r.counter_id) ?? []), Number(r.sequence)]);
  t.ok([...byWriter.values()].every((seqs) => seqs.length === 40 && seqs.every((x, i) => i === 0 || x > seqs[i - 1])), "each writer's changes in its commit order");
  t.equal(await lastSequence(database.db, queueId), 320n);
});

t.test("an existing database upgrades: old changes keep their sequences, new ones are stamped after them", async (t) => {
  const url = await createTestDatabase(t);
  // Inside dist/, so that the copied migrations resolve their `kysely` import.
  const dir = await mkdtemp(path.join(path.dirname(fileURLToPath(import.meta.url)), ".upgrade-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const oldMigrations = path.join(dir, "migrations");
  await mkdir(oldMigrations);
  const folder = queueModule.migrationsFolder;
  for (const name of ["2026-11-23T1700-init.js", "2026-11-23T1800-queues-tickets.js"]) await copyFile(path.join(folder, name), path.join(oldMigrations, name));
  const old = await createDatabase({ databaseUrl: url, dataDir: dir });
  t.teardown(() => old.close());
  await migrateToLatest(old.db, { schema: "queue", migrationsFolder: oldMigrations });
  // What the old code wrote: a queue at sequence 2 with its two changes.
  await sql`insert into queue.queues (queue_id, display_name, prefix, time_zone, created_at, last_sequence) values ('old', 'Old', 'O', 'UTC', now(), 2)`.execute(old.db);
  await sql`insert into queue.changes (queue_id, sequence, at, kind, counter_id) values ('old', 1, now(), 'counter', 'k1'), ('old', 2, now(), 'counter', 'k1')`.execute(old.db);
  await migrateToLatest(old.db, { schema: "queue", migrationsFolder: folder });
  await migrateToLatest(old.db, { schema: "queue", migrationsFolder: folder }); // a second start changes nothing
  const svc = new QueueServiceImpl({ db: old.db }, { listen: false, sweepIntervalMs: 0 });
  t.teardown(() => svc.close());
  await svc.issueTicket(create(IssueTicketRequestSchema, { requestId: "upgrade-1", queueId: "old" }), queueCtx(m.issueTicket, staff));
  await svc.settleChanges("old");
  const rows = await sql<{ sequence: string; kind: string }>`select sequence, kind from queue.changes where queue_id = 'old' order by sequence`.execute(old.db);
  t.strictSame(rows.rows.map((r) => [r.sequence, r.kind]), [["1", "counter"], ["2", "counter"], ["3", "ticket"]]);
  t.equal(await lastSequence(old.db, "old"), 3n);
});
