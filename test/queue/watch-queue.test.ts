// WatchQueue across replicas on real Postgres: two service instances on two ports share one database;
// a watcher on one sees a ticket issued on the other within a second (LISTEN/NOTIFY); a reconnect
// with the last sequence misses nothing; a too-old or future sequence gets a fresh snapshot saying so;
// a slow watcher gets a fresh snapshot instead of slowing anyone; displays see no patient ids.
import t from "tap";
import { create } from "@bufbuild/protobuf";
import { sql } from "kysely";
import type { WatchQueueResponse } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { IssueTicketRequestSchema, QueueService, WatchQueueRequestSchema } from "../../gen/medschedule/queue/v1/queue_service_pb.js";
import { TicketStatus } from "../../gen/medschedule/queue/v1/queue_pb.js";
import { signToken } from "../../services/runtime/auth/dev-tokens.js";
import { QueueServiceImpl } from "../../services/queue/queue-service.js";
import { createQueueDatabase, queueCtx, startQueueServers, type QueueServer } from "../helpers/queue.js";
import { TEST_SECRET } from "../helpers/system.js";

t.setTimeout(90_000);
const database = await createQueueDatabase(t);
const token = await signToken(TEST_SECRET, "watch-test", ["receptionist"]);
const [a, b] = await startQueueServers(t, database.databaseUrl, 2, token);
const queueId = "watched";
await a.client.createQueue({ queueId, displayName: "Watched", prefix: "W", timeZone: "UTC" });

/** Watch collects a stream's messages; `next()` waits for the next one. */
class Watch {
  readonly messages: WatchQueueResponse[] = [];
  private readonly abort = new AbortController();
  private waiter: (() => void) | undefined;
  private read = 0;
  error: unknown;
  constructor(server: QueueServer, afterSequence = 0n) {
    void (async () => {
      try {
        for await (const msg of server.client.watchQueue({ queueId, afterSequence }, { signal: this.abort.signal })) {
          this.messages.push(msg);
          this.waiter?.();
        }
      } catch (err) {
        this.error = err;
        this.waiter?.();
      }
    })();
  }
  async next(timeoutMs = 5000): Promise<WatchQueueResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.messages.length) {
      if (this.error) throw this.error;
      if (Date.now() > deadline) throw new Error("no message in time");
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.messages[this.read++];
  }
  close(): void {
    this.abort.abort();
  }
}

let req = 0;
const issue = (server: QueueServer, patientId = "") => server.client.issueTicket({ requestId: `w-${++req}`, queueId, patientId });

t.test("a ticket issued on replica A reaches a watcher on replica B within a second", async (t) => {
  const w = new Watch(b);
  const snap = await w.next();
  t.ok(snap.snapshot, "a snapshot first");
  t.equal(snap.tickets.length, 0);
  let last = snap.sequence;
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    const issued = await issue(a, `pat-${i}`);
    const msg = await w.next(2000);
    latencies.push(Date.now() - started);
    t.equal(msg.snapshot, false);
    t.equal(msg.tickets[0]?.ticketId, issued.ticket?.ticketId, "the change carries the new ticket");
    t.equal(msg.tickets[0]?.position, i + 1, "with its position");
    t.ok(msg.sequence > last, "sequences increase");
    last = msg.sequence;
  }
  t.ok(Math.max(...latencies) < 1000, `delivered within 1 s (max ${Math.max(...latencies)} ms)`);
  w.close();
});

t.test("reconnecting with the last sequence misses nothing", async (t) => {
  const w = new Watch(b);
  const snap = await w.next();
  const before = snap.tickets.length;
  const lastSeen = snap.sequence;
  w.close();
  const missed = [];
  for (let i = 0; i < 3; i++) missed.push((await issue(a)).ticket!.ticketId);
  await a.client.openCounter({ queueId, counterId: "d1" });
  const called = await a.client.callNext({ queueId, counterId: "d1" });
  const again = new Watch(b, lastSeen);
  const got: WatchQueueResponse[] = [];
  for (let i = 0; i < 5; i++) got.push(await again.next());
  t.notOk(got.some((m) => m.snapshot), "no snapshot on a resume");
  t.strictSame(got.map((m) => m.sequence), [1n, 2n, 3n, 4n, 5n].map((d) => lastSeen + d), "every sequence after the last one, in order");
  t.strictSame(got.slice(0, 3).map((m) => m.tickets[0]?.ticketId), missed);
  t.equal(got[3].counters[0]?.counterId, "d1", "the counter change");
  t.equal(got[4].tickets[0]?.ticketId, called.ticket?.ticketId);
  t.ok(before >= 5);
  again.close();
});

t.test("a too-old or future sequence gets a fresh snapshot with resumeFailed", async (t) => {
  // The retention window passes for the oldest changes.
  await sql`delete from queue.changes where queue_id = ${queueId} and sequence <= 3`.execute(database.db);
  const old = new Watch(a, 1n);
  const snap = await old.next();
  t.ok(snap.snapshot, "a snapshot");
  t.ok(snap.resumeFailed, "saying the resume failed");
  const waiting = snap.tickets.filter((x) => x.status === TicketStatus.WAITING).length;
  t.equal(waiting, (await a.client.getQueue({ queueId })).waitingCount, "with every waiting ticket");
  t.ok(snap.tickets.some((x) => x.status === TicketStatus.CALLED), "and the called ones");
  old.close();
  const future = new Watch(a, 10_000n);
  const f = await future.next();
  t.ok(f.snapshot && f.resumeFailed, "a sequence from the future is not retained either");
  future.close();
});

t.test("displays see numbers, not patient ids", async (t) => {
  const displayToken = await signToken(TEST_SECRET, "board", ["display"]);
  const [d] = await startQueueServers(t, database.databaseUrl, 1, displayToken);
  const w = new Watch(d);
  const snap = await w.next();
  t.ok(snap.tickets.length > 0);
  t.ok(snap.tickets.every((x) => x.patientId === "" && x.number.startsWith("W-")), "ids hidden");
  await issue(a, "pat-secret");
  const msg = await w.next();
  t.equal(msg.tickets[0]?.patientId, "", "changes hide them too");
  w.close();
});

t.test("a slow watcher gets a fresh snapshot; a fast one gets every change", async (t) => {
  const svc = new QueueServiceImpl({ db: database.db }, { listen: false, watchMaxLag: 5, pollIntervalMs: 100 });
  t.teardown(() => svc.close());
  const m = QueueService.method;
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const slow = svc.watchQueue(create(WatchQueueRequestSchema, { queueId }), queueCtx(m.watchQueue, { role: "receptionist", subject: "r" }, ctl.signal));
  const fast = svc.watchQueue(create(WatchQueueRequestSchema, { queueId }), queueCtx(m.watchQueue, { role: "receptionist", subject: "r" }, ctl.signal));
  const slowSnap = (await slow.next()).value!;
  const fastSnap = (await fast.next()).value!;
  t.ok(slowSnap.snapshot && fastSnap.snapshot);
  // The fast watcher reads each change before the next ticket is issued (in lockstep, so a loaded
  // machine's sequencer cannot stamp more than one change per batch and put it behind by a burst).
  const fastSeen: bigint[] = [];
  for (let i = 0; i < 20; i++) {
    await svc.issueTicket(create(IssueTicketRequestSchema, { requestId: `slow-${i}`, queueId }), queueCtx(m.issueTicket, { role: "receptionist", subject: "r" }));
    const r = await fast.next();
    t.notOk(r.value?.snapshot, `change ${i + 1} came as a change, not a snapshot`);
    fastSeen.push(r.value!.sequence as bigint);
  }
  const first = fastSnap.sequence as bigint;
  t.strictSame(fastSeen, Array.from({ length: 20 }, (_, i) => first + BigInt(i + 1)), "the fast watcher saw all 20 changes in order");
  const after = (await slow.next()).value!;
  t.ok(after.snapshot, "the slow watcher, 20 behind with a lag bound of 5, gets a fresh snapshot");
  t.notOk(after.resumeFailed);
  t.equal(after.sequence, fastSeen[19], "as of the latest change");
  ctl.abort();
  await slow.return(undefined);
  await fast.return(undefined);
});
